// Package netnstest makes network namespaces for tests: named namespaces
// (ip netns add), veth pairs created directly inside them, sockets opened
// inside them, commands run inside them, and the kernel's announcements of
// their link, address and route changes, timed (Monitor). Nothing it does touches the
// host's own namespace: links are created in the test's namespaces, never
// moved out of the host's. Everything is removed when the test ends.
//
// It needs root and iproute2; tests that use it fail (they do not skip)
// where either is missing, since CI runs them as root.
package netnstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Prefix starts the name of every namespace this package makes, so leftovers
// are easy to recognise ("ip netns list | grep nrt-").
const Prefix = "nrt-"

var seq atomic.Int64

// NS is a named network namespace that lives until its test ends.
type NS struct {
	Name   string
	handle netns.NsHandle
}

// New creates a network namespace with its loopback up. It is deleted, with
// its /etc/netns/NAME directory, when t ends. For a user who is not root
// it skips t (see roottest.Require).
func New(t testing.TB) *NS {
	t.Helper()
	roottest.Require(t)
	name := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), seq.Add(1))
	run(t, "ip", "netns", "add", name)
	ns := &NS{Name: name}
	t.Cleanup(func() {
		if ns.handle.IsOpen() {
			ns.handle.Close()
		}
		ns.killAll()
		out, err := exec.Command("ip", "netns", "del", name).CombinedOutput()
		if err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
		os.RemoveAll(filepath.Join("/etc/netns", name))
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	ns.handle = h
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// killAll kills what still runs in the namespace (a server a test started
// with Command and did not stop), so that it can be deleted.
func (ns *NS) killAll() {
	out, _ := exec.Command("ip", "netns", "pids", ns.Name).Output()
	for _, f := range strings.Fields(string(out)) {
		exec.Command("kill", "-KILL", f).Run()
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// IP runs "ip -n NAME args..." and fails the test if it fails.
func (ns *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// Sysctl sets a sysctl inside the namespace (net.* keys are per namespace).
func (ns *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	run(t, "ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w", key+"="+value)
}

// Veth creates a veth pair with one end, ifA, in a and the other, ifB, in b.
// Both ends are left down.
func Veth(t testing.TB, a *NS, ifA string, b *NS, ifB string) {
	t.Helper()
	a.IP(t, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name)
}

// Handle returns a netlink handle that works inside the namespace. It is
// closed when t ends.
func (ns *NS) Handle(t testing.TB) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns.handle)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", ns.Name, err)
	}
	t.Cleanup(h.Close)
	return h
}

// Do runs fn on an OS thread switched into the namespace, so sockets fn
// creates belong to it; they can be used from any goroutine afterwards.
// fn must not start goroutines that create sockets.
func (ns *NS) Do(t testing.TB, fn func()) {
	t.Helper()
	done := make(chan struct{})
	var setErr error
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			setErr = err
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.handle); err != nil {
			setErr = err
			runtime.UnlockOSThread()
			return
		}
		fn()
		// Only a thread that is back in its own namespace may be reused;
		// otherwise it stays locked and exits with this goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	<-done
	if setErr != nil {
		t.Fatalf("enter namespace %s: %v", ns.Name, setErr)
	}
}

// Listen opens a TCP listener inside the namespace; it is closed when t ends.
func (ns *NS) Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var (
		l   net.Listener
		err error
	)
	ns.Do(t, func() { l, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatalf("listen tcp %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ListenPacket opens a UDP socket inside the namespace; it is closed when t
// ends.
func (ns *NS) ListenPacket(t testing.TB, addr string) net.PacketConn {
	t.Helper()
	var (
		pc  net.PacketConn
		err error
	)
	ns.Do(t, func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// Command returns a command that runs name inside the namespace through
// "ip netns exec", which also bind-mounts /etc/netns/NAME/* over /etc.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// WriteEtc writes /etc/netns/NAME/file, which a command started with
// Command sees as /etc/file (resolv.conf, hosts).
func (ns *NS) WriteEtc(t testing.TB, file, content string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// HTTPClient returns an HTTP client whose connections are made inside the
// namespace, so that it reaches what listens on the namespace's loopback
// and addresses; it uses no proxy. Request URLs must name an IP address: a
// dial to one address stays on the goroutine that entered the namespace.
// It is usable until the test that made the namespace ends.
func (ns *NS) HTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: ns.dial, DisableKeepAlives: true}}
}

// dial connects to addr from inside the namespace, on a thread of its own.
func (ns *NS) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.handle); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("enter namespace %s: %w", ns.Name, err)}
			return
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		// Only a thread back in its own namespace may be reused;
		// otherwise it stays locked and exits with this goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
