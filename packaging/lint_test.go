package packaging

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netready/netready/internal/roottest"
)

// TestLintian runs Debian's lintian, at its default profile, on each
// architecture's .deb: any error or warning fails. The one override the
// package ships (statically-linked-binary, for Go's static binary) must be
// the only one lintian used.
func TestLintian(t *testing.T) {
	needTools(t, "lintian")
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.deb, func(t *testing.T) {
			t.Parallel()
			deb := a.arches[pa.deb].deb
			out, err := exec.Command("lintian", "--show-overrides", deb).CombinedOutput()
			t.Logf("lintian --show-overrides %s:\n%s", filepath.Base(deb), out)
			var overridden []string
			for _, line := range strings.Split(string(out), "\n") {
				switch {
				case strings.HasPrefix(line, "E: "), strings.HasPrefix(line, "W: "):
					t.Errorf("lintian: %s", line)
				case strings.HasPrefix(line, "O: "):
					overridden = append(overridden, line)
				}
			}
			if want := []string{"O: netready: statically-linked-binary [usr/bin/netready]"}; !slices.Equal(overridden, want) {
				t.Errorf("lintian used the overrides %q, want %q", overridden, want)
			}
			// lintian exits 2 on an error it found; anything else it
			// cannot have run the checks.
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 2) {
				t.Errorf("lintian: %v", err)
			}
		})
	}
}

// rpmlintWarnings are the warnings rpmlint may give the .rpm, each with the
// reason it stays.
var rpmlintWarnings = map[string]string{
	// Go's static binary (CGO_ENABLED=0) is not a position-independent
	// executable; building it as one would need an ELF interpreter.
	"position-independent-executable-suggested": "the binary is static",
	// The units are where every distribution wants them
	// (%{_unitdir}); rpmlint's heuristic expects architecture-dependent
	// files in /usr/lib to be libraries.
	"only-non-binary-in-usr-lib": "systemd units live in /usr/lib/systemd/system",
	// rpmlint 2.4 records a man page's section ("8") as its name, so no
	// binary ever has one (fixed upstream later); netready(8) ships.
	"no-manual-page-for-binary": "rpmlint 2.4 cannot match netready(8) to netready",
}

// rpmlintRE is one result of rpmlint: the package, E or W, the check.
var rpmlintRE = regexp.MustCompile(`(?m)^netready\.\S+: ([EW]): (\S+)(.*)$`)

// TestIntegrationRPMLint runs rpmlint with packaging/rpmlint.toml on each
// architecture's .rpm, in a mount namespace where /usr, /etc and /var are
// read-only: rpmlint unpacks the payload with "rpm2cpio | cpio -id", which
// writes a payload's absolute names over the machine's own files. No error
// but no-signature (the packages are not signed), and only the warnings of
// rpmlintWarnings.
func TestIntegrationRPMLint(t *testing.T) {
	roottest.Require(t) // unshare --mount
	needTools(t, "rpmlint", "unshare", "mount")
	a := build(t)
	config := filepath.Join(repoRoot, "packaging", "rpmlint.toml")
	for _, pa := range pkgArches {
		t.Run(pa.rpm, func(t *testing.T) {
			t.Parallel()
			rpm := a.arches[pa.deb].rpm
			cmd := readOnlySystem(t, "rpmlint", "-c", config, rpm)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			t.Logf("rpmlint -c packaging/rpmlint.toml %s:\n%s", filepath.Base(rpm), out)
			if !strings.Contains(string(out), "1 packages and 0 specfiles checked") {
				t.Fatalf("rpmlint did not check the package: %v", err)
			}
			for _, m := range rpmlintRE.FindAllStringSubmatch(string(out), -1) {
				switch {
				case m[1] == "E" && m[2] == "no-signature":
				case m[1] == "E":
					t.Errorf("rpmlint error: %s%s", m[2], m[3])
				case rpmlintWarnings[m[2]] == "":
					t.Errorf("rpmlint warning: %s%s", m[2], m[3])
				}
			}
		})
	}
}

// readOnlySystem is a command that runs name with args in a mount namespace
// of its own where /usr, /etc and /var are read-only bind mounts of
// themselves: whatever it writes there fails (EROFS) instead of landing on
// the machine. The command first checks that each really is read-only, and
// exits 99 without running name if one is not.
func readOnlySystem(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	const script = `set -e
for d in /usr /etc /var; do
	mount --bind -o ro "$d" "$d"
	if touch "$d/.netready-ro-probe" 2>/dev/null; then
		rm -f "$d/.netready-ro-probe"
		echo "$d is writable in the namespace" >&2
		exit 99
	fi
done
exec "$@"`
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", name}, args...)...)
}

