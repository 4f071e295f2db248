package netwatch

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// syncBuffer is a log destination safe for the watcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, opts Options) (*Watcher, *syncBuffer) {
	t.Helper()
	var logs syncBuffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w := Start(opts)
	t.Cleanup(w.Close)
	return w, &logs
}

// waitEvent fails the test if no event arrives within 5s: generous, since
// this asserts that an event comes, not how fast (benchmarks measure that).
func waitEvent(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.Events():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no change event", what)
	}
}

// drain discards events until the watcher has been quiet for quiet.
func drain(w *Watcher, quiet time.Duration) {
	for {
		select {
		case <-w.Events():
		case <-time.After(quiet):
			return
		}
	}
}

func noEvent(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.Events():
		t.Fatalf("%s: got a change event, want none", what)
	case <-time.After(300 * time.Millisecond):
	}
}

func nsHandle(t *testing.T, ns *netnstest.NS) *netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &h
}

func TestMain(m *testing.M) { os.Exit(roottest.Wrap(m).Run()) }

func TestIntegrationNetlinkEvents(t *testing.T) {
	roottest.Require(t)
	a, b := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, a, "veth0", b, "veth1")
	w, _ := start(t, Options{Netlink: true, NetNS: nsHandle(t, a)})
	if !w.Netlink() {
		t.Fatal("netlink subscription inactive")
	}
	drain(w, 100*time.Millisecond)

	steps := []struct {
		what string
		args []string
	}{
		{"link up", []string{"link", "set", "veth0", "up"}},
		{"IPv4 address added", []string{"addr", "add", "10.213.3.2/24", "dev", "veth0"}},
		{"IPv6 address added", []string{"addr", "add", "fd00:213::2/64", "dev", "veth0", "nodad"}},
		{"IPv4 route added", []string{"route", "add", "10.213.4.0/24", "via", "10.213.3.1", "dev", "veth0"}},
		{"IPv6 route added", []string{"-6", "route", "add", "fd00:213:1::/64", "dev", "veth0"}},
		{"IPv4 route deleted", []string{"route", "del", "10.213.4.0/24"}},
		{"link down", []string{"link", "set", "veth0", "down"}},
	}
	for _, s := range steps {
		drain(w, 50*time.Millisecond)
		a.IP(t, s.args...)
		waitEvent(t, w, s.what)
	}
	// A change in another namespace is not this one's business.
	drain(w, 100*time.Millisecond)
	b.IP(t, "addr", "add", "10.213.3.1/24", "dev", "veth1")
	noEvent(t, w, "address added in the peer namespace")
}

// TestIntegrationNetlinkOverrun: a storm of route changes overflows a small netlink
// receive buffer (ENOBUFS); the watcher counts it, signals a change, and
// keeps delivering later changes.
func TestIntegrationNetlinkOverrun(t *testing.T) {
	roottest.Require(t)
	ns := netnstest.New(t)
	ns.IP(t, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.IP(t, "link", "set", "veth0", "up")
	ns.IP(t, "addr", "add", "10.213.5.2/24", "dev", "veth0")
	// The reader is held before its next read while the storm runs, so
	// that the buffer overflows however fast each side is scheduled.
	var hold atomic.Bool
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	w, _ := start(t, Options{Netlink: true, NetNS: nsHandle(t, ns), RcvBuf: 1, beforeReceive: func() {
		if hold.Load() {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
		}
	}})
	drain(w, 100*time.Millisecond)
	hold.Store(true)

	// 2,000 route changes in one batch: far more than 2 KiB of messages,
	// while the reader waits.
	var batch strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&batch, "route add 10.213.%d.%d/32 dev veth0\n", 100+i/250, i%250)
	}
	for i := range 1000 {
		fmt.Fprintf(&batch, "route del 10.213.%d.%d/32 dev veth0\n", 100+i/250, i%250)
	}
	cmd := exec.Command("ip", "-n", ns.Name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	select {
	case <-held: // it read the first change, and waits before the next
	case <-time.After(5 * time.Second):
		t.Fatal("the reader never came back for a second read during the storm")
	}
	hold.Store(false)
	close(release)
	waitEvent(t, w, "route storm")
	// The kernel reports the overrun once the reader has read what the
	// buffer held.
	for deadline := time.Now().Add(5 * time.Second); w.Overruns() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if w.Overruns() == 0 {
		t.Errorf("got no ENOBUFS overrun from a 2,000-change storm on a tiny buffer; the test proves nothing")
	}
	drain(w, 100*time.Millisecond)
	ns.IP(t, "route", "add", "default", "via", "10.213.5.1")
	waitEvent(t, w, "route added after the storm")
}

