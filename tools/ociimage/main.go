// Command ociimage builds netready's OCI image from static binaries, without
// a container daemon or a base image: one multi-platform image index
// (linux/amd64 and linux/arm64 by default) whose images each hold a single
// layer with
//
//	/usr/bin/netready                    the static binary of that platform
//	/etc/passwd, /etc/group              root and nonroot (uid/gid 65532)
//	/etc/ssl/certs/ca-certificates.crt   the CA bundle, for https:// and tls://
//
// and nothing else: no shell, no package manager, no libc. The image runs as
// 65532:65532 with /usr/bin/netready as its entrypoint ("check" by default).
//
// It writes an OCI image layout directory (-layout) and/or an OCI archive,
// the same layout in a tar file (-archive), which podman, skopeo and
// containerd read as "oci-archive:FILE". Every timestamp, in the layer and
// in the image configurations, is SOURCE_DATE_EPOCH: the same inputs give
// byte-identical output. "make image" runs it (go run, from tools/).
//
// It is not a general image builder: the layer's contents are fixed here.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the image's user and group: 65532, as distroless's "nonroot",
// a uid no distribution gives a real user and that Kubernetes'
// runAsNonRoot accepts.
const nonroot = 65532

// binFlag collects -bin PLATFORM=PATH, in the order given.
type binFlag []platformBin

type platformBin struct {
	platform v1.Platform
	path     string
}

func (b *binFlag) String() string { return "" }

func (b *binFlag) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok || path == "" {
		return fmt.Errorf("want PLATFORM=PATH, e.g. linux/arm64=dist/stage/arm64/netready")
	}
	p, err := v1.ParsePlatform(plat)
	if err != nil {
		return err
	}
	if p.OS != "linux" {
		return fmt.Errorf("platform %s: only linux", plat)
	}
	// arm64 images say v8, as registries and runtimes expect.
	if p.Architecture == "arm64" && p.Variant == "" {
		p.Variant = "v8"
	}
	*b = append(*b, platformBin{platform: *p, path: path})
	return nil
}

type options struct {
	bins     binFlag
	caCerts  string
	version  string
	revision string
	refName  string
	layout   string
	archive  string
	created  time.Time
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.bins, "bin", "`PLATFORM=PATH`: the static netready binary for PLATFORM (linux/amd64, linux/arm64); repeat for each platform")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to ship (empty: none)")
	fs.StringVar(&o.version, "version", "", "the version (org.opencontainers.image.version)")
	fs.StringVar(&o.revision, "revision", "", "the source revision (org.opencontainers.image.revision)")
	fs.StringVar(&o.refName, "ref-name", "", "the layout's name for the index (org.opencontainers.image.ref.name), e.g. netready:1.2.3")
	fs.StringVar(&o.layout, "layout", "", "write an OCI image layout to this directory (replaced)")
	fs.StringVar(&o.archive, "archive", "", "write an OCI archive (the layout as a tar file) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(o.bins) == 0 || o.version == "" || o.refName == "" || (o.layout == "" && o.archive == "") {
		return errors.New("need -bin, -version, -ref-name and -layout or -archive")
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		return errors.New("SOURCE_DATE_EPOCH is not set: it gives every timestamp of the image")
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	o.created = time.Unix(sec, 0).UTC()

	idx, err := buildIndex(o)
	if err != nil {
		return err
	}
	dir := o.layout
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ociimage-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "layout")
	}
	if err := writeLayout(dir, idx, o.refName); err != nil {
		return err
	}
	if o.archive != "" {
		if err := writeArchive(o.archive, dir, o.created); err != nil {
			return err
		}
	}
	return nil
}

// labels are the image's org.opencontainers.image.* labels, also the
// index's annotations.
func labels(o options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "netready",
		"org.opencontainers.image.description": "network-readiness gate: waits until the network is actually usable",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
		"org.opencontainers.image.source":      "https://github.com/netready/netready",
		"org.opencontainers.image.url":         "https://github.com/netready/netready",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.vendor":      "netready",
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	return l
}

func buildIndex(o options) (v1.ImageIndex, error) {
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, b := range o.bins {
		img, err := buildImage(o, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.platform, err)
		}
		p := b.platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	idx, ok := mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index gave no index")
	}
	return idx, nil
}

func buildImage(o options, b platformBin) (v1.Image, error) {
	layerTar, err := rootfs(o, b.path)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = b.platform.OS
	cf.Architecture = b.platform.Architecture
	cf.Variant = b.platform.Variant
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonroot, nonroot),
		Entrypoint: []string{"/usr/bin/netready"},
		Cmd:        []string{"check"},
		Env:        []string{"PATH=/usr/bin"},
		WorkingDir: "/",
		Labels:     labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: o.created},
			CreatedBy: "tools/ociimage: /usr/bin/netready, CA certificates, passwd and group with nonroot (65532)",
		},
	})
}

// entry is one file or directory of the layer.
type entry struct {
	name string // relative, no leading slash; directories end in "/"
	mode int64
	data []byte
}

// rootfs returns the layer as an uncompressed tar: directories first, each
// before what it holds, in a fixed order, every entry owned by root with
// the same modification time.
func rootfs(o options, bin string) ([]byte, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", nonroot)},
		{name: "etc/passwd", mode: 0o644, data: fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/nonexistent:/sbin/nologin\n", nonroot, nonroot)},
		{name: "usr/", mode: 0o755},
		{name: "usr/bin/", mode: 0o755},
		{name: "usr/bin/netready", mode: 0o755, data: exe},
	}
	if o.caCerts != "" {
		ca, err := os.ReadFile(o.caCerts)
		if err != nil {
			return nil, err
		}
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755},
			entry{name: "etc/ssl/certs/", mode: 0o755},
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			ModTime: o.created,
			Format:  tar.FormatPAX,
		}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout writes idx as an OCI image layout in dir (replacing it), its
// index.json naming idx refName.
func writeLayout(dir string, idx v1.ImageIndex, refName string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": refName,
	}))
}

// writeArchive writes the layout in dir as a tar file: oci-layout,
// index.json and the blobs, sorted, with fixed owners and times.
func writeArchive(file, dir string, mtime time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, name := range names {
		h := &tar.Header{Name: name, ModTime: mtime, Format: tar.FormatPAX}
		var data []byte
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			if data, err = os.ReadFile(filepath.Join(dir, name)); err != nil {
				f.Close()
				return err
			}
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