// TestIntegrationReadOnlySystem checks readOnlySystem's premise: in its namespace a
// write to /usr, /etc or /var fails as read-only, and the host's mounts are
// untouched afterwards.
func TestIntegrationReadOnlySystem(t *testing.T) {
	roottest.Require(t)
	needTools(t, "unshare", "mount")
	for _, d := range []string{"/usr", "/etc", "/var"} {
		probe := filepath.Join(d, ".netready-ro-test")
		out, err := readOnlySystem(t, "touch", probe).CombinedOutput()
		if err == nil {
			os.Remove(probe)
			t.Errorf("%s: a write in the namespace succeeded, want it refused", d)
			continue
		}
		if !strings.Contains(string(out), "Read-only file system") {
			t.Errorf("%s: got %v: %s, want Read-only file system", d, err, out)
		}
		if _, err := os.Lstat(probe); err == nil {
			os.Remove(probe)
			t.Errorf("%s exists on the host", probe)
		}
	}
	// The host's /var stays writable: the bind mounts were the namespace's.
	f, err := os.CreateTemp("/var/tmp", "netready-ro-test-")
	if err != nil {
		t.Fatalf("the host's /var/tmp after the namespace: %v", err)
	}
	f.Close()
	os.Remove(f.Name())
}

// TestRPMPayload lists each .rpm's payload as "rpm2cpio | cpio -t" does
// (a listing writes nothing): every name must be relative ("./usr/..."),
// clean, and one of the files rpm says the package holds; and rpm must find
// the digests that cover the payload intact.
func TestRPMPayload(t *testing.T) {
	needTools(t, "rpm", "rpm2cpio", "cpio")
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.rpm, func(t *testing.T) {
			rpm := a.arches[pa.deb].rpm
			names := payloadNames(t, rpm)
			for _, problem := range payloadProblems(names) {
				t.Error(problem)
			}
			var want []string
			for _, f := range strings.Fields(command(t, "rpm", "-qlp", rpm)) {
				want = append(want, "."+f)
			}
			slices.Sort(want)
			got := slices.Sorted(slices.Values(names))
			if !slices.Equal(got, want) {
				t.Errorf("payload names:\n%s\nwant rpm -qlp's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if out := command(t, "rpm", "-Kv", "--nosignature", rpm); strings.Count(out, "digest: OK") != 2 {
				t.Errorf("rpm -Kv: got\n%s\nwant the header's and the payload's SHA256 digests OK", out)
			}
		})
	}
}

// TestIntegrationRPMUnpack unpacks each .rpm the way administrators inspect
// one, "rpm2cpio X | cpio -idm" in a scratch directory, in a namespace
// where /usr, /etc and /var are read-only (should a regression bring
// absolute names back): every file lands in that directory, with the
// content rpm's digests give.
func TestIntegrationRPMUnpack(t *testing.T) {
	roottest.Require(t) // unshare --mount
	needTools(t, "rpm", "rpm2cpio", "cpio", "unshare", "mount")
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.rpm, func(t *testing.T) {
			rpm := a.arches[pa.deb].rpm
			dir := t.TempDir()
			cmd := readOnlySystem(t, "sh", "-c", `rpm2cpio "$1" | cpio -idm --quiet`, "sh", rpm)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("rpm2cpio | cpio -idm: %v\n%s", err, out)
			}
			digests := command(t, "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEDIGESTS}\n]`, rpm)
			for _, line := range strings.Split(strings.TrimSpace(digests), "\n") {
				name, digest, _ := strings.Cut(line, " ")
				fi, err := os.Lstat(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%s did not land in the scratch directory: %v", name, err)
					continue
				}
				if digest == "" || fi.IsDir() {
					continue
				}
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != digest {
					t.Errorf("%s: got sha256 %s, want %s", name, got, digest)
				}
			}
		})
	}
}

// payloadNames lists an rpm's payload: "rpm2cpio FILE | cpio -t".
func payloadNames(t *testing.T, rpm string) []string {
	t.Helper()
	r2c := exec.Command("rpm2cpio", rpm)
	var r2cErr, listErr bytes.Buffer
	r2c.Stderr = &r2cErr
	pipe, err := r2c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	list := exec.Command("cpio", "-t", "--quiet")
	list.Stdin = pipe
	list.Stderr = &listErr
	if err := r2c.Start(); err != nil {
		t.Fatal(err)
	}
	out, err := list.Output()
	if werr := r2c.Wait(); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		t.Fatalf("rpm2cpio %s | cpio -t: %v\n%s%s", rpm, err, &r2cErr, &listErr)
	}
	return strings.Fields(string(out))
}

// payloadProblems says what is wrong with each payload name that is not as
// rpmbuild writes it: "./" and a clean path below it, no ".." element.
func payloadProblems(names []string) []string {
	var problems []string
	for _, n := range names {
		rel, ok := strings.CutPrefix(n, "./")
		switch {
		case strings.HasPrefix(n, "/"):
			problems = append(problems, fmt.Sprintf("payload name %q is absolute: cpio -i writes it there, whatever the current directory", n))
		case !ok || rel == "":
			problems = append(problems, fmt.Sprintf("payload name %q does not start with ./", n))
		case slices.Contains(strings.Split(rel, "/"), ".."):
			problems = append(problems, fmt.Sprintf("payload name %q climbs out with ..", n))
		case path.Clean(rel) != rel:
			problems = append(problems, fmt.Sprintf("payload name %q is not a clean path", n))
		}
	}
	return problems
}

