package main

// IPv6-only hosts: a client with no IPv4 at all whose address, default
// route and resolver come from router advertisements that Debian's
// dnsmasq sends from the server namespace (SLAAC, as the kernel does it),
// names with AAAA records only.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// The IPv6-only lab: the client's veth0 has only the link-local address
// the kernel gives it until a router advertisement from the server's
// veth1 brings a prefix of fd00:213:6::/64.
const (
	v6Prefix = "fd00:213:6::"
	v6Server = "fd00:213:6::1" // the router, the resolver and v6.test
	v6Name   = "v6.test"       // a name with an AAAA record only
)

// v6Zone is what the lab's resolver answers.
var v6Zone = []string{
	". 60 IN NS a.root.test.",
	v6Name + ". 60 IN AAAA " + v6Server,
}

// newV6Lab makes the IPv6-only lab: the server has its address, a resolver
// of v6Zone on [fd00:213:6::1]:53 and a TCP port 8080 listening; the
// client's link is up with the kernel's defaults (accept_ra 1, DAD of one
// probe a second) and a resolv.conf naming the server, as a network stack
// writes it from the advertisement's RDNSS. No router advertisement is
// sent until startRA.
func newV6Lab(t *testing.T) *lab {
	t.Helper()
	l := &lab{client: netnstest.New(t), server: netnstest.New(t)}
	netnstest.Veth(t, l.client, "veth0", l.server, "veth1")
	l.server.IP(t, "addr", "add", v6Server+"/64", "dev", "veth1", "nodad")
	l.server.IP(t, "link", "set", "veth1", "up")
	l.client.IP(t, "link", "set", "veth0", "up")
	waitOperUp(t, l.client, "veth0")
	// A router advertises from its link-local address, which may not be
	// used before its own duplicate address detection is over.
	waitFor(t, "the server's link-local address", func() bool {
		out := l.server.IP(t, "-6", "addr", "show", "dev", "veth1", "scope", "link")
		return strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative")
	})
	hp := "[" + v6Server + "]:53"
	dnstest.Serve(t, l.server.ListenPacket(t, hp), l.server.Listen(t, hp), v6Zone...)
	l.server.Listen(t, "["+v6Server+"]:8080")
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+v6Server+"\n")
	l.client.WriteEtc(t, "hosts", "127.0.0.1 localhost\n::1 localhost\n")
	return l
}

// startRA starts dnsmasq in the server namespace as a router that
// advertises fd00:213:6::/64 for SLAAC on veth1, with itself as the RDNSS
// resolver, and args; it serves no DNS (port 0: the lab's resolver does)
// and is stopped when the test ends.
func startRA(t *testing.T, l *lab, args ...string) {
	t.Helper()
	bin := needTool(t, "dnsmasq")
	base := []string{
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
		"--user=root", "--group=root", "--log-facility=-",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--interface=veth1", "--port=0",
		"--enable-ra", "--dhcp-range=" + v6Prefix + ",ra-stateless,64",
		"--dhcp-option=option6:dns-server,[" + v6Server + "]",
	}
	cmd := l.server.Command(context.Background(), bin, append(base, args...)...)
	// Should the test binary die without its cleanups, so does dnsmasq.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", out.String())
		}
	})
}

// slaacWatch records, as the test's netlink subscriptions receive them,
// when the router advertisement's default route appeared on the client
// and when its SLAAC address left duplicate address detection. The kernel
// makes the address, tentative, as it installs the route from the same
// advertisement, but announces the address (RTM_NEWADDR) only once it
// is usable.
type slaacWatch struct {
	mu     sync.Mutex
	addr   netip.Prefix
	route  time.Time // the IPv6 default route appeared
	usable time.Time // the global address left duplicate address detection
	// changed is closed and replaced at each change.
	changed chan struct{}
}

// watchSLAAC subscribes to the address and route changes of ns until the
// test ends.
func watchSLAAC(t *testing.T, ns *netnstest.NS) *slaacWatch {
	t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	addrs := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		t.Fatalf("subscribe to the addresses of %s: %v", ns.Name, err)
	}
	routes := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		t.Fatalf("subscribe to the routes of %s: %v", ns.Name, err)
	}
	w := &slaacWatch{changed: make(chan struct{})}
	note := func(f func()) {
		w.mu.Lock()
		defer w.mu.Unlock()
		f()
		close(w.changed)
		w.changed = make(chan struct{})
	}
	go func() {
		for u := range addrs {
			now := time.Now()
			if !u.NewAddr || u.LinkAddress.IP.To4() != nil || u.Scope != unix.RT_SCOPE_UNIVERSE ||
				u.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
				continue
			}
			a, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			ones, _ := u.LinkAddress.Mask.Size()
			note(func() {
				if w.usable.IsZero() {
					w.addr, w.usable = netip.PrefixFrom(a, ones), now
				}
			})
		}
	}()
	go func() {
		for u := range routes {
			now := time.Now()
			r := u.Route
			if u.Type != unix.RTM_NEWROUTE || r.Family != netlink.FAMILY_V6 || r.Dst != nil && r.Dst.IP.To16() != nil && !r.Dst.IP.IsUnspecified() {
				continue
			}
			note(func() {
				if w.route.IsZero() {
					w.route = now
				}
			})
		}
	}()
	return w
}

