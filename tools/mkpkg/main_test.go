package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	gzip "github.com/klauspost/pgzip"
)

// buildRPM builds a small .rpm with nfpm's library, as mkpkg does: a file,
// a config file, a directory and a symlink.
func buildRPM(t *testing.T, compression string) []byte {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho tool\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "tool.conf")
	if err := os.WriteFile(conf, []byte("A=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: "tool", Arch: "amd64", Platform: "linux", Version: "1.2.3",
		Maintainer: "M <m@example.com>", Description: "a tool", License: "Apache-2.0",
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				{Source: bin, Destination: "/usr/bin/tool"},
				{Source: conf, Destination: "/etc/tool.conf", Type: files.TypeConfig},
				{Destination: "/usr/share/tool", Type: files.TypeDir},
				{Source: "/usr/bin/tool", Destination: "/usr/bin/tool-link", Type: files.TypeSymlink},
			},
			RPM: nfpm.RPM{Compression: compression},
		},
	})
	pkg, err := nfpm.Get("rpm")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pkg.Package(info, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// payload is an rpm's payload: each cpio header and its data, in order.
func payload(t *testing.T, rpm []byte) ([]cpio.Header, [][]byte) {
	t.Helper()
	sig, err := parseHeader(rpm[96:])
	if err != nil {
		t.Fatal(err)
	}
	start := 96 + len(sig.raw)
	start += (8 - start%8) % 8
	hdr, err := parseHeader(rpm[start:])
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rpm[start+len(hdr.raw):]))
	if err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(zr)
	var hs []cpio.Header
	var data [][]byte
	for {
		h, err := r.Next()
		if err == io.EOF {
			return hs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, *h)
		data = append(data, b)
	}
}

// TestRelativePayload rewrites a package nfpm built: the payload's names
// become "./" and the rest of every entry is unchanged; so is the main
// header but for the payload digest. rpm itself, where installed, must find
// the digests intact and list the same files.
func TestRelativePayload(t *testing.T) {
	orig := buildRPM(t, "gzip")
	got, err := relativePayload(orig)
	if err != nil {
		t.Fatal(err)
	}
	oh, od := payload(t, orig)
	gh, gd := payload(t, got)
	if len(oh) == 0 || len(oh) != len(gh) {
		t.Fatalf("got %d payload entries, want %d (and some)", len(gh), len(oh))
	}
	for i := range oh {
		if !strings.HasPrefix(oh[i].Name, "/") {
			t.Fatalf("premise: nfpm's payload name %q is not absolute", oh[i].Name)
		}
		if want := "." + oh[i].Name; gh[i].Name != want {
			t.Errorf("entry %d: got name %q, want %q", i, gh[i].Name, want)
		}
		o, g := oh[i], gh[i]
		o.Name, g.Name = "", ""
		if o != g {
			t.Errorf("%s: got header %+v, want %+v but the name", gh[i].Name, g, o)
		}
		if !bytes.Equal(od[i], gd[i]) {
			t.Errorf("%s: the data differs", gh[i].Name)
		}
	}
	if again, err := relativePayload(orig); err != nil || !bytes.Equal(again, got) {
		t.Errorf("a second rewrite of the same package gave other bytes (%v)", err)
	}
	if _, err := relativePayload(got); err == nil {
		t.Error("rewriting a payload that is already relative: got no error, want one")
	}

	if _, err := exec.LookPath("rpm"); err != nil {
		t.Log("rpm is not installed: the digests are not checked by rpm")
		return
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"orig.rpm": orig, "rel.rpm": got} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("rpm", "-Kv", "--nosignature", filepath.Join(dir, "rel.rpm")).CombinedOutput()
	if err != nil || strings.Count(string(out), "digest: OK") != 2 {
		t.Errorf("rpm -Kv: %v\n%s\nwant the header and payload digests OK", err, out)
	}
	list := func(name string) string {
		out, err := exec.Command("rpm", "-qlvp", filepath.Join(dir, name)).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qlvp %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if o, g := list("orig.rpm"), list("rel.rpm"); o != g {
		t.Errorf("rpm -qlvp: got\n%s\nwant as before the rewrite\n%s", g, o)
	}
}

func TestRelativePayloadRefuses(t *testing.T) {
	if _, err := relativePayload(buildRPM(t, "xz")); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("an xz payload: got %v, want an error naming the compressor", err)
	}
	if _, err := relativePayload([]byte("not an rpm at all, but long enough to hold a lead of ninety-six bytes ......................")); err == nil {
		t.Error("not an rpm: got no error")
	}
	if _, err := relativePayload(buildRPM(t, "gzip")[:200]); err == nil {
		t.Error("a truncated rpm: got no error")
	}
}

func TestRelativeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/netready", "./usr/bin/netready"},
		{"/etc/default/netready", "./etc/default/netready"},
		{"usr/bin/netready", ""},
		{"./usr/bin/netready", ""},
		{"/usr/../etc/passwd", ""},
		{"/usr//bin", ""},
		{"/", ""},
	}
	for _, tt := range tests {
		got, err := relativeName(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: got %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDebianNames(t *testing.T) {
	sources := map[string]string{
		"github.com/miekg/dns":                "golang-github-miekg-dns",
		"github.com/prometheus/client_golang": "golang-github-prometheus-client-golang",
		"github.com/urfave/cli/v2":            "golang-github-urfave-cli-v2",
		"golang.org/x/sys":                    "golang-golang-x-sys",
		"google.golang.org/protobuf":          "golang-google-protobuf",
		"gopkg.in/yaml.v3":                    "golang-gopkg-yaml-v3",
		"go.yaml.in/yaml/v3":                  "golang-go-yaml-yaml-v3",
		"github.com/BurntSushi/toml":          "golang-github-burntsushi-toml",
	}
	for in, want := range sources {
		if got := debianSource(in); got != want {
			t.Errorf("debianSource(%q): got %q, want %q", in, got, want)
		}
	}
	versions := map[string]string{
		"v1.1.73":                              "1.1.73",
		"v22.7.0":                              "22.7.0",
		"v0.0.0-20191010083416-a7dc8b61c822":   "0.0~git20191010.a7dc8b6",
		"v1.2.4-0.20240102030405-0123456789ab": "1.2.3+git20240102.0123456",
		"v2.0.0+incompatible":                  "2.0.0+incompatible",
	}
	for in, want := range versions {
		got, err := debianVersion(in)
		if err != nil || got != want {
			t.Errorf("debianVersion(%q): got %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := debianVersion("1.0.0"); err == nil {
		t.Error(`debianVersion("1.0.0"): got no error, want one (no v)`)
	}
}

// TestStaticBuiltUsing reads the build information of this test binary, a
// Go binary with modules: the Go toolchain first by name order among the
// golang-* entries, every entry "NAME (= VERSION)" as dpkg's relation
// syntax has it, one per module.
func TestStaticBuiltUsing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	got, err := staticBuiltUsing(exe)
	if err != nil {
		t.Fatal(err)
	}
	entries := strings.Split(got, ", ")
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+ \(= [0-9][A-Za-z0-9.+~]*\)$`)
	for _, e := range entries {
		if !valid.MatchString(e) {
			t.Errorf("entry %q is not NAME (= VERSION) as deb-control(5) wants", e)
		}
	}
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	minor := strings.Join(strings.Split(goVersion, ".")[:2], ".")
	if want := "golang-" + minor + " (= " + goVersion + ")"; !slices.Contains(entries, want) {
		t.Errorf("got %q, want it to hold %q", got, want)
	}
	if !slices.ContainsFunc(entries, func(e string) bool { return strings.HasPrefix(e, "golang-github-goreleaser-nfpm-v2 (= 2.") }) {
		t.Errorf("got %q, want it to hold nfpm, a module this binary links", got)
	}
	if !slices.IsSorted(entries) {
		t.Errorf("got %q, want the entries sorted", got)
	}
	if _, err := staticBuiltUsing(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary: got no error")
	}
}