// TestPayloadProblems: the payload check catches what it is there for.
func TestPayloadProblems(t *testing.T) {
	tests := []struct {
		name string
		bad  bool
	}{
		{"./usr/bin/netready", false},
		{"./etc/default/netready", false},
		{"/usr/bin/netready", true},
		{"usr/bin/netready", true},
		{"./usr/../etc/passwd", true},
		{"./../etc/passwd", true},
		{"./usr//bin/netready", true},
		{"./", true},
	}
	for _, tt := range tests {
		if got := len(payloadProblems([]string{tt.name})) > 0; got != tt.bad {
			t.Errorf("%q: got a problem %v, want %v", tt.name, got, tt.bad)
		}
	}
}

// releaseRE is a release heading of CHANGELOG.md.
var releaseRE = regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`)

// TestChangelogs checks the packages' changelogs against CHANGELOG.md: the
// .deb's changelog.gz and the .rpm's %changelog both begin with the
// package's own version (a build between releases has an entry of its
// own) and hold an entry for every release CHANGELOG.md lists.
func TestChangelogs(t *testing.T) {
	needTools(t, "rpm")
	a := build(t)
	md, err := os.ReadFile(filepath.Join(repoRoot, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	var releases []string
	for _, m := range releaseRE.FindAllStringSubmatch(string(md), -1) {
		releases = append(releases, m[1])
	}
	if len(releases) == 0 {
		t.Fatal("CHANGELOG.md lists no release")
	}
	isRelease := slices.Contains(releases, a.version)

	deb := gunzip(t, filepath.Join(a.docs, "changelog.gz"))
	dist := map[bool]string{true: "stable", false: "UNRELEASED"}[isRelease]
	if first := strings.SplitN(string(deb), "\n", 2)[0]; first != fmt.Sprintf("netready (%s) %s; urgency=medium", a.version, dist) {
		t.Errorf("changelog.gz begins %q, want the package's version %s, %s", first, a.version, dist)
	}
	for _, r := range releases {
		if !strings.Contains(string(deb), fmt.Sprintf("\nnetready (%s) stable; urgency=medium\n", r)) && !strings.HasPrefix(string(deb), fmt.Sprintf("netready (%s) ", r)) {
			t.Errorf("changelog.gz has no entry for release %s", r)
		}
	}

	rpmLog := command(t, "rpm", "-qp", "--changelog", a.rpm)
	if first := strings.SplitN(rpmLog, "\n", 2)[0]; !strings.HasSuffix(first, " - "+a.version+"-1") {
		t.Errorf("%%changelog begins %q, want the package's version-release %s-1", first, a.version)
	}
	for _, r := range releases {
		if !strings.Contains(rpmLog, " - "+r+"-1\n") {
			t.Errorf("%%changelog has no entry for release %s", r)
		}
	}
}

// TestLicenseNotices checks that each architecture's packages carry the
// license of everything its static binary is built from, as the binary's
// own build information lists it: the .deb's copyright file has a
// paragraph per module and for the Go standard library, the .rpm's NOTICES
// an entry for each.
func TestLicenseNotices(t *testing.T) {
	a := build(t)
	for _, pa := range pkgArches {
		t.Run(pa.deb, func(t *testing.T) {
			aa := a.arches[pa.deb]
			bi, err := buildinfo.ReadFile(aa.bin)
			if err != nil {
				t.Fatal(err)
			}
			deb := contents(t, a, "deb", pa.deb)["/usr/share/doc/netready/copyright"]
			rpm := contents(t, a, "rpm", pa.deb)["/usr/share/licenses/netready/NOTICES"]
			copyright, notices := string(mustRead(t, deb)), string(mustRead(t, rpm))
			if !strings.HasPrefix(copyright, string(mustRead(t, filepath.Join(repoRoot, "packaging", "deb", "copyright")))) {
				t.Error("the copyright file does not begin with packaging/deb/copyright")
			}
			if !strings.Contains(copyright, "\nFiles: "+bi.GoVersion+"/src/*\n") {
				t.Errorf("the copyright file has no paragraph for the Go standard library (%s)", bi.GoVersion)
			}
			if len(bi.Deps) == 0 {
				t.Fatal("premise: the binary's build information lists no module")
			}
			for _, m := range bi.Deps {
				if !strings.Contains(copyright, "\nFiles: "+m.Path+"@"+m.Version+"/*\n") {
					t.Errorf("the copyright file has no paragraph for %s %s", m.Path, m.Version)
				}
				if !strings.Contains(notices, "\n"+m.Path+" "+m.Version+"\nLicense: ") {
					t.Errorf("NOTICES has no entry for %s %s", m.Path, m.Version)
				}
			}
		})
	}
}
