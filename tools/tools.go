//go:build tools

// Package tools pins the build tools netready's packaging runs with
// "go run", so that a release is built by the same tools on every machine
// and their dependencies stay out of netready's own go.mod. It is never
// compiled: the build tag keeps it out of every build. The commands of this
// module pin their own dependencies through their imports: mkpkg (make
// package) imports nfpm (v2.45.2, the newest release the module proxy
// serves here whose dependencies can all be fetched), ociimage (make image)
// go-containerregistry (v0.22.1, the newest served here).
package tools

import (
	// cyclonedx-gomod writes each binary's software bill of materials
	// (make release). v1.10.0 is the newest release the module proxy
	// serves here.
	_ "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod"
)
