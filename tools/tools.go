//go:build tools

// Package tools pins the build tools netready's packaging runs with
// "go run", so that a package is built by the same nfpm on every machine
// and nfpm's dependencies stay out of netready's own go.mod. It is never
// compiled: the build tag keeps it out of every build. ociimage/, the
// image builder (make image), is a command of this module: its
// dependency, go-containerregistry (v0.22.1, the newest the module proxy
// serves here), is pinned by go.mod through its imports.
package tools

import (
	// nfpm builds the .deb and .rpm (make package). v2.45.2 is the newest
	// release the module proxy serves here; v2.46 and later cannot be
	// fetched.
	_ "github.com/goreleaser/nfpm/v2/cmd/nfpm"

	// cyclonedx-gomod writes each binary's software bill of materials
	// (make release). v1.10.0 is the newest release the module proxy
	// serves here.
	_ "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod"
)
