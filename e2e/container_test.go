package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// buildDir holds the netready binary built for the whole test binary;
// TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "netready-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	return roottest.Wrap(m).Run()
}

// tools are the commands the tests run, with the Debian package of each.
var tools = []struct{ cmd, pkg string }{
	{"systemd-nspawn", "systemd-container"},
	{"nsenter", "util-linux"},
	{"journalctl", "systemd"},
	{"systemctl", "systemd"},
	{"ip", "iproute2"},
	{"go", "golang (or Go from go.dev)"},
}

func needTools(t *testing.T) {
	t.Helper()
	roottest.Require(t) // boots a container, creates network namespaces
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			t.Fatalf("%s is needed: install Debian's %s package (%v)", tool.cmd, tool.pkg, err)
		}
	}
}

var (
	buildOnce sync.Once
	binDir    string
	errBuild  error
)

// netreadyBin builds netready from the working tree, once per test binary,
// and returns the directory that holds it (as "netready", the only file):
// the container sees that directory laid over its /usr/bin.
func netreadyBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			errBuild = err
			return
		}
		dir := filepath.Join(buildDir, "bin")
		if err := os.Mkdir(dir, 0o755); err != nil {
			errBuild = err
			return
		}
		// As make build does: without urfave/cli's document writers.
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", filepath.Join(dir, "netready"), ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			errBuild = fmt.Errorf("go build netready: %w\n%s", err, out)
			return
		}
		binDir = dir
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binDir
}

