package packaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReproducible builds a release ("make release") twice, in two copies
// of this tree in different directories, one after the other, the second
// with another umask, time zone and locale, and compares what they wrote
// file by file: every binary, package, changelog, man page, SBOM,
// SHA256SUMS, the OCI archive and the image index (whose digests name
// every image). A difference fails and is shown: by diffoscope where it is
// installed, else by size, digest and first differing byte.
//
// The architectures are NETREADY_REPRO_ARCHES (Debian's names), by default
// this machine's only, which keeps make test fast; "make reproduce" builds
// them all. The version, commit and SOURCE_DATE_EPOCH come from this
// checkout's git, once, as a release build takes them from its clone.
func TestReproducible(t *testing.T) {
	needTools(t, "make", "git", "sha256sum")
	arches := strings.Fields(os.Getenv("NETREADY_REPRO_ARCHES"))
	if len(arches) == 0 {
		arches = []string{hostArch()}
	}
	var imageArches []string
	for _, a := range arches {
		if !slices.ContainsFunc(pkgArches, func(pa pkgArch) bool { return pa.deb == a }) {
			t.Fatalf("NETREADY_REPRO_ARCHES: unknown architecture %q", a)
		}
		if a == "amd64" || a == "arm64" { // the image's platforms
			imageArches = append(imageArches, a)
		}
	}
	if len(imageArches) == 0 {
		imageArches = []string{"amd64"}
	}

	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	out, err := exec.Command(filepath.Join(repoRoot, "packaging", "version.sh")).Output()
	if err != nil {
		t.Fatalf("version.sh: %v", err)
	}
	vars := []string{
		"PKGVERSION=" + strings.TrimSpace(string(out)),
		"VERSION=" + git("describe", "--tags", "--always", "--dirty"),
		"COMMIT=" + git("rev-parse", "HEAD"),
		"SOURCE_DATE_EPOCH=" + git("log", "-1", "--format=%ct"),
		"PKG_ARCHES=" + strings.Join(arches, " "),
		"IMAGE_ARCHES=" + strings.Join(imageArches, " "),
	}

	files := treeFiles(t)
	builds := []struct {
		dir   string
		shell string // runs make "$@" with what this build varies
	}{
		{filepath.Join(t.TempDir(), "a", "netready"), `umask 022; exec env TZ=UTC LC_ALL=C.UTF-8 make "$@"`},
		{filepath.Join(t.TempDir(), "second-build", "src", "netready"), `umask 077; exec env TZ=Pacific/Kiritimati LC_ALL=C make "$@"`},
	}
	var finished time.Time
	for i, b := range builds {
		copyTree(t, files, b.dir)
		// Not within the same second as the first build: a timestamp
		// taken from the clock would differ.
		if wait := time.Until(finished.Add(time.Second)); wait > 0 {
			time.Sleep(wait)
		}
		start := time.Now()
		cmd := exec.Command("sh", append([]string{"-c", b.shell, "sh", "-C", b.dir, "release"}, vars...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %d: make release: %v\n%s", i+1, err, out)
		}
		finished = time.Now()
		t.Logf("build %d in %s: %.1fs", i+1, b.dir, finished.Sub(start).Seconds())
	}

	distA := filepath.Join(builds[0].dir, "dist")
	distB := filepath.Join(builds[1].dir, "dist")
	names := distFiles(t, distA)
	if other := distFiles(t, distB); !slices.Equal(names, other) {
		t.Errorf("the builds wrote different files:\n%s\nand\n%s", strings.Join(names, "\n"), strings.Join(other, "\n"))
	}
	// What must be there, whatever else is: a release's files and the
	// staged binaries, each architecture's.
	var want []string
	for _, a := range arches {
		pa := pkgArches[slices.IndexFunc(pkgArches, func(pa pkgArch) bool { return pa.deb == a })]
		v := strings.TrimPrefix(vars[0], "PKGVERSION=")
		want = append(want, "netready_"+v+"_"+a+".deb", "netready-"+v+"-1."+pa.rpm+".rpm",
			"netready_"+v+"_"+a+".cdx.json", filepath.Join("stage", a, "netready"))
	}
	want = append(want, "SHA256SUMS", "oci/index.json")
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("make release did not write %s", w)
		}
	}
	same := 0
	for _, name := range names {
		a, errA := os.ReadFile(filepath.Join(distA, name))
		b, errB := os.ReadFile(filepath.Join(distB, name))
		if errA != nil || errB != nil {
			continue // reported above as a different list
		}
		if bytes.Equal(a, b) {
			same++
			continue
		}
		t.Errorf("%s differs between the two builds:\n%s", name, showDifference(t, filepath.Join(distA, name), filepath.Join(distB, name), a, b))
	}
	t.Logf("%d files compared, %d identical; image index sha256 %x", len(names), same, sha256.Sum256(mustRead(t, filepath.Join(distA, "oci", "index.json"))))
}

// treeFiles are the files of this checkout a build reads: those git
// tracks, as they are in the working tree (uncommitted changes included),
// and new ones git does not ignore.
func treeFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if _, err := os.Lstat(filepath.Join(repoRoot, f)); err == nil {
			files = append(files, f) // a tracked file deleted in the tree is not
		}
	}
	return files
}

// copyTree copies files, relative to the repository, into dir, with their
// modes (and symlinks as symlinks).
func copyTree(t *testing.T, files []string, dir string) {
	t.Helper()
	for _, f := range files {
		src, dst := filepath.Join(repoRoot, f), filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(src)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, dst); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
}

// distFiles lists the regular files under dir, relative to it, sorted.
func distFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		names = append(names, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// showDifference describes how files a and b (with contents ca and cb)
// differ: diffoscope's report where diffoscope is installed (cut at 20,000
// characters), and always their sizes, digests and first differing byte.
func showDifference(t *testing.T, a, b string, ca, cb []byte) string {
	t.Helper()
	i := 0
	for i < len(ca) && i < len(cb) && ca[i] == cb[i] {
		i++
	}
	s := fmt.Sprintf("  %s: %d bytes, sha256 %x\n  %s: %d bytes, sha256 %x\n  first difference at byte %d\n",
		a, len(ca), sha256.Sum256(ca), b, len(cb), sha256.Sum256(cb), i)
	if _, err := exec.LookPath("diffoscope"); err != nil {
		return s + "  (install diffoscope to see the difference itself)\n"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "diffoscope", "--no-progress", "--text", "-", a, b)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // diffoscope exits 1 when the files differ
	report, _ := io.ReadAll(io.LimitReader(&out, 20000))
	return s + "diffoscope:\n" + string(report)
}
