// Command changelog turns CHANGELOG.md (Keep a Changelog 1.1.0) into the
// changelogs the packages carry, so that the file a person edits is the
// only record of what changed:
//
//	-deb FILE   the .deb's /usr/share/doc/netready/changelog.gz: Debian's
//	            changelog format (deb-changelog(5)), lines under 80
//	            columns, compressed as gzip -9n
//	-rpm FILE   the .rpm's %changelog, as the changelog YAML that nfpm
//	            reads (goreleaser/chglog's format)
//
// Each release section ("## [X.Y.Z] - YYYY-MM-DD") becomes one entry, newest
// first, dated that day at 00:00 UTC. A build that is not itself a release
// (-version names no section) gets a first entry of its own: the
// "Unreleased" section's items, dated -epoch (SOURCE_DATE_EPOCH) and, for
// Debian, in distribution UNRELEASED. Nothing depends on the clock or the
// machine: one CHANGELOG.md and one set of flags give the same bytes.
//
// It is not a general Markdown converter: it reads the subset Keep a
// Changelog uses (headings, "- " items and their indented continuation
// lines, link definitions) and rejects anything else by line number.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/chglog"
	"go.yaml.in/yaml/v3"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "changelog:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("changelog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("changelog", "CHANGELOG.md", "the Keep a Changelog `file` to read")
	name := fs.String("name", "netready", "the package name")
	version := fs.String("version", "", "the package `version` being built (packaging/version.sh)")
	release := fs.String("release", "1", "the .rpm's release")
	epoch := fs.Int64("epoch", -1, "SOURCE_DATE_EPOCH: the date of a build that is not a release")
	maintainer := fs.String("maintainer", "", "the entries' author, `Name <address>`")
	debOut := fs.String("deb", "", "write the Debian changelog, gzip-compressed, to `file`")
	rpmOut := fs.String("rpm", "", "write nfpm's changelog YAML for the .rpm to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *version == "":
		return fmt.Errorf("-version is required")
	case *epoch < 0:
		return fmt.Errorf("-epoch is required")
	case *maintainer == "":
		return fmt.Errorf("-maintainer is required")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	log, err := parse(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	entries, err := log.entries(*version, time.Unix(*epoch, 0).UTC())
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if *debOut != "" {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression) // no name, no time: gzip -9n
		if err != nil {
			return err
		}
		if _, err := io.WriteString(zw, debian(*name, *maintainer, entries)); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(*debOut, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if *rpmOut != "" {
		b, err := rpmYAML(*maintainer, *release, entries)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*rpmOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kinds are Keep a Changelog's kinds of change, in its order.
var kinds = []string{"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}

// changelog is CHANGELOG.md's content: its Unreleased section and its
// releases, newest first.
type changelog struct {
	unreleased []group
	releases   []section
}

// section is one release.
type section struct {
	version string // as written, X.Y.Z or X.Y.Z-PRE
	date    time.Time
	groups  []group
}

// group is the items of one kind of change.
type group struct {
	kind  string
	items []string // each item's text, continuation lines joined by spaces
}

var (
	releaseRE = regexp.MustCompile(`^## \[(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)\] - (\d{4}-\d{2}-\d{2})$`)
	linkRE    = regexp.MustCompile(`^\[[^\]]+\]: \S+$`)
)

// parse reads a Keep a Changelog file. Text before the first "## " heading
// is the file's introduction and is skipped.
func parse(r io.Reader) (*changelog, error) {
	var (
		log     changelog
		groups  *[]group // where the current section's groups go; nil before the first
		item    *string  // the item that continuation lines extend
		started bool
		seen    = map[string]bool{}
	)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		bad := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s: %q", n, fmt.Sprintf(format, args...), line)
		}
		switch {
		case strings.HasPrefix(line, "## "):
			started, item = true, nil
			if line == "## [Unreleased]" {
				if seen["Unreleased"] || len(log.releases) > 0 {
					return nil, bad("the Unreleased section must come once, before every release")
				}
				seen["Unreleased"] = true
				groups = &log.unreleased
				continue
			}
			m := releaseRE.FindStringSubmatch(line)
			if m == nil {
				return nil, bad("want \"## [Unreleased]\" or \"## [X.Y.Z] - YYYY-MM-DD\"")
			}
			date, err := time.Parse(time.DateOnly, m[2])
			if err != nil {
				return nil, bad("%v", err)
			}
			if seen[m[1]] {
				return nil, bad("release %s is listed twice", m[1])
			}
			seen[m[1]] = true
			if k := len(log.releases); k > 0 {
				prev := log.releases[k-1]
				if compareSemver(m[1], prev.version) >= 0 || date.After(prev.date) {
					return nil, bad("want releases newest first, but %s (%s) follows %s (%s)",
						m[1], m[2], prev.version, prev.date.Format(time.DateOnly))
				}
			}
			log.releases = append(log.releases, section{version: m[1], date: date})
			groups = &log.releases[len(log.releases)-1].groups
		case !started:
			// The introduction.
		case strings.HasPrefix(line, "### "):
			item = nil
			kind := strings.TrimPrefix(line, "### ")
			if !slices.Contains(kinds, kind) {
				return nil, bad("want one of the kinds of change %s", strings.Join(kinds, ", "))
			}
			for _, g := range *groups {
				if g.kind == kind {
					return nil, bad("%s is listed twice in one section", kind)
				}
			}
			*groups = append(*groups, group{kind: kind})
		case strings.HasPrefix(line, "- "):
			if len(*groups) == 0 {
				return nil, bad("an item before any \"### \" kind of change")
			}
			g := &(*groups)[len(*groups)-1]
			g.items = append(g.items, strings.TrimSpace(line[2:]))
			item = &g.items[len(g.items)-1]
		case strings.TrimSpace(line) == "":
			// Blank lines end nothing: an item goes on until the next
			// item or heading, as Markdown's lazy continuation does not
			// (an item here never holds two paragraphs).
		case strings.HasPrefix(line, "  ") && item != nil:
			*item += " " + strings.TrimSpace(line)
		case linkRE.MatchString(line):
			item = nil
		default:
			return nil, bad("want a heading, an item (\"- \"), its indented continuation or a link definition")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(log.releases) == 0 {
		return nil, fmt.Errorf("no release section (\"## [X.Y.Z] - YYYY-MM-DD\")")
	}
	for _, s := range log.releases {
		if len(s.groups) == 0 {
			return nil, fmt.Errorf("release %s lists no change", s.version)
		}
	}
	return &log, nil
}

// entry is one changelog entry of a package: a version and what changed.
type entry struct {
	version  string // the package version, as dpkg and rpm write it
	date     time.Time
	released bool // false: a build between releases
	groups   []group
}

// entries are the package's changelog entries for a build of version, newest
// first: the releases up to that version, and before them an entry of the
// build's own, dated epoch, if version is not a release.
func (c *changelog) entries(version string, epoch time.Time) ([]entry, error) {
	var es []entry
	for i, s := range c.releases {
		if pkgVersion(s.version) == version {
			es = nil // a build of an older release leaves out what came after it
			for _, s := range c.releases[i:] {
				es = append(es, entry{version: pkgVersion(s.version), date: s.date, released: true, groups: s.groups})
			}
			return es, nil
		}
		es = append(es, entry{version: pkgVersion(s.version), date: s.date, released: true, groups: s.groups})
	}
	if !strings.ContainsAny(version, "~+") {
		return nil, fmt.Errorf("version %s looks like a release, but there is no \"## [%s]\" section", version, version)
	}
	build := entry{version: version, date: epoch, groups: c.unreleased}
	return append([]entry{build}, es...), nil
}

// pkgVersion is a Keep a Changelog version as dpkg and rpm write it: a
// pre-release's "-" (which both reserve for the revision) is "~", which
// sorts before the release, as packaging/version.sh writes it.
func pkgVersion(v string) string { return strings.Replace(v, "-", "~", 1) }

// compareSemver orders two X.Y.Z[-PRE] versions: -1, 0 or 1. A pre-release
// sorts before its release; two pre-releases compare as strings.
func compareSemver(a, b string) int {
	split := func(v string) ([3]int, string, bool) {
		core, pre, hasPre := strings.Cut(v, "-")
		var n [3]int
		for i, f := range strings.SplitN(core, ".", 3) {
			n[i], _ = strconv.Atoi(f)
		}
		return n, pre, hasPre
	}
	an, ap, aHas := split(a)
	bn, bp, bHas := split(b)
	for i := range an {
		if c := an[i] - bn[i]; c != 0 {
			return max(-1, min(1, c))
		}
	}
	switch {
	case aHas && !bHas:
		return -1
	case !aHas && bHas:
		return 1
	}
	return strings.Compare(ap, bp)
}

// width is the longest line a Debian changelog entry has: lintian warns at 80
// columns (debian-changelog-line-too-long).
const width = 79

// debian is entries in Debian's changelog format. A release's distribution
// is "stable", a build between releases' "UNRELEASED". Each kind of change is
// one "*" item with the changes as "-" sub-items, wrapped at width.
func debian(name, maintainer string, entries []entry) string {
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteString("\n")
		}
		dist := "stable"
		if !e.released {
			dist = "UNRELEASED"
		}
		fmt.Fprintf(&b, "%s (%s) %s; urgency=medium\n\n", name, e.version, dist)
		if len(e.groups) == 0 {
			b.WriteString("  * Development build: nothing is listed as unreleased in CHANGELOG.md.\n")
		}
		for _, g := range e.groups {
			fmt.Fprintf(&b, "  * %s:\n", g.kind)
			for _, it := range g.items {
				wrap(&b, it, "    - ", "      ")
			}
		}
		fmt.Fprintf(&b, "\n -- %s  %s\n", maintainer, e.date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	}
	return b.String()
}

// wrap writes text as lines of at most width columns, the first starting
// with first and the others with rest. A word longer than a line (a URL)
// gets a line of its own.
func wrap(b *strings.Builder, text, first, rest string) {
	line := first
	empty := true
	for _, w := range strings.Fields(text) {
		if !empty && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	b.WriteString(line + "\n")
}

// rpmYAML is entries as the changelog YAML nfpm reads for the .rpm's
// %changelog: each entry is titled "MAINTAINER - VERSION-RELEASE", as
// rpmbuild's %changelog is, and lists one note per change, "Kind: text".
func rpmYAML(maintainer, release string, entries []entry) ([]byte, error) {
	var log chglog.ChangeLogEntries
	for _, e := range entries {
		c := &chglog.ChangeLog{
			Semver:   e.version + "-" + release,
			Date:     e.date,
			Packager: maintainer,
		}
		if len(e.groups) == 0 {
			c.Changes = append(c.Changes, &chglog.ChangeLogChange{Note: "Development build: nothing is listed as unreleased in CHANGELOG.md."})
		}
		for _, g := range e.groups {
			for _, it := range g.items {
				c.Changes = append(c.Changes, &chglog.ChangeLogChange{Note: g.kind + ": " + it})
			}
		}
		log = append(log, c)
	}
	return yaml.Marshal(log)
}
