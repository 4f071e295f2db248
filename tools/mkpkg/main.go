// Command mkpkg builds one of netready's packages, a .deb or an .rpm, with
// nfpm's library from packaging/nfpm.yaml (read with the environment, as the
// nfpm command reads it), and adds what nfpm's configuration cannot say:
//
//   - the .deb's field that names what the static binary (-bin) was built
//     from: the Go toolchain and every module its build information lists
//     (builtUsingField);
//   - the .rpm's %changelog, from the changelog YAML tools/changelog writes
//     (-changelog);
//   - the .rpm's payload with relative names ("./usr/bin/netready"), as
//     rpmbuild writes it: nfpm writes absolute ones, which "rpm2cpio X |
//     cpio -idv" unpacks over / rather than into the current directory.
//
// "make package" runs it (go run, from tools/, started in the repository
// root). It writes the package to a temporary file beside -target and
// renames it: a failed build leaves no package behind.
package main

import (
	"bytes"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
	"golang.org/x/mod/module"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mkpkg:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkpkg", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "packaging/nfpm.yaml", "nfpm's configuration `file`")
	packager := fs.String("packager", "", "deb or rpm")
	target := fs.String("target", "", "the package `file` to write")
	bin := fs.String("bin", "", "the static binary the package holds, whose build information names what it was built from")
	changelog := fs.String("changelog", "", "the .rpm's changelog YAML `file` (tools/changelog -rpm)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *packager != "deb" && *packager != "rpm":
		return fmt.Errorf("-packager %q: want deb or rpm", *packager)
	case *target == "":
		return fmt.Errorf("-target is required")
	case *packager == "deb" && *bin == "":
		return fmt.Errorf("-bin is required for a .deb")
	case *packager == "rpm" && *changelog == "":
		return fmt.Errorf("-changelog is required for an .rpm")
	}

	cfg, err := nfpm.ParseFileWithEnvMapping(*config, os.Getenv)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	info, err := cfg.Get(*packager)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	info = nfpm.WithDefaults(info) // MTime from SOURCE_DATE_EPOCH among them
	switch *packager {
	case "deb":
		using, err := staticBuiltUsing(*bin)
		if err != nil {
			return err
		}
		if info.Deb.Fields == nil {
			info.Deb.Fields = map[string]string{}
		}
		info.Deb.Fields[builtUsingField] = using
	case "rpm":
		if _, err := os.Stat(*changelog); err != nil {
			return err // nfpm would quietly build without one
		}
		info.Changelog = *changelog
		// Expand the trees and globs here, as Package would, to flag
		// their files; Package takes expanded contents as they are.
		if err := nfpm.PrepareForPackager(info, "rpm"); err != nil {
			return fmt.Errorf("%s: %w", *config, err)
		}
		markDocs(info.Contents)
	}
	if err := nfpm.Validate(info); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	pkg, err := nfpm.Get(*packager)
	if err != nil {
		return err
	}
	info.Target = *target
	var buf bytes.Buffer
	if err := pkg.Package(info, &buf); err != nil {
		return fmt.Errorf("%s: %w", *target, err)
	}
	out := buf.Bytes()
	if *packager == "rpm" {
		if out, err = relativePayload(out); err != nil {
			return fmt.Errorf("%s: %w", *target, err)
		}
	}
	return writeFile(*target, out)
}

// docDirs are the directories whose files rpmbuild flags as documentation
// by itself (%__docdir_path), so that "rpm --excludedocs" leaves them out.
var docDirs = []string{"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/"}

// markDocs flags as documentation every regular file under docDirs, as
// rpmbuild does; a license file keeps its own flag.
func markDocs(contents files.Contents) {
	for _, c := range contents {
		if c.Type != files.TypeFile {
			continue
		}
		for _, d := range docDirs {
			if strings.HasPrefix(c.Destination, d) {
				c.Type = files.TypeRPMDoc
			}
		}
	}
}