// waitUsable waits until the default route is there and the address has
// left duplicate address detection, and returns when each happened.
func (w *slaacWatch) waitUsable(t *testing.T) (addr netip.Prefix, route, usable time.Time) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		addr, route, usable = w.addr, w.route, w.usable
		changed := w.changed
		w.mu.Unlock()
		if !usable.IsZero() && !route.IsZero() {
			return addr, route, usable
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no IPv6 default route (%v) or no usable global IPv6 address (%v) within 30s", route, addr)
		}
	}
}

// waitDefault6 waits until the client has an IPv6 default route (from the
// router advertisement).
func waitDefault6(t *testing.T, ns *netnstest.NS) {
	t.Helper()
	waitFor(t, "IPv6 default route", func() bool {
		return strings.Contains(ns.IP(t, "-6", "route", "show", "default"), "default via")
	})
}

// TestIntegrationIPv6OnlySLAAC: netready waits, on a host with no IPv4,
// for a link with a global address, a default route, a name with AAAA
// records only and a TCP endpoint by that name, while no router
// advertisement has come; once one comes, it is ready after the SLAAC
// address leaves duplicate address detection, never before: until then
// it says the address is tentative.
func TestIntegrationIPv6OnlySLAAC(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newV6Lab(t)
	w := watchSLAAC(t, l.client)
	targets := []string{"link:any", "route:default", "dns:" + v6Name, "tcp://" + v6Name + ":8080"}
	p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--json", "--timeout", "60s"}, targets...)...)
	p.waitStderr(t, "msg=probe target=link:any ok=false")
	if out := l.client.IP(t, "-6", "addr", "show", "scope", "global"); out != "" {
		t.Fatalf("premise: the client has a global IPv6 address before any router advertisement:\n%s", out)
	}
	if out := l.client.IP(t, "-4", "addr", "show", "dev", "veth0"); out != "" {
		t.Fatalf("premise: the client has IPv4 on veth0:\n%s", out)
	}
	ra := time.Now()
	startRA(t, l)
	addr, route, usable := w.waitUsable(t)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	// The premise of "never before": duplicate address detection took
	// the kernel's second (one probe, RetransTimer 1s) after the
	// advertisement's route came, time enough for netready, woken by the
	// route, to see the address tentative and to say so.
	if dad := usable.Sub(route); dad < 500*time.Millisecond {
		t.Fatalf("premise: %s was usable %v after the default route came, want about 1s", addr, dad)
	}
	if !strings.Contains(p.stderr.String(), "cause=address-tentative") {
		t.Errorf("netready never said address-tentative while %s was tentative for %v\n%s", addr, usable.Sub(route).Round(time.Millisecond), p)
	}
	if !p.exited.After(usable) {
		t.Errorf("netready exited %v before %s left duplicate address detection\n%s", usable.Sub(p.exited), addr, p)
	}
	doc := p.doc(t)
	details := map[string]string{}
	for _, tg := range doc.Targets {
		details[tg.Target] = tg.Detail
	}
	for target, want := range map[string]string{
		"link:any":                  "veth0 up, " + addr.String(),
		"route:default":             "default via fe80::",
		"dns:" + v6Name:             "[" + v6Server + "]:53 answered 1 AAAA record (" + v6Server + ") over IPv6",
		"tcp://" + v6Name + ":8080": "connected to [" + v6Server + "]:8080 over IPv6",
	} {
		if !strings.Contains(details[target], want) {
			t.Errorf("%s: got detail %q, want it to contain %q", target, details[target], want)
		}
	}
	t.Logf("router advertisement started at 0; default route at %v; %s usable at %v; netready exited at %v, %v after the address became usable",
		route.Sub(ra).Round(time.Millisecond), addr, usable.Sub(ra).Round(time.Millisecond),
		p.exited.Sub(ra).Round(time.Millisecond), p.exited.Sub(usable).Round(time.Millisecond))
}

// TestIntegrationIPv6OnlyDefaultPolicy: the default policy, link:any
// route:default dns:., passes on a host with no IPv4 whose network works:
// a global IPv6 address from SLAAC, an IPv6 default route from the router
// advertisement, a resolver on IPv6 that answers.
func TestIntegrationIPv6OnlyDefaultPolicy(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newV6Lab(t)
	w := watchSLAAC(t, l.client)
	startRA(t, l)
	addr, _, _ := w.waitUsable(t)
	waitDefault6(t, l.client)
	if out := l.client.IP(t, "-4", "addr", "show", "dev", "veth0"); out != "" {
		t.Fatalf("premise: the client has IPv4 on veth0:\n%s", out)
	}
	out := netready(t, l.client, opts{}, "check", "--json")
	if out.code != 0 || !out.doc.Ready {
		t.Fatalf("exit code %d, ready %v: want 0, true\n%s", out.code, out.doc.Ready, out)
	}
	wants := map[string]string{
		"link:any":      "veth0 up, " + addr.String(),
		"route:default": "default via fe80::",
		"dns:.":         "[" + v6Server + "]:53 answered 1 NS record (a.root.test.)",
	}
	if len(out.doc.Targets) != len(wants) {
		t.Fatalf("got %d targets, want the default policy's %d\n%s", len(out.doc.Targets), len(wants), out)
	}
	for _, tg := range out.doc.Targets {
		if want, ok := wants[tg.Target]; !ok || !strings.Contains(tg.Detail, want) {
			t.Errorf("%s: got detail %q, want it to contain %q", tg.Target, tg.Detail, want)
		}
	}
}
