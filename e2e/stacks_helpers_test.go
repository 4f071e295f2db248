package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// needStackTools is needTools for the tests that boot a real network stack:
// they also run dnsmasq in the peer namespace and unpack Debian packages
// for the container with apt-get and dpkg. A user who is not root is told
// and skipped, except in CI and under make test, where they fail.
func needStackTools(t *testing.T) {
	t.Helper()
	roottest.Require(t)
	needTools(t)
	for _, tool := range []struct{ cmd, pkg string }{
		{"dnsmasq", "dnsmasq-base"},
		{"apt-get", "apt"},
		{"dpkg", "dpkg"},
		{"flock", "util-linux"},
	} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			t.Fatalf("%s is needed: install Debian's %s package (scripts/install-test-deps.sh does) (%v)", tool.cmd, tool.pkg, err)
		}
	}
}

var (
	rootsMu sync.Mutex
	roots   = map[string]string{}
)

// containerRoot returns a directory holding Debian's pkgs, and what of
// their dependencies the host lacks, unpacked (never installed on the host)
// by scripts/container-root.sh: its usr/ is laid over the container's /usr
// and its etc/ under the container's /etc. The script caches it under
// /var/cache/netready-e2e; it downloads from Debian's archive the first
// time only.
func containerRoot(t *testing.T, pkgs ...string) string {
	t.Helper()
	key := strings.Join(pkgs, " ")
	rootsMu.Lock()
	defer rootsMu.Unlock()
	if dir, ok := roots[key]; ok {
		return dir
	}
	script, err := filepath.Abs("../scripts/container-root.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, script, pkgs...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/container-root.sh %s: %v\n%s", key, err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if fi, err := os.Stat(filepath.Join(dir, "usr")); err != nil || !fi.IsDir() {
		t.Fatalf("scripts/container-root.sh %s printed %q, not a directory with usr/ (%v)\n%s", key, dir, err, stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "PACKAGES"))
	t.Logf("container-only packages for %s, in %s: %s", key, dir, strings.Join(strings.Fields(string(b)), " "))
	roots[key] = dir
	return dir
}

// enableShipped links a unit that the host's /usr, or a tree laid over it,
// ships into target's .wants directory, as "systemctl enable" does.
func (d unitDir) enableShipped(t *testing.T, target, unit string) {
	t.Helper()
	dir := filepath.Join(string(d), target+".wants")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/systemd/system/"+unit, filepath.Join(dir, unit)); err != nil {
		t.Fatal(err)
	}
}

// etcTree is a directory the container's /etc starts from, above the
// packages' own etc/.
type etcTree string

func newEtcTree(t *testing.T) etcTree {
	t.Helper()
	d := etcTree(filepath.Join(t.TempDir(), "etc"))
	if err := os.Mkdir(string(d), 0o755); err != nil {
		t.Fatal(err)
	}
	// glibc's default without it is the same, said here for whoever reads
	// the container's /etc.
	d.write(t, "nsswitch.conf", "passwd: files systemd\ngroup: files systemd\nhosts: files dns\n", 0o644)
	// Every Debian system has one; dhclient-script reads it to learn
	// whether / is mounted read-write before it writes resolv.conf.
	d.write(t, "fstab", "# <file system> <mount point> <type> <options> <dump> <pass>\n", 0o644)
	return d
}

func (d etcTree) write(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(string(d), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func (d etcTree) symlink(t *testing.T, name, target string) {
	t.Helper()
	p := filepath.Join(string(d), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// monoClock is monoNow for goroutines, which have no t to fail.
func monoClock() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

// logLine is a line a server wrote, stamped with CLOCK_MONOTONIC (µs) when
// the test read it.
type logLine struct {
	mono int64
	text string
}

// dnsmasq is a dnsmasq running in the foreground in a namespace, logging
// to its stderr, which the test reads line by line as it comes.
type dnsmasq struct {
	name    string
	cmd     *exec.Cmd
	started int64 // CLOCK_MONOTONIC (µs) just before it was started

	mu     sync.Mutex
	lines  []logLine
	update chan struct{} // closed and replaced at each new line
	exited chan struct{}
}

// startDnsmasq starts dnsmasq in ns with no configuration file, no upstream,
// no hosts file, as root, and args; it is stopped when t ends.
func startDnsmasq(t *testing.T, ns *netnstest.NS, name string, args ...string) *dnsmasq {
	t.Helper()
	base := []string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
		"--user=root", "--group=root", "--log-facility=-",
		"--no-resolv", "--no-hosts", "--bind-interfaces",
	}
	d := &dnsmasq{name: name, update: make(chan struct{}), exited: make(chan struct{})}
	d.cmd = ns.Command(context.Background(), "dnsmasq", append(base, args...)...)
	// Should the test binary die without its cleanups, so does dnsmasq
	// ("ip netns exec" execs it: the setting carries over).
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = d.cmd.Stderr
	started := make(chan error)
	go func() {
		// Pdeathsig fires when the starting thread exits: keep it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		d.started = monoClock()
		err := d.cmd.Start()
		started <- err
		if err != nil {
			return
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, logLine{monoClock(), sc.Text()})
			close(d.update)
			d.update = make(chan struct{})
			d.mu.Unlock()
		}
		d.cmd.Wait()
		close(d.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start dnsmasq (%s): %v", name, err)
	}
	t.Cleanup(func() { d.stop() })
	return d
}

func (d *dnsmasq) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// log returns what dnsmasq wrote so far.
func (d *dnsmasq) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	for _, l := range d.lines {
		b.WriteString(fmtMono(l.mono) + " " + l.text + "\n")
	}
	return b.String()
}

// find returns the first line containing sub, if any.
func (d *dnsmasq) find(sub string) (logLine, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lines {
		if strings.Contains(l.text, sub) {
			return l, true
		}
	}
	return logLine{}, false
}

// waitLine waits for a line containing sub and returns it; it fails the
// test if dnsmasq exits or the timeout passes first.
func (d *dnsmasq) waitLine(t *testing.T, timeout time.Duration, sub string) logLine {
	t.Helper()
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		update := d.update
		d.mu.Unlock()
		if l, ok := d.find(sub); ok {
			return l
		}
		select {
		case <-update:
		case <-d.exited:
			if l, ok := d.find(sub); ok {
				return l
			}
			t.Fatalf("dnsmasq (%s) exited (%v) before writing %q:\n%s", d.name, d.cmd.ProcessState, sub, d.log())
		case <-deadline:
			t.Fatalf("dnsmasq (%s) wrote no %q in %v:\n%s", d.name, sub, timeout, d.log())
		}
	}
}