// writeFile writes b to name through a temporary file in the same
// directory, renamed into place.
func writeFile(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// builtUsingField is the .deb's field that lists what the static binary was
// built from: Built-Using, as Debian 12's Go packages write it (podman,
// prometheus, runc). dpkg 1.21.3 and later also document Static-Built-Using,
// meant for exactly this and written by Debian 13's Go packages, but
// Debian 12's lintian does not know it yet (unknown-field).
const builtUsingField = "Built-Using"

// staticBuiltUsing is the value of the .deb's builtUsingField for the Go
// binary bin ("source packages that were used during the build of this
// binary package, for static building purposes", deb-control(5)): the Go
// toolchain, whose standard library is linked in, and every module the
// binary's build information lists, as "NAME (= VERSION)" sorted by name.
// Their names are the ones the Debian Go team gives a module's source package
// (debianSource), their versions the module's own (debianVersion): a binary
// built from the module proxy, not from Debian's packages, names what it
// contains in the form a Debian tool reads.
func staticBuiltUsing(bin string) (string, error) {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("build information of %s: %w", bin, err)
	}
	goVersion, ok := strings.CutPrefix(bi.GoVersion, "go")
	fields := strings.Split(goVersion, ".")
	if !ok || len(fields) < 2 || len(fields) > 3 {
		return "", fmt.Errorf("%s: Go version %q, want goX.Y[.Z]", bin, bi.GoVersion)
	}
	minor := fields[0] + "." + fields[1]
	using := []string{fmt.Sprintf("golang-%s (= %s)", minor, goVersion)}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		v, err := debianVersion(d.Version)
		if err != nil {
			return "", fmt.Errorf("%s: module %s: %w", bin, d.Path, err)
		}
		using = append(using, fmt.Sprintf("%s (= %s)", debianSource(d.Path), v))
	}
	slices.Sort(using)
	return strings.Join(using, ", "), nil
}

// debianSource is the name the Debian Go team gives the source package of
// the Go module at path (dh-make-golang's convention): "golang-", the host
// shortened to its usual word (github.com is "github"), then the path, with
// "/", "." and "_" as "-", in lower case. A major version suffix stays:
// github.com/urfave/cli/v2 is golang-github-urfave-cli-v2.
func debianSource(path string) string {
	host, rest, _ := strings.Cut(path, "/")
	switch host {
	case "github.com":
		host = "github"
	case "golang.org":
		host = "golang"
	case "google.golang.org":
		host = "google"
	case "gopkg.in":
		host = "gopkg"
	default:
		host = strings.TrimSuffix(host, filepath.Ext(host))
	}
	name := "golang-" + host
	if rest != "" {
		name += "-" + rest
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '.', '_':
			return '-'
		}
		return unicode.ToLower(r)
	}, name)
}

// debianVersion is a Go module version as a Debian version: without the
// "v"; a pseudo-version (a commit, not a release) as Debian's Go packages
// write one: 0.0~gitYYYYMMDD.REV before any release, X.Y.Z+gitYYYYMMDD.REV
// after release X.Y.Z, so that it sorts among releases as the
// pseudo-version does.
func debianVersion(v string) (string, error) {
	if !strings.HasPrefix(v, "v") {
		return "", fmt.Errorf("version %q does not start with v", v)
	}
	if !module.IsPseudoVersion(v) {
		return strings.TrimPrefix(v, "v"), nil
	}
	t, err := module.PseudoVersionTime(v)
	if err != nil {
		return "", err
	}
	rev, err := module.PseudoVersionRev(v)
	if err != nil {
		return "", err
	}
	base, err := module.PseudoVersionBase(v)
	if err != nil {
		return "", err
	}
	date := t.UTC().Format("20060102")
	if base == "" {
		return fmt.Sprintf("0.0~git%s.%s", date, rev[:7]), nil
	}
	return fmt.Sprintf("%s+git%s.%s", strings.TrimPrefix(base, "v"), date, rev[:7]), nil
}