// TestNetlinkRefused: when the subscription cannot be made (here: in a
// namespace that cannot be entered), the watcher says so once and goes on
// without netlink.
func TestNetlinkRefused(t *testing.T) {
	f, err := os.Open(os.DevNull) // a file descriptor that is not a namespace
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := netns.NsHandle(f.Fd())
	w, logs := start(t, Options{Netlink: true, NetNS: &h})
	if w.Netlink() {
		t.Fatal("netlink reported active")
	}
	if got := strings.Count(logs.String(), "netlink subscription refused"); got != 1 {
		t.Errorf("got %d warnings, want 1:\n%s", got, logs)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content beside path and renames it over path, as
// NetworkManager and resolvconf do.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// relink points the symbolic link path at target by renaming a new link
// over it, as "ln -sfn" and systemd do.
func relink(t *testing.T, target, path string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestResolvConfChanges(t *testing.T) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	resolved := filepath.Join(dir, "run", "resolve")
	nm := filepath.Join(dir, "run", "nm")
	for _, d := range []string{etc, nm} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(etc, "resolv.conf")
	write(t, path, "nameserver 10.213.0.1\n")
	w, _ := start(t, Options{ResolvConf: path})

	steps := []struct {
		what   string
		change func()
		event  bool
	}{
		{"written in place", func() { write(t, path, "nameserver 10.213.0.2\n") }, true},
		// An in-place rewrite truncates first, which is a real (if brief)
		// change; managers that rewrite atomically cause no event.
		{"same contents renamed over it", func() { replace(t, path, "nameserver 10.213.0.2\n") }, false},
		{"replaced by rename", func() { replace(t, path, "nameserver 10.213.0.3\n") }, true},
		{"removed", func() { os.Remove(path) }, true},
		{"symlink to a target whose directory does not exist yet", func() {
			relink(t, "../run/resolve/stub-resolv.conf", path)
		}, false},
		{"the target appears late", func() {
			if err := os.MkdirAll(resolved, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(resolved, "stub-resolv.conf"), "nameserver 127.0.0.53\n")
		}, true},
		{"the target is replaced by rename", func() {
			replace(t, filepath.Join(resolved, "stub-resolv.conf"), "nameserver 127.0.0.53\nsearch test\n")
		}, true},
		{"the link is switched to another target", func() {
			write(t, filepath.Join(nm, "resolv.conf"), "nameserver 10.213.0.9\n")
			relink(t, filepath.Join(nm, "resolv.conf"), path)
		}, true},
		{"the old target changes, which no longer matters", func() {
			replace(t, filepath.Join(resolved, "stub-resolv.conf"), "nameserver 10.213.0.77\n")
		}, false},
		{"the new target is written in place", func() { write(t, filepath.Join(nm, "resolv.conf"), "nameserver 10.213.0.10\n") }, true},
		{"an unrelated file in the same directory", func() { write(t, filepath.Join(etc, "hosts"), "127.0.0.1 localhost\n") }, false},
	}
	for _, s := range steps {
		drain(w, 50*time.Millisecond)
		s.change()
		if s.event {
			waitEvent(t, w, s.what)
		} else {
			noEvent(t, w, s.what)
		}
	}
}

// TestIntegrationCloseAtOnce: Close right after Start returns, though the
// reader may not have run yet: it must not block in Receive.
func TestIntegrationCloseAtOnce(t *testing.T) {
	roottest.Require(t)
	ns := netnstest.New(t)
	h := nsHandle(t, ns)
	for range 200 {
		w := Start(Options{Netlink: true, NetNS: h, ResolvConf: filepath.Join(t.TempDir(), "resolv.conf"), Logger: slog.New(slog.DiscardHandler)})
		done := make(chan struct{})
		go func() { w.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
	}
}

// TestResolvConfLateTargetRace: the symlink's target directory and file
// appear right after the watcher started, as fast as the test can make
// them. A directory created between the watcher's look and its watch on
// the parent once went unseen, and the file written into it with it (about
// once in 400 runs; CI caught it). Each run must give an event.
func TestResolvConfLateTargetRace(t *testing.T) {
	runs := 2000
	if testing.Short() {
		runs = 200
	}
	missed := 0
	for i := range runs {
		dir := t.TempDir()
		etc := filepath.Join(dir, "etc")
		if err := os.Mkdir(etc, 0o755); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(etc, "resolv.conf")
		if err := os.Symlink("../run/resolve/stub-resolv.conf", conf); err != nil {
			t.Fatal(err)
		}
		w := Start(Options{ResolvConf: conf, Logger: slog.New(slog.DiscardHandler)})
		target := filepath.Join(dir, "run", "resolve", "stub-resolv.conf")
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		replace(t, target, "nameserver 10.213.0.1\n")
		select {
		case <-w.Events():
		case <-time.After(5 * time.Second):
			missed++
			t.Errorf("run %d: no change event", i)
		}
		w.Close()
		if missed >= 3 {
			t.FailNow()
		}
	}
}

// TestResolvConfDirectoryReplaced: the file's directory is renamed away or
// removed, and a new one made in its place. The watch on the old directory
// says nothing of the new one, which must be watched in turn (it once was
// taken for watched already, and every later change went unseen).
func TestResolvConfDirectoryReplaced(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace func(dir string) error
	}{
		{"renamed away", func(dir string) error { return os.Rename(dir, dir+".old") }},
		{"removed", os.RemoveAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 20 {
				sub := filepath.Join(t.TempDir(), "run")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(sub, "resolv.conf")
				write(t, path, "nameserver 10.213.0.1\n")
				w, _ := start(t, Options{ResolvConf: path})
				if err := tc.replace(sub); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				waitEvent(t, w, fmt.Sprintf("run %d: the file gone with its directory", i))
				drain(w, 50*time.Millisecond)
				write(t, path, "nameserver 10.213.0.2\n")
				waitEvent(t, w, fmt.Sprintf("run %d: the file written in the new directory", i))
				w.Close()
			}
		})
	}
}

// TestResolvConfLater: with ResolvConfDelay the file is not watched until
// WatchResolvConf, and what changed in between is reported then, at once:
// a new content, and a rewrite that restored the old one (which the
// round before may have read half-way).
func TestResolvConfLater(t *testing.T) {
	const before = "nameserver 10.213.0.1\n"
	cases := []struct {
		what   string
		change func(path string)
		event  bool
	}{
		{"nothing changed", func(string) {}, false},
		{"written", func(p string) { write(t, p, "nameserver 10.213.0.2\n") }, true},
		{"replaced by rename", func(p string) { replace(t, p, "nameserver 10.213.0.2\n") }, true},
		{"removed", func(p string) { os.Remove(p) }, true},
		{"rewritten with what it held", func(p string) {
			write(t, p, "nameserver 10.213.0.2\n")
			// The change time is coarse (a clock tick): the restore
			// comes ticks after Start looked, as after a real round.
			time.Sleep(20 * time.Millisecond)
			write(t, p, before)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "resolv.conf")
			write(t, path, before)
			w, _ := start(t, Options{ResolvConf: path, ResolvConfDelay: time.Hour})
			c.change(path)
			noEvent(t, w, "before WatchResolvConf")
			if w.ResolvConf() {
				t.Fatal("ResolvConf() is true before WatchResolvConf")
			}
			w.WatchResolvConf()
			if !w.ResolvConf() {
				t.Fatal("ResolvConf() is false after WatchResolvConf")
			}
			if c.event {
				waitEvent(t, w, c.what)
			} else {
				noEvent(t, w, c.what)
			}
			w.WatchResolvConf() // a second call changes nothing
			noEvent(t, w, "a second WatchResolvConf")
			write(t, path, "nameserver 10.213.0.3\n")
			waitEvent(t, w, "written once watched")
		})
	}
}

// TestResolvConfLaterClosed: WatchResolvConf after Close does nothing.
func TestResolvConfLaterClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	write(t, path, "nameserver 10.213.0.1\n")
	w := Start(Options{ResolvConf: path, ResolvConfDelay: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	w.Close()
	w.WatchResolvConf()
	if w.ResolvConf() {
		t.Fatal("watching after Close")
	}
}

// TestResolvConfDelay: the deferred watch begins by itself after
// ResolvConfDelay, and reports what changed before it.
func TestResolvConfDelay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	write(t, path, "nameserver 10.213.0.1\n")
	w, _ := start(t, Options{ResolvConf: path, ResolvConfDelay: 200 * time.Millisecond})
	write(t, path, "nameserver 10.213.0.2\n")
	waitEvent(t, w, "written before the delay ran out")
	if !w.ResolvConf() {
		t.Fatal("ResolvConf() is false after an event from the deferred watch")
	}
	write(t, path, "nameserver 10.213.0.3\n")
	waitEvent(t, w, "written once watched")
}
