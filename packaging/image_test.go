package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

// image is what one "make image" run produced.
type image struct {
	layout  string // the OCI layout directory
	archive string // the same as an OCI archive
	tag     string // the image's tag, the package version made valid in a tag
	epoch   int64  // SOURCE_DATE_EPOCH: every timestamp in the image
	commit  string
}

var (
	imageOnce sync.Once
	builtImg  image
	errImage  error
)

// buildImage runs "make image" once per test binary, after "make package"
// (it reuses the staged binaries' build cache), into distDir.
func buildImage(t *testing.T) (artifacts, image) {
	t.Helper()
	a := build(t)
	imageOnce.Do(func() { builtImg, errImage = makeImage(a, distDir) })
	if errImage != nil {
		t.Fatal(errImage)
	}
	return a, builtImg
}

func makeImage(a artifacts, dist string) (image, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	epoch, err := git("log", "-1", "--format=%ct")
	if err != nil {
		return image{}, fmt.Errorf("git log: %w", err)
	}
	commit, err := git("rev-parse", "HEAD")
	if err != nil {
		return image{}, fmt.Errorf("git rev-parse: %w", err)
	}
	cmd := exec.Command("make", "-C", repoRoot, "image", "DIST="+dist, "PKGVERSION="+a.version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return image{}, fmt.Errorf("make image: %w\n%s", err, out)
	}
	img := image{
		layout:  filepath.Join(dist, "oci"),
		archive: filepath.Join(dist, "netready_"+a.version+"_oci.tar"),
		tag:     strings.NewReplacer("~", "-", "+", ".").Replace(a.version),
		commit:  commit,
	}
	img.epoch, err = strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return image{}, err
	}
	for _, p := range []string{filepath.Join(img.layout, "index.json"), img.archive} {
		if _, err := os.Stat(p); err != nil {
			return image{}, fmt.Errorf("make image did not write %s: %w", p, err)
		}
	}
	return img, nil
}

// The parts of the OCI image spec's documents these tests read.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

type ociIndex struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []ociDescriptor   `json:"manifests"`
	Annotations   map[string]string `json:"annotations"`
}

type ociManifest struct {
	MediaType string          `json:"mediaType"`
	Config    ociDescriptor   `json:"config"`
	Layers    []ociDescriptor `json:"layers"`
}

