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

// TestReproducible builds netready twice, in two directories, one after the
// other, and compares what the builds wrote file by file: every binary,
// package, changelog, man page, SBOM, the OCI archive and the image index
// (whose digests name every image). A difference fails and is shown: by
// diffoscope where it is installed, else by size, digest and first
// differing byte.
//
// The first build is the one the other tests check ("make package" and
// "make image" in this checkout, and here "make sbom"); the second is "make
// release" in a copy of the tree elsewhere, with another umask, time zone
// and locale, given the version, commit and SOURCE_DATE_EPOCH the first
// took from git, as a release build takes them from its clone. Its
// architectures are NETREADY_REPRO_ARCHES (Debian's names), by default this
// machine's only, which keeps make test fast; "make reproduce" compares
// them all, with NETREADY_REPRO_COLD set: the second build then has a Go
// build cache of its own. The image is always linux/amd64 and linux/arm64,
// as released.
// (The image was compared before, with the same tree, by a test of its own;
// this one subsumes it.)
func TestReproducible(t *testing.T) {
	needTools(t, "make", "git", "sha256sum")
	arches := strings.Fields(os.Getenv("NETREADY_REPRO_ARCHES"))
	if len(arches) == 0 {
		arches = []string{hostArch()}
	}
	for _, a := range arches {
		if !slices.ContainsFunc(pkgArches, func(pa pkgArch) bool { return pa.deb == a }) {
			t.Fatalf("NETREADY_REPRO_ARCHES: unknown architecture %q", a)
		}
	}
	a, img := buildImage(t)
	first := time.Now()
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
	vars := []string{
		"PKGVERSION=" + a.version,
		"VERSION=" + git("describe", "--tags", "--always", "--dirty"),
		"COMMIT=" + img.commit,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", img.epoch),
		"PKG_ARCHES=" + strings.Join(arches, " "),
	}
	// The first build's SBOMs, of the binaries it staged (-o: as they are).
	args := []string{"-C", repoRoot, "DIST=" + distDir}
	for _, arch := range arches {
		args = append(args, "-o", "package-bin-"+arch)
	}
	cmd := exec.Command("make", append(append(args, "sbom"), vars...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make sbom: %v\n%s", err, out)
	}

	dir := filepath.Join(t.TempDir(), "second-build", "netready")
	copyTree(t, treeFiles(t), dir)
	// Not within the same second as the first build: a timestamp taken
	// from the clock would differ.
	if wait := time.Until(first.Add(time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	start := time.Now()
	cmd = exec.Command("sh", append([]string{"-c", `umask 077; exec env TZ=Pacific/Kiritimati LC_ALL=C make "$@"`,
		"sh", "-C", dir, "release"}, vars...)...)
	if os.Getenv("NETREADY_REPRO_COLD") != "" {
		// A build cache of its own: every package and tool compiled
		// afresh, so that the compiler's output is compared too, not
		// reused from the first build.
		cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir())
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second build: make release: %v\n%s", err, out)
	}
	t.Logf("second build, in %s: %.1fs", dir, time.Since(start).Seconds())

	second := filepath.Join(dir, "dist")
	var names []string
	for _, arch := range arches {
		pa := pkgArches[slices.IndexFunc(pkgArches, func(pa pkgArch) bool { return pa.deb == arch })]
		names = append(names, "netready_"+a.version+"_"+arch+".deb", "netready-"+a.version+"-1."+pa.rpm+".rpm",
			"netready_"+a.version+"_"+arch+".cdx.json", filepath.Join("stage", arch, "netready"))
	}
	names = append(names, filepath.Base(img.archive), filepath.Join("oci", "index.json"))
	for _, f := range distFiles(t, filepath.Join(distDir, "stage", "docs")) {
		names = append(names, filepath.Join("stage", "docs", f))
	}
	same := 0
	for _, name := range names {
		a, errA := os.ReadFile(filepath.Join(distDir, name))
		b, errB := os.ReadFile(filepath.Join(second, name))
		if errA != nil || errB != nil {
			t.Errorf("%s: %v, %v", name, errA, errB)
			continue
		}
		if bytes.Equal(a, b) {
			same++
			continue
		}
		t.Errorf("%s differs between the two builds:\n%s", name, showDifference(t, filepath.Join(distDir, name), filepath.Join(second, name), a, b))
	}
	// The second build's checksums hold for the first build's files.
	sums := exec.Command("sha256sum", "-c", filepath.Join(second, "SHA256SUMS"))
	sums.Dir = distDir
	if out, err := sums.CombinedOutput(); err != nil {
		t.Errorf("the second build's SHA256SUMS, checked against the first build: %v\n%s", err, out)
	}
	t.Logf("%d files compared, %d identical; image index sha256 %x", len(names), same, sha256.Sum256(mustRead(t, filepath.Join(distDir, "oci", "index.json"))))
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

// TestShowDifference: a difference is located, and shown by diffoscope
// where it is installed.
func TestShowDifference(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ca, cb := []byte("same line\nfirst build\n"), []byte("same line\nsecond build\n")
	if err := os.WriteFile(a, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, cb, 0o644); err != nil {
		t.Fatal(err)
	}
	got := showDifference(t, a, b, ca, cb)
	if !strings.Contains(got, "first difference at byte 10\n") {
		t.Errorf("got\n%s\nwant the first difference at byte 10", got)
	}
	if _, err := exec.LookPath("diffoscope"); err != nil {
		return
	}
	if !strings.Contains(got, "-first build") || !strings.Contains(got, "+second build") {
		t.Errorf("got\n%s\nwant diffoscope's report of the differing lines", got)
	}
}