// monoNow returns CLOCK_MONOTONIC in microseconds: the clock of the
// journal's __MONOTONIC_TIMESTAMP and of systemd's *TimestampMonotonic
// properties, which a container shares with the host (nspawn makes no time
// namespace; boot checks it).
func monoNow(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// fmtMono formats a CLOCK_MONOTONIC time in microseconds as seconds.
func fmtMono(us int64) string { return fmt.Sprintf("%.3fs", float64(us)/1e6) }

// unitDir is a directory the container sees as /etc/systemd/system.
type unitDir string

func newUnitDir(t *testing.T) unitDir {
	t.Helper()
	d := unitDir(filepath.Join(t.TempDir(), "units"))
	if err := os.Mkdir(string(d), 0o755); err != nil {
		t.Fatal(err)
	}
	// With an empty /etc the container's systemd sees a first boot, and
	// systemd-firstboot would wait for answers on the console.
	d.mask(t, "systemd-firstboot.service")
	return d
}

// write writes a unit file, or a drop-in when name is "UNIT.d/FILE.conf".
func (d unitDir) write(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(string(d), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// install copies a file of the repository (relative to its root) as unit
// name.
func (d unitDir) install(t *testing.T, src, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", src))
	if err != nil {
		t.Fatal(err)
	}
	d.write(t, name, string(b))
}

// enable links unit into target's .wants directory, as "systemctl enable"
// does for WantedBy=target.
func (d unitDir) enable(t *testing.T, target, unit string) {
	t.Helper()
	dir := filepath.Join(string(d), target+".wants")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+unit, filepath.Join(dir, unit)); err != nil {
		t.Fatal(err)
	}
}

func (d unitDir) mask(t *testing.T, unit string) {
	t.Helper()
	if err := os.Symlink("/dev/null", filepath.Join(string(d), unit)); err != nil {
		t.Fatal(err)
	}
}

// Deadlines. Here systemd answers 1 to 3s after nspawn starts, and powers
// off in 0.3 to 1s; up to 12s and 4s with both cores loaded five times over.
const (
	bootTimeout = 60 * time.Second // nspawn started → the container's systemd answers
	haltTimeout = 20 * time.Second // SIGTERM (poweroff) → nspawn exits
	killTimeout = 10 * time.Second // second SIGTERM, then SIGKILL → nspawn exits
	cmdTimeout  = 15 * time.Second // one systemctl or journalctl run
)

// container is a systemd booted by systemd-nspawn from the host's /usr, with
// tmpfs /etc and /var.
type container struct {
	name       string
	journalDir string // the container's /var/log/journal
	logPath    string // nspawn's output: its console
	cmd        *exec.Cmd
	exited     chan struct{} // closed once nspawn has exited
	leader     int           // the container's PID 1, as the host numbers it
	startMono  int64         // CLOCK_MONOTONIC (µs) just before nspawn started
}

// bootOptions is what the container boots with.
type bootOptions struct {
	ns       *netnstest.NS // the container's network namespace
	units    unitDir       // its /etc/systemd/system
	defaults string        // its /etc/default/netready
	// Trees laid, in this order, over the host's /usr (read-only), each a
	// /usr of its own: packages for the container only.
	usr []string
	// Trees the container's /etc starts from, lowest first: a writable
	// overlay whose changes are discarded. Without them /etc is an empty
	// tmpfs.
	etc []string
	// More capabilities for the container's processes than nspawn's
	// default set, e.g. CAP_NET_ADMIN for a network stack (over the test's
	// namespace only).
	caps []string
}

// boot starts the container and returns once its systemd answers over its
// private socket. The container is powered off, and waited for, when t
// ends; it must be the last thing the test sets up that the container uses
// (its namespaces and directories are removed after it stops).
func boot(t *testing.T, o bootOptions) *container {
	t.Helper()
	bin := netreadyBin(t)
	dir := t.TempDir()
	c := &container{
		name:       fmt.Sprintf("nrt-e2e-%d-%s", os.Getpid(), randomHex(t, 3)),
		journalDir: filepath.Join(dir, "journal"),
		logPath:    filepath.Join(dir, "nspawn.log"),
		exited:     make(chan struct{}),
	}
	if err := os.Mkdir(c.journalDir, 0o755); err != nil {
		t.Fatal(err)
	}
	defaults := filepath.Join(dir, "default-netready")
	if err := os.WriteFile(defaults, []byte(o.defaults), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	esc := func(p string) string { return strings.ReplaceAll(p, ":", `\:`) }
	args := []string{
		"--directory=/", "--boot",
		// The host's /usr, read-only; /etc and /var are an empty tmpfs.
		"--volatile=yes",
		// Registering with machined and making a scope unit need systemd
		// as the host's PID 1, which a CI container lacks: the container
		// stays in the test's own cgroup, unregistered.
		"--register=no", "--keep-unit",
		"--machine=" + c.name,
		// The machine ID, and so the journal's subdirectory.
		"--uuid=" + randomHex(t, 16),
		// The test's namespace, joined by nspawn itself. Under "ip netns
		// exec", which mounts a fresh /sys without /sys/fs/cgroup, nspawn
		// fails: "Failed to determine whether the unified cgroups
		// hierarchy is used".
		"--network-namespace-path=/run/netns/" + o.ns.Name,
		// The console's output (boot and shutdown messages) goes to
		// nspawn's stdout, kept for failure messages.
		"--console=read-only",
		// Nothing of the host's /etc: not its resolv.conf (the container
		// resolves no names), not its timezone, not its journal.
		"--resolv-conf=off", "--timezone=off", "--link-journal=no",
		"--bind-ro=" + esc(string(o.units)) + ":/etc/systemd/system",
		"--bind-ro=" + esc(defaults) + ":/etc/default/netready",
		"--bind=" + esc(c.journalDir) + ":/var/log/journal",
	}
	// /usr/bin/netready, as the shipped unit runs it: the directory
	// holding the test's build laid over the host's /usr/bin, and over the
	// bin/ of the trees laid over /usr. nspawn mounts a parent before its
	// children (/usr, then /usr/bin; /etc, then /etc/systemd/system),
	// whatever the order of the options.
	usrBin := []string{"/usr/bin"}
	if len(o.usr) > 0 {
		usr := []string{"/usr"}
		for _, u := range o.usr {
			usr = append(usr, esc(u))
			if fi, err := os.Stat(filepath.Join(u, "bin")); err == nil && fi.IsDir() {
				usrBin = append(usrBin, esc(filepath.Join(u, "bin")))
			}
		}
		args = append(args, "--overlay-ro="+strings.Join(usr, ":")+":/usr")
	}
	args = append(args, "--overlay-ro="+strings.Join(usrBin, ":")+":"+esc(bin)+":/usr/bin")
	if len(o.caps) > 0 {
		args = append(args, "--capability="+strings.Join(o.caps, ","))
	}
	if len(o.etc) > 0 {
		var etc []string
		for _, e := range o.etc {
			etc = append(etc, esc(e))
		}
		// The upper directory, where the container's writes go, is the
		// test's (overlayfs puts its work directory beside it).
		upper := filepath.Join(dir, "etc-upper")
		if err := os.Mkdir(upper, 0o755); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--overlay="+strings.Join(etc, ":")+":"+esc(upper)+":/etc")
	}
	c.cmd = exec.Command("systemd-nspawn", args...)
	c.cmd.Stdout = logFile
	c.cmd.Stderr = logFile
	// Should the test binary die without its cleanups (a -timeout panic),
	// nspawn gets SIGTERM and powers the container off.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	c.startMono = monoNow(t)
	started := make(chan error)
	go func() {
		// Pdeathsig fires when the thread that started the child exits,
		// not the process: this one stays, locked, until nspawn exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := c.cmd.Start()
		started <- err
		if err == nil {
			c.cmd.Wait()
			close(c.exited)
		}
	}()
	if err := <-started; err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	t.Cleanup(func() { c.stop(t) })

	deadline := time.Now().Add(bootTimeout)
	for c.leader == 0 {
		select {
		case <-c.exited:
			t.Fatalf("systemd-nspawn exited at once (%v):\n%s", c.cmd.ProcessState, c.nspawnLog())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no container init under systemd-nspawn (pid %d) after %v:\n%s", c.cmd.Process.Pid, bootTimeout, c.nspawnLog())
		}
		c.leader = findLeader(c.cmd.Process.Pid)
	}
	for {
		// It exits non-zero until the boot is over, printing the state.
		out, _ := c.systemctl("is-system-running")
		if systemStates[strings.TrimSpace(out)] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's systemd does not answer after %v: %s\n%s", bootTimeout, out, c.nspawnLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// systemStates are what "systemctl is-system-running" prints once the
// manager answers.
var systemStates = map[string]bool{
	"initializing": true, "starting": true, "running": true, "degraded": true,
	"maintenance": true, "stopping": true,
}

// findLeader returns the child of nspawn that is PID 1 of its own PID
// namespace, or 0.
func findLeader(nspawn int) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		st := parseStatus(string(b))
		nspid := strings.Fields(st["NSpid"])
		if st["PPid"] == strconv.Itoa(nspawn) && len(nspid) > 1 && nspid[len(nspid)-1] == "1" {
			return pid
		}
	}
	return 0
}

// parseStatus parses /proc/PID/status into its fields.
func parseStatus(s string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// stop powers the container off (nspawn turns SIGTERM into a poweroff
// request to the container's systemd) and waits for it. A shutdown that
// hangs gets a second SIGTERM, which nspawn answers by killing the
// container at once, then SIGKILL for nspawn and the container's init.
func (c *container) stop(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	begin := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		t.Logf("container %s powered off in %v", c.name, time.Since(begin).Round(time.Millisecond))
		return
	case <-time.After(haltTimeout):
	}
	t.Logf("container %s still up %v after SIGTERM: sending a second SIGTERM", c.name, haltTimeout)
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(killTimeout):
	}
	t.Errorf("container %s still up %v after a second SIGTERM: killing it\n%s", c.name, killTimeout, c.nspawnLog())
	if c.leader != 0 {
		// PID 1 of a PID namespace takes every process of it along.
		syscall.Kill(c.leader, syscall.SIGKILL)
	}
	c.cmd.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(killTimeout):
		t.Errorf("systemd-nspawn (pid %d) survived SIGKILL for %v", c.cmd.Process.Pid, killTimeout)
	}
}

// nspawnLog returns the end of nspawn's output: the container's console.
func (c *container) nspawnLog() string {
	b, _ := os.ReadFile(c.logPath)
	const max = 8 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

// nsenter runs a command in all the container's namespaces (its systemd
// answers systemctl there over /run/systemd/private) and returns its
// combined output.
func (c *container) nsenter(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(c.leader), "--all", "--", name}, args...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in the container: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

func (c *container) systemctl(args ...string) (string, error) {
	return c.nsenter("systemctl", append([]string{"--no-pager"}, args...)...)
}

// show returns properties of a unit ("systemctl show -p ...").
func (c *container) show(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := c.systemctl("show", unit, "--property="+strings.Join(props, ","))
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m
}

// monoProp returns a *TimestampMonotonic property in microseconds; 0 means
// the event has not happened.
func monoProp(t *testing.T, props map[string]string, name string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(props[name], 10, 64)
	if err != nil {
		t.Fatalf("property %s=%q: %v", name, props[name], err)
	}
	return v
}

// entry is one entry of the container's journal.
type entry struct {
	mono   int64  // __MONOTONIC_TIMESTAMP, in µs
	unit   string // the unit whose process wrote it (_SYSTEMD_UNIT)
	about  string // for systemd's own messages, the unit they are about (UNIT)
	comm   string // _COMM
	uid    string // _UID
	gid    string // _GID
	capEff string // _CAP_EFFECTIVE, hexadecimal
	msg    string
}

func (e entry) String() string {
	return fmt.Sprintf("[%s] %s(uid %s) %s", fmtMono(e.mono), e.comm, e.uid, e.msg)
}

// journal reads every entry of the container's journal so far (journald
// writes it to the bind-mounted /var/log/journal once
// systemd-journal-flush.service has run, early at boot).
func (c *container) journal() ([]entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "journalctl", "--directory="+c.journalDir, "--output=json", "--no-pager", "--quiet")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl --directory=%s: %w: %s", c.journalDir, err, stderr.String())
	}
	return parseJournal(out)
}