type ociConfig struct {
	Created      time.Time `json:"created"`
	OS           string    `json:"os"`
	Architecture string    `json:"architecture"`
	Variant      string    `json:"variant"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created time.Time `json:"created"`
	} `json:"history"`
}

// readBlob reads a blob of the layout, checking its digest and size.
func readBlob(t *testing.T, layout string, d ociDescriptor) []byte {
	t.Helper()
	algo, hexDigest, ok := strings.Cut(d.Digest, ":")
	if !ok || algo != "sha256" {
		t.Fatalf("digest %q: want sha256:HEX", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexDigest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: got sha256 %x and %d bytes, want the digest and %d bytes", d.Digest, sum, len(b), d.Size)
	}
	return b
}

func readJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

// layerFile is one entry of an image's layer.
type layerFile struct {
	mode     int64
	uid, gid int
	mtime    time.Time
	data     []byte
}

// readLayer returns a gzip-compressed layer's entries by path, and the
// sha256 of the uncompressed tar (its diff_id).
func readLayer(t *testing.T, blob []byte) (map[string]layerFile, string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, h))
	files := map[string]layerFile{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimPrefix(hdr.Name, "./")] = layerFile{hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime, data}
	}
	io.Copy(io.Discard, zr)
	return files, "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// TestImageLayout reads the OCI layout "make image" wrote, as a registry or
// a runtime would, without a container tool: one index named
// netready:TAG holding linux/amd64 and linux/arm64; each image's config
// runs /usr/bin/netready as 65532:65532 and carries the
// org.opencontainers.image labels; its one layer holds exactly the
// binary of its platform (byte for byte the packaged one, of the right
// ELF machine), the CA bundle and passwd/group: no shell, nothing else.
// Every timestamp is SOURCE_DATE_EPOCH. The arm64 image's binary also
// runs, under qemu-aarch64-static.
func TestImageLayout(t *testing.T) {
	a, img := buildImage(t)
	epoch := time.Unix(img.epoch, 0).UTC()

	var top ociIndex
	b, err := os.ReadFile(filepath.Join(img.layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	readJSON(t, b, &top)
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json: got %s, want one image index", b)
	}
	if got, want := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"], "netready:"+img.tag; got != want {
		t.Errorf("index.json: got ref.name %q, want %q", got, want)
	}
	var idx ociIndex
	readJSON(t, readBlob(t, img.layout, top.Manifests[0]), &idx)
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "netready",
		"org.opencontainers.image.version":  a.version,
		"org.opencontainers.image.revision": img.commit,
		"org.opencontainers.image.created":  epoch.Format(time.RFC3339),
		"org.opencontainers.image.source":   "https://github.com/netready/netready",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range wantLabels {
		if idx.Annotations[k] != v {
			t.Errorf("image index annotation %s: got %q, want %q", k, idx.Annotations[k], v)
		}
	}

	platforms := map[string]pkgArch{}
	for _, pa := range pkgArches {
		if pa.deb == "amd64" || pa.deb == "arm64" {
			platforms["linux/"+pa.goarch] = pa
		}
	}
	var got []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Fatalf("image index entry %s has no platform", m.Digest)
		}
		plat := m.Platform.OS + "/" + m.Platform.Architecture
		got = append(got, plat)
		pa, ok := platforms[plat]
		if !ok {
			t.Errorf("image index has %s, want only %v", plat, slices.Sorted(maps.Keys(platforms)))
			continue
		}
		t.Run(plat, func(t *testing.T) { checkImage(t, a, img, m, pa, wantLabels, epoch) })
	}
	slices.Sort(got)
	if want := slices.Sorted(maps.Keys(platforms)); !slices.Equal(got, want) {
		t.Errorf("image index platforms: got %v, want %v", got, want)
	}
}

func checkImage(t *testing.T, a artifacts, img image, m ociDescriptor, pa pkgArch, wantLabels map[string]string, epoch time.Time) {
	if pa.deb == "arm64" && m.Platform.Variant != "v8" {
		t.Errorf("platform variant: got %q, want v8", m.Platform.Variant)
	}
	var man ociManifest
	readJSON(t, readBlob(t, img.layout, m), &man)
	if man.MediaType != "application/vnd.oci.image.manifest.v1+json" || man.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("manifest %s: got media types %q, config %q; want OCI's", m.Digest, man.MediaType, man.Config.MediaType)
	}
	var cfg ociConfig
	readJSON(t, readBlob(t, img.layout, man.Config), &cfg)
	if cfg.OS != "linux" || cfg.Architecture != pa.goarch {
		t.Errorf("config: got %s/%s, want linux/%s", cfg.OS, cfg.Architecture, pa.goarch)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("config User: got %q, want 65532:65532 (nonroot)", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/bin/netready"}) {
		t.Errorf("config Entrypoint: got %q, want [/usr/bin/netready]", cfg.Config.Entrypoint)
	}
	for k, v := range wantLabels {
		if cfg.Config.Labels[k] != v {
			t.Errorf("label %s: got %q, want %q", k, cfg.Config.Labels[k], v)
		}
	}
	if !cfg.Created.Equal(epoch) || len(cfg.History) != 1 || !cfg.History[0].Created.Equal(epoch) {
		t.Errorf("config: created %v, history %v; want every time %v (SOURCE_DATE_EPOCH)", cfg.Created, cfg.History, epoch)
	}
	if len(man.Layers) != 1 || man.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("manifest: got layers %+v, want one OCI gzip layer", man.Layers)
	}
	files, diffID := readLayer(t, readBlob(t, img.layout, man.Layers[0]))
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID {
		t.Errorf("config diff_ids: got %v, want [%s]", cfg.RootFS.DiffIDs, diffID)
	}

	want := map[string]int64{
		"/etc/": 0o755, "/etc/group": 0o644, "/etc/passwd": 0o644,
		"/etc/ssl/": 0o755, "/etc/ssl/certs/": 0o755, "/etc/ssl/certs/ca-certificates.crt": 0o644,
		"/usr/": 0o755, "/usr/bin/": 0o755, "/usr/bin/netready": 0o755,
	}
	for name, f := range files {
		mode, ok := want[name]
		if !ok {
			t.Errorf("layer has %s, want only netready, the CA bundle and passwd/group (no shell)", name)
			continue
		}
		if f.mode != mode || f.uid != 0 || f.gid != 0 || !f.mtime.Equal(epoch) {
			t.Errorf("%s: got mode %o, owner %d:%d, mtime %v; want %o, 0:0, %v", name, f.mode, f.uid, f.gid, f.mtime, mode, epoch)
		}
	}
	for name := range want {
		if _, ok := files[name]; !ok {
			t.Errorf("layer has no %s", name)
		}
	}
	if !strings.Contains(string(files["/etc/passwd"].data), "\nnonroot:x:65532:65532:") ||
		!strings.Contains(string(files["/etc/group"].data), "\nnonroot:x:65532:") {
		t.Errorf("passwd/group have no nonroot 65532:\n%s%s", files["/etc/passwd"].data, files["/etc/group"].data)
	}
	staged, err := os.ReadFile(a.arches[pa.deb].bin)
	if err != nil {
		t.Fatal(err)
	}
	bin := files["/usr/bin/netready"].data
	if !bytes.Equal(bin, staged) {
		t.Errorf("/usr/bin/netready differs from the packaged %s binary", pa.deb)
	}
	path := filepath.Join(t.TempDir(), "netready")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	checkELF(t, path, pa)
	if pa.qemu != "" && pa.deb != hostArch() {
		out := command(t, pa.qemu, path, "version")
		if !strings.Contains(out, "linux/"+pa.goarch+")") {
			t.Errorf("%s netready version: got %q, want linux/%s", pa.qemu, out, pa.goarch)
		}
	}
}

// podman runs Debian's podman with all of its state under one temporary
// directory: its image store (vfs: no overlay mounts to leave behind), its
// run state, its network configuration (unused: containers join a test
// namespace). runc, not podman's default crun, which refuses a host whose
// cgroups are in hybrid mode, as here.
type podman struct {
	dir  string
	args []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	needTools(t, "podman", "runc", "conmon")
	runc, _ := exec.LookPath("runc")
	dir := t.TempDir()
	p := &podman{dir: dir, args: []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"),
		"--network-config-dir", filepath.Join(dir, "net"),
		"--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "none",
		"--runtime", runc,
	}}
	for _, d := range []string{"tmp", "net"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Registered after t.TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		p.cmd("rm", "--all", "--force").Run()
		p.cmd("rmi", "--all", "--force").Run()
		unmountUnder(t, dir)
	})
	return p
}

func (p *podman) cmd(args ...string) *exec.Cmd {
	return exec.Command("podman", append(slices.Clone(p.args), args...)...)
}

// run runs podman and returns its stdout, stderr and exit code; a podman
// that cannot start at all fails the test.
func (p *podman) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := p.cmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// unmountUnder lazily unmounts whatever podman left mounted under dir (a
// container's /dev/shm, should it not have cleaned up), deepest first.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", m, err)
		}
	}
}

// TestIntegrationImagePodman loads the OCI archive with podman (Debian's, rootful,
// its state in a temporary directory) and runs the linux/amd64 image in a
// lab of two network namespaces (--network ns:...): its config says
// nonroot and the netready entrypoint; "version" runs as that user;
// "check" passes (exit 0) on a default route and a TCP listener in the
// lab, and fails (exit 1) on a refused port; a shell cannot be started
// (there is none). No registry is asked (--pull never), no resolv.conf or
// hosts file is given (--dns none, --no-hosts), and podman's own network
// is never used.
func TestIntegrationImagePodman(t *testing.T) {
	roottest.Require(t) // runs rootful podman and creates network namespaces
	_, img := buildImage(t)
	p := newPodman(t)
	out, stderr, code := p.run(t, "load", "--input", img.archive)
	if code != 0 {
		t.Fatalf("podman load: exit %d: %s%s", code, out, stderr)
	}
	name := "localhost/netready:" + img.tag
	if !strings.Contains(out+stderr, "Loaded image: "+name) {
		t.Fatalf("podman load: got %q, want it to load %s", out+stderr, name)
	}

	out, stderr, code = p.run(t, "image", "inspect", "--format",
		"{{.Config.User}}|{{json .Config.Entrypoint}}|{{.Os}}/{{.Architecture}}|{{index .Config.Labels \"org.opencontainers.image.title\"}}", name)
	if want := "65532:65532|[\"/usr/bin/netready\"]|linux/" + runtime.GOARCH + "|netready\n"; code != 0 || out != want {
		t.Errorf("podman image inspect: exit %d, got %q, want %q: %s", code, out, want, stderr)
	}

	lab := newArchLab(t)
	runArgs := func(extra ...string) []string {
		args := []string{"run", "--rm", "--pull", "never",
			"--network", "ns:/run/netns/" + lab.client.Name, "--dns", "none", "--no-hosts",
			// This machine's root lacks CAP_SYS_RESOURCE: the container's
			// limits may only be lowered, and podman's defaults raise them.
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
		return append(args, extra...)
	}
	start := time.Now()
	out, stderr, code = p.run(t, runArgs(name, "version")...)
	if code != 0 || !strings.Contains(out, "linux/"+runtime.GOARCH+")") {
		t.Errorf("podman run %s version: exit %d, stdout %q, stderr %q", name, code, out, stderr)
	}
	t.Logf("podman run ... version: %v", time.Since(start).Round(time.Millisecond))

	pass := []string{"route:default4", "tcp://" + net.JoinHostPort(archLabServer, strconv.Itoa(lab.port))}
	out, stderr, code = p.run(t, runArgs(append([]string{name, "check", "--json"}, pass...)...)...)
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Ready {
		t.Errorf("podman run %s check %s: exit %d, stdout %q (%v), stderr %q; want exit 0, ready", name, strings.Join(pass, " "), code, out, err, stderr)
	}

	fail := "tcp://" + net.JoinHostPort(archLabServer, closedPort)
	out, stderr, code = p.run(t, runArgs(name, "check", "--json", fail)...)
	r = checkReport{}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || r.Ready {
		t.Errorf("podman run %s check %s: exit %d, stdout %q (%v), stderr %q; want exit 1, not ready", name, fail, code, out, err, stderr)
	}

	// No shell: an entrypoint of /bin/sh cannot start (podman's 127:
	// the command was not found in the image).
	out, stderr, code = p.run(t, runArgs("--entrypoint", "/bin/sh", name, "-c", "true")...)
	if code != 127 {
		t.Errorf("podman run --entrypoint /bin/sh: exit %d, stdout %q, stderr %q; want 127 (no such file)", code, out, stderr)
	}
}
