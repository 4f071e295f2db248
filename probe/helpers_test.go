package probe

// Helpers shared by the loopback tests of the dns, tcp, http, tls and round
// probes. Every server they start listens on a loopback address, and every
// Env they build reads a resolv.conf and a hosts file written in the test's
// temporary directory, never the host's.

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
)

// loopbackEnv writes resolvConf and, unless hosts is empty, a hosts file
// into a temporary directory and returns a fresh Env reading them.
func loopbackEnv(t testing.TB, resolvConf, hosts string) *Env {
	t.Helper()
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(rc, []byte(resolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	hostsFile := ""
	if hosts != "" {
		hostsFile = filepath.Join(dir, "hosts")
		if err := os.WriteFile(hostsFile, []byte(hosts), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := NewEnv(rc, hostsFile, nil)
	// The host's clock may or may not be synchronised; tests that need
	// it unsynchronised say so.
	env.clock = syncedClock
	return env
}

func syncedClock() (clockState, error) {
	return clockState{synced: true, maxError: 2 * time.Millisecond, estErr: time.Millisecond}, nil
}

func unsyncedClock() (clockState, error) {
	return clockState{maxError: 16 * time.Second, estErr: 16 * time.Second, unsyncFlag: true}, nil
}

// noResolvers is a resolv.conf for tests whose targets need no resolver: it
// names a loopback address nothing listens on, so a lookup that should not
// happen fails at once instead of leaving the host.
const noResolvers = "nameserver 127.213.0.254\n"

// mustParse parses a target or fails the test.
func mustParse(t testing.TB, raw string) Target {
	t.Helper()
	tg, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%q): %v", raw, err)
	}
	return tg
}

// probeWithin probes raw once, the attempt bounded by timeout.
func probeWithin(t testing.TB, env *Env, raw string, timeout time.Duration) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return Probe(ctx, env, mustParse(t, raw))
}

// want is what a test expects of a Result: pass or fail, and distinctive
// parts of its error, hint and detail ("" to not check).
type want struct {
	ok     bool
	err    []string // each must be in Err
	cause  Cause    // "" to not check
	hint   string
	detail string
	phases []string // the names of Phases, in order; nil to not check
}

// subst returns w with the placeholders of r replaced in every string.
func (w want) subst(r *strings.Replacer) want {
	w.err = append([]string(nil), w.err...)
	for i, s := range w.err {
		w.err[i] = r.Replace(s)
	}
	w.hint, w.detail = r.Replace(w.hint), r.Replace(w.detail)
	return w
}

// check compares r with w.
func (w want) check(t testing.TB, r Result) {
	t.Helper()
	if r.OK != w.ok {
		t.Fatalf("OK: got %v, want %v (err: %v, detail: %q)", r.OK, w.ok, r.Err, r.Detail)
	}
	if w.ok {
		if r.Err != nil || r.Hint != "" {
			t.Errorf("passing result: got err %v and hint %q, want neither", r.Err, r.Hint)
		}
	} else if r.Err == nil {
		t.Fatalf("Err: got nil, want an error")
	}
	for _, s := range w.err {
		if !strings.Contains(r.Err.Error(), s) {
			t.Errorf("Err: got %q, want it to contain %q", r.Err, s)
		}
	}
	if w.cause != "" && r.Cause != w.cause {
		t.Errorf("Cause: got %q, want %q (err: %v)", r.Cause, w.cause, r.Err)
	}
	if !strings.Contains(r.Hint, w.hint) {
		t.Errorf("Hint: got %q, want it to contain %q", r.Hint, w.hint)
	}
	if !strings.Contains(r.Detail, w.detail) {
		t.Errorf("Detail: got %q, want it to contain %q", r.Detail, w.detail)
	}
	if w.phases != nil {
		var got []string
		for _, p := range r.Phases {
			got = append(got, string(p.Name))
		}
		if !slices.Equal(got, w.phases) {
			t.Errorf("Phases: got %q, want %q", got, w.phases)
		}
	}
}

// subnetSeq hands out the N of 127.213.N.0/24, so that tests running in
// parallel (and again with -count) bind resolvers at port 53 on addresses of
// their own.
var subnetSeq atomic.Uint32

// loopSubnet is a /24 of loopback addresses reserved for one test.
type loopSubnet uint8

func newLoopSubnet() loopSubnet { return loopSubnet(subnetSeq.Add(1)%250 + 1) }

// addr returns 127.213.N.host.
func (n loopSubnet) addr(host uint8) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 213, uint8(n), host})
}

// serveAt53 starts a dnstest server on UDP and TCP port 53 of ip, which
// resolv.conf can name (it has no port syntax).
func serveAt53(t testing.TB, ip netip.Addr, zone ...string) *dnstest.Server {
	t.Helper()
	ap := netip.AddrPortFrom(ip, 53).String()
	pc, err := net.ListenPacket("udp", ap)
	if err != nil {
		t.Fatalf("listen udp %s: %v", ap, err)
	}
	l, err := net.Listen("tcp", ap)
	if err != nil {
		pc.Close()
		t.Fatalf("listen tcp %s: %v", ap, err)
	}
	return dnstest.Serve(t, pc, l, zone...)
}

// deadUDPPort returns a loopback UDP address nothing listens on: it was
// bound and closed again.
func deadUDPPort(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// deadTCPPort returns a loopback TCP address nothing listens on.
func deadTCPPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tcpListener accepts connections on 127.0.0.1 and closes them at once,
// until the test ends. It returns the listener's port.
func tcpListener(t testing.TB) string {
	t.Helper()
	l := serve(t, func(c net.Conn) { c.Close() })
	return port(t, l.Addr())
}

// serve listens on 127.0.0.1 and hands each connection to handle, on a
// goroutine of its own, until the test ends.
func serve(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, handle)
	return l
}

// serveOn is serve on a listener the caller made; it closes l when the
// test ends.
func serveOn(t testing.TB, l net.Listener, handle func(net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}

// port returns the port of a TCP address.
func port(t testing.TB, a net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsServer serves TLS with cert on 127.0.0.1 until the test ends; each
// connection is handshaken and closed. It returns the port.
func tlsServer(t testing.TB, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, l, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake()
	})
	return port(t, l.Addr())
}