// parseJournal parses journalctl's JSON output: one object per line, each
// field a string, or an array of bytes for a value that is not printable
// text, or an array of those for a field given more than once.
func parseJournal(out []byte) ([]entry, error) {
	var entries []entry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, fmt.Errorf("journal entry %q: %w", sc.Text(), err)
		}
		f := func(k string) string { return journalValue(raw[k]) }
		mono, err := strconv.ParseInt(f("__MONOTONIC_TIMESTAMP"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal entry %q: __MONOTONIC_TIMESTAMP: %w", sc.Text(), err)
		}
		entries = append(entries, entry{
			mono:   mono,
			unit:   f("_SYSTEMD_UNIT"),
			about:  f("UNIT"),
			comm:   f("_COMM"),
			uid:    f("_UID"),
			gid:    f("_GID"),
			capEff: f("_CAP_EFFECTIVE"),
			msg:    f("MESSAGE"),
		})
	}
	return entries, sc.Err()
}

func journalValue(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var b []byte
	var ints []int
	if json.Unmarshal(v, &ints) == nil {
		for _, i := range ints {
			b = append(b, byte(i))
		}
		return string(b)
	}
	var multi []json.RawMessage
	if json.Unmarshal(v, &multi) == nil && len(multi) > 0 {
		return journalValue(multi[0])
	}
	return string(v)
}

