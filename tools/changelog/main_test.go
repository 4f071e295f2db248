package main

import (
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreleaser/chglog"
	"go.yaml.in/yaml/v3"
)

const sample = `# Changelog

Introduction text, with a [link](https://example.com).

## [Unreleased]

### Fixed
- A fix not released yet.

## [1.1.0] - 2026-03-02

### Added
- A long item that goes on and on over more than one line of the Markdown
  source, and is joined into one before it is wrapped again for Debian's
  changelog, whose lines stay under eighty columns.

### Removed
- Something old.

## [1.0.0] - 2026-01-15

### Added
- The first release.

[unreleased]: https://example.com/compare/v1.1.0...HEAD
[1.1.0]: https://example.com/compare/v1.0.0...v1.1.0
`

func TestParse(t *testing.T) {
	log, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(log.unreleased); got != 1 || log.unreleased[0].kind != "Fixed" {
		t.Errorf("unreleased: got %+v, want one Fixed group", log.unreleased)
	}
	if len(log.releases) != 2 || log.releases[0].version != "1.1.0" || log.releases[1].version != "1.0.0" {
		t.Fatalf("releases: got %+v, want 1.1.0 and 1.0.0", log.releases)
	}
	if got, want := log.releases[0].date, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("1.1.0's date: got %v, want %v", got, want)
	}
	added := log.releases[0].groups[0]
	want := "A long item that goes on and on over more than one line of the Markdown source, and is joined into one before it is wrapped again for Debian's changelog, whose lines stay under eighty columns."
	if added.kind != "Added" || len(added.items) != 1 || added.items[0] != want {
		t.Errorf("1.1.0 Added: got %+v, want the item joined: %q", added, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown kind", "## [1.0.0] - 2026-01-01\n### Improved\n- x\n", "line 2"},
		{"item before a kind", "## [1.0.0] - 2026-01-01\n- x\n", "line 2"},
		{"bad heading", "## 1.0.0\n### Added\n- x\n", "line 1"},
		{"bad date", "## [1.0.0] - 2026-13-01\n### Added\n- x\n", "line 1"},
		{"older first", "## [1.0.0] - 2026-01-01\n### Added\n- x\n## [1.1.0] - 2026-02-01\n### Added\n- y\n", "line 4"},
		{"twice", "## [1.0.0] - 2026-01-01\n### Added\n- x\n## [1.0.0] - 2025-01-01\n### Added\n- y\n", "listed twice"},
		{"unreleased after a release", "## [1.0.0] - 2026-01-01\n### Added\n- x\n## [Unreleased]\n", "line 4"},
		{"stray text", "## [1.0.0] - 2026-01-01\n### Added\nsome prose\n", "line 3"},
		{"no release", "## [Unreleased]\n### Added\n- x\n", "no release"},
		{"empty release", "## [1.0.0] - 2026-01-01\n", "lists no change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	log, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1796609838, 0).UTC()
	tests := []struct {
		version string
		want    []string // versions, newest first
		build   bool     // the first entry is the build's own
	}{
		{"1.1.0", []string{"1.1.0", "1.0.0"}, false},
		{"1.0.0", []string{"1.0.0"}, false},
		{"1.1.0+git3.abc1234", []string{"1.1.0+git3.abc1234", "1.1.0", "1.0.0"}, true},
		{"0.0.0~git9.abc1234.dirty", []string{"0.0.0~git9.abc1234.dirty", "1.1.0", "1.0.0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			es, err := log.entries(tt.version, epoch)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.version)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if tt.build && (es[0].released || !es[0].date.Equal(epoch) || len(es[0].groups) != 1) {
				t.Errorf("build entry: got %+v, want unreleased, dated %v, with the Unreleased items", es[0], epoch)
			}
		})
	}
	if _, err := log.entries("2.0.0", epoch); err == nil {
		t.Error("a release version with no section: got no error, want one")
	}
}

// TestDebian checks the Debian changelog against dpkg's own parser, where
// it is installed, and the line width lintian holds it to.
func TestDebian(t *testing.T) {
	log, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	es, err := log.entries("1.1.0+git3.abc1234", time.Unix(1796609838, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	text := debian("netready", "A Maintainer <a@example.com>", es)
	for i, line := range strings.Split(text, "\n") {
		if len(line) > width && !strings.HasPrefix(line, " -- ") {
			t.Errorf("line %d is %d columns: %q", i+1, len(line), line)
		}
	}
	for _, want := range []string{
		"netready (1.1.0+git3.abc1234) UNRELEASED; urgency=medium\n\n  * Fixed:\n    - A fix not released yet.\n",
		"\n -- A Maintainer <a@example.com>  Mon, 07 Dec 2026 02:17:18 +0000\n",
		"netready (1.1.0) stable; urgency=medium\n",
		"  * Removed:\n    - Something old.\n",
		"\n -- A Maintainer <a@example.com>  Mon, 02 Mar 2026 00:00:00 +0000\n",
		"    - A long item that goes on and on over more than one line of the Markdown\n      source,",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("got\n%s\nwant it to contain\n%s", text, want)
		}
	}
	if _, err := exec.LookPath("dpkg-parsechangelog"); err != nil {
		return
	}
	f := filepath.Join(t.TempDir(), "changelog")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-parsechangelog", "-l", f, "--all", "--format", "rfc822").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-parsechangelog: %v\n%s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			got = append(got, v)
		}
	}
	if want := []string{"1.1.0+git3.abc1234", "1.1.0", "1.0.0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dpkg-parsechangelog: got versions %q, want %q", got, want)
	}
}