// of returns the entries written by unit's processes, or by systemd about
// unit.
func of(entries []entry, unit string) []entry {
	var r []entry
	for _, e := range entries {
		if e.unit == unit || e.about == unit {
			r = append(r, e)
		}
	}
	return r
}

// first returns the first entry of unit's own processes named comm (any,
// if comm is "") whose message contains every one of subs.
func first(entries []entry, unit, comm string, subs ...string) (entry, bool) {
	for _, e := range entries {
		if e.unit != unit || comm != "" && e.comm != comm {
			continue
		}
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(e.msg, s)
		}
		if ok {
			return e, true
		}
	}
	return entry{}, false
}

// dump formats entries for a failure message.
func dump(entries []entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}

// waitFor polls cond every 200ms until it is true or timeout passes, and
// reports which.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitJournal waits until the container's journal has an entry of unit's
// process comm containing subs, and returns it; it fails the test at the
// deadline.
func (c *container) waitJournal(t *testing.T, timeout time.Duration, unit, comm string, subs ...string) entry {
	t.Helper()
	var (
		found   entry
		entries []entry
		err     error
	)
	ok := waitFor(timeout, func() bool {
		entries, err = c.journal()
		if err != nil {
			return false
		}
		var ok bool
		found, ok = first(entries, unit, comm, subs...)
		return ok
	})
	if !ok {
		t.Fatalf("no %s line of %s with %q in the journal after %v (%v); the unit's journal:\n%s\nconsole:\n%s",
			comm, unit, subs, timeout, err, dump(of(entries, unit)), c.nspawnLog())
	}
	return found
}

// line is a journal line a test expects: from a process of unit named comm
// (any, if ""), containing subs.
type line struct {
	unit, comm string
	subs       []string
}

// journalWith reads the container's journal once it holds every one of
// lines, or at the deadline: journald reads a unit's output from a stream,
// so what a process writes just before it exits can reach the journal a
// little after systemd has seen the exit. What is missing at the deadline
// is for the caller's checks to report.
func (c *container) journalWith(t *testing.T, timeout time.Duration, lines ...line) []entry {
	t.Helper()
	var (
		entries []entry
		err     error
	)
	waitFor(timeout, func() bool {
		entries, err = c.journal()
		if err != nil {
			return false
		}
		for _, l := range lines {
			if _, ok := first(entries, l.unit, l.comm, l.subs...); !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// serve accepts connections on l and closes them, until l is closed.
func serve(l net.Listener) {
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return // closed when the test ends
			}
			conn.Close()
		}
	}()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