// TestRun writes both outputs and reads them back as nfpm and dpkg would:
// the YAML with chglog's own types, the gzip as gzip -9 (lintian wants max
// compression).
func TestRun(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "CHANGELOG.md")
	if err := os.WriteFile(md, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	deb, rpm := filepath.Join(dir, "changelog.gz"), filepath.Join(dir, "changelog.yml")
	args := []string{"-changelog", md, "-version", "1.1.0", "-epoch", "0", "-maintainer", "M <m@example.com>", "-deb", deb, "-rpm", rpm}
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	if b[8] != 2 { // XFL: maximum compression
		t.Errorf("gzip XFL byte: got %d, want 2 (gzip -9)", b[8])
	}
	if b[4] != 0 || b[5] != 0 || b[6] != 0 || b[7] != 0 || b[3]&0x08 != 0 {
		t.Errorf("gzip header records a time or a name (gzip -n has neither): % x", b[:10])
	}
	f, _ := os.Open(deb)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(text), "netready (1.1.0) stable; urgency=medium\n") {
		t.Errorf("changelog.gz begins %.60q", text)
	}

	var entries chglog.ChangeLogEntries
	y, err := os.ReadFile(rpm)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(y, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Semver != "1.1.0-1" || entries[1].Semver != "1.0.0-1" {
		t.Fatalf("got entries %+v, want 1.1.0-1 and 1.0.0-1", entries)
	}
	if n := entries[0].Changes; len(n) != 2 || n[0].Note != "Added: A long item that goes on and on over more than one line of the Markdown source, and is joined into one before it is wrapped again for Debian's changelog, whose lines stay under eighty columns." || n[1].Note != "Removed: Something old." {
		t.Errorf("1.1.0's notes: got %+v", n)
	}

	for _, bad := range [][]string{
		{"-changelog", md, "-epoch", "0", "-maintainer", "M"},                      // no version
		{"-changelog", md, "-version", "9.9.9", "-epoch", "0", "-maintainer", "M"}, // no such release
		{"-changelog", md, "-version", "1.1.0", "-maintainer", "M"},                // no epoch
	} {
		if err := run(bad, io.Discard); err == nil {
			t.Errorf("%q: got no error, want one", bad)
		}
	}
}
