package main

// IPv6-only hosts: a client with no IPv4 at all whose address, default
// route and resolver come from router advertisements that Debian's
// dnsmasq sends from the server namespace (SLAAC, as the kernel does it),
// names with AAAA records only.

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
func newV6Lab(t testing.TB) *lab {
	t.Helper()
	l := &lab{client: netnstest.New(t), server: netnstest.New(t)}
	netnstest.Veth(t, l.client, "veth0", l.server, "veth1")
	l.server.IP(t, "addr", "add", v6Server+"/64", "dev", "veth1", "nodad")
	l.server.IP(t, "link", "set", "veth1", "up")
	l.client.IP(t, "link", "set", "veth0", "up")
	waitOperUp(t, l.client, "veth0")
	// A router advertises from its link-local address, which may not be
	// used before its own duplicate address detection is over.
	poll(t, "the server's link-local address", 5*time.Millisecond, func() bool {
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
// resolver, and args; it serves no DNS (port 0: the lab's resolver does).
// It is stopped by stop, or when the test ends.
func startRA(t testing.TB, l *lab, args ...string) (stop func()) {
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
	stop = sync.OnceFunc(func() {
		cmd.Process.Kill()
		<-done
	})
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("dnsmasq:\n%s", out.String())
		}
	})
	return stop
}

// waitSLAAC waits until the client has its default route from a router
// advertisement and its SLAAC address has left duplicate address
// detection, and returns both events. The kernel makes the address,
// tentative, as it installs the route from the same advertisement, but
// announces it only once usable.
func waitSLAAC(t *testing.T, m *netnstest.Monitor) (route, usable netnstest.Event) {
	t.Helper()
	route = m.Wait(t, 30*time.Second, "IPv6 default route", netnstest.Default6)
	usable = m.Wait(t, 30*time.Second, "usable global IPv6 address", netnstest.GlobalAddr6(true))
	return route, usable
}

// TestIntegrationIPv6OnlySLAAC: netready waits, on a host with no IPv4,
// for a link with a global address, a default route, a name with AAAA
// records only and a TCP endpoint by that name, while no router
// advertisement has come; once one comes, it is ready after the SLAAC
// address leaves duplicate address detection, never before: until then
// it says the address is tentative, and when it is over the address is
// not. (The time from the address being usable to the exit is logged;
// BenchmarkSLAACToReady measures it.)
func TestIntegrationIPv6OnlySLAAC(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newV6Lab(t)
	m := l.client.Monitor(t)
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
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	// Never before: once netready is over, no global address is still
	// in duplicate address detection (which would last a second more).
	if out := l.client.IP(t, "-6", "addr", "show", "dev", "veth0", "scope", "global"); strings.Contains(out, "tentative") || out == "" {
		t.Errorf("netready was ready with veth0's global address still tentative, or none:\n%s\n%s", out, p)
	}
	route, usable := waitSLAAC(t, m)
	addr := usable.Prefix()
	// The premise of "never before": duplicate address detection took
	// the kernel's second (one probe, RetransTimer 1s) after the
	// advertisement's route came, time enough for netready, woken by the
	// route, to see the address tentative and to say so.
	if dad := usable.Time.Sub(route.Time); dad < 500*time.Millisecond {
		t.Fatalf("premise: %s was usable %v after the default route came, want about 1s", addr, dad)
	}
	if !strings.Contains(p.stderr.String(), "cause=address-tentative") {
		t.Errorf("netready never said address-tentative while %s was tentative for %v\n%s", addr, usable.Time.Sub(route.Time).Round(time.Millisecond), p)
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
		route.Time.Sub(ra).Round(time.Millisecond), addr, usable.Time.Sub(ra).Round(time.Millisecond),
		p.exited.Sub(ra).Round(time.Millisecond), p.exited.Sub(usable.Time).Round(time.Millisecond))
}

// TestIntegrationIPv6OnlyDefaultPolicy: the default policy, link:any
// route:default dns:., passes on a host with no IPv4 whose network works:
// a global IPv6 address from SLAAC, an IPv6 default route from the router
// advertisement, a resolver on IPv6 that answers.
func TestIntegrationIPv6OnlyDefaultPolicy(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newV6Lab(t)
	m := l.client.Monitor(t)
	startRA(t, l)
	_, usable := waitSLAAC(t, m)
	addr := usable.Prefix()
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

// TestIntegrationIPv6OnlyCauses: what a host with no IPv4 is told while
// its IPv6 network is incomplete — no router advertisement yet, one
// without a router lifetime, one without a resolver, an address still in
// duplicate address detection — each cause naming the link.
func TestIntegrationIPv6OnlyCauses(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tcp := "tcp://[" + v6Server + "]:8080"
	beyond := "tcp://[fd00:213:99::1]:8080" // beyond the router: needs a default route
	tests := []struct {
		name    string
		setup   func(t *testing.T, l *lab)
		targets []string
		wants   []want
	}{
		{
			// Nothing says yet whether the network is IPv4 or IPv6:
			// route:default's hint names both ways.
			name:    "no router advertisement yet",
			targets: []string{"link:any", "route:default", "route:default6", tcp},
			wants: []want{
				fail("veth0 is up, no global address").because("no-address"),
				fail("no IPv4 default route; no IPv6 default route: no router advertisement with a router lifetime has given one to veth0 (link-local addresses only)").
					because("no-route").hinting("is DHCP or router advertisement configuring the network"),
				fail("no IPv6 default route: no router advertisement with a router lifetime has given one to veth0 (link-local addresses only)").
					because("no-route").hinting("does a router on veth0 send router advertisements with a router lifetime above 0"),
				fail("veth0 has no global IPv6 address yet, only the link-local fe80::").because("no-address"),
			},
		},
		{
			name: "router advertisements without a router lifetime",
			setup: func(t *testing.T, l *lab) {
				m := l.client.Monitor(t)
				startRA(t, l, "--ra-param=veth1,10,0")
				m.Wait(t, 30*time.Second, "usable global IPv6 address", netnstest.GlobalAddr6(true))
				if out := l.client.IP(t, "-6", "route", "show", "default"); out != "" {
					t.Fatalf("premise: an IPv6 default route from an advertisement with router lifetime 0:\n%s", out)
				}
			},
			targets: []string{"link:any", "route:default", "route:default6", "dns:" + v6Name, tcp, beyond},
			wants: []want{
				pass(),
				fail("no IPv6 default route: no router advertisement with a router lifetime has given one to veth0 (fd00:213:6:").
					because("no-route").hinting("router lifetime above 0"),
				fail("no IPv6 default route: no router advertisement with a router lifetime has given one to veth0").because("no-route"),
				pass().showing("answered 1 AAAA record (" + v6Server + ") over IPv6"),
				pass(),
				fail("no route to fd00:213:99::1: no IPv6 default route: no router advertisement with a router lifetime has given one to veth0").
					because("no-route").hinting("does a router on veth0 send router advertisements"),
			},
		},
		{
			name: "no resolver: router advertisements without RDNSS, resolv.conf without a nameserver",
			setup: func(t *testing.T, l *lab) {
				l.client.WriteEtc(t, "resolv.conf", "# no RDNSS\n")
				m := l.client.Monitor(t)
				startRA(t, l, "--dhcp-option=option6:dns-server")
				waitSLAAC(t, m)
			},
			targets: []string{"dns:.", "tcp://" + v6Name + ":8080"},
			wants: []want{
				fail("names no nameserver and nothing listens on the loopback default; veth0 has IPv6 only (fd00:213:6:",
					"no resolver came with it from router advertisements (RDNSS) or DHCPv6").because("no-resolver").hinting("RDNSS"),
				fail("veth0 has IPv6 only", `resolve "v6.test"`).because("no-resolver"),
			},
		},
		{
			// A global destination on the link while the global address
			// is tentative: the kernel would send from fe80::.
			name: "SLAAC address in duplicate address detection, link-local usable",
			setup: func(t *testing.T, l *lab) {
				// Ten seconds of duplicate address detection.
				l.client.Sysctl(t, "net.ipv6.neigh.veth0.retrans_time_ms", "10000")
				startRA(t, l)
				poll(t, "a tentative SLAAC address", 5*time.Millisecond, func() bool {
					return strings.Contains(l.client.IP(t, "-6", "addr", "show", "dev", "veth0", "scope", "global"), "tentative")
				})
			},
			targets: []string{"link:any", tcp, "dns:" + v6Name},
			wants: []want{
				fail("no global address yet", "tentative").because("address-tentative"),
				fail("veth0 has no usable global IPv6 address yet (duplicate address detection; nothing sent to " + v6Server + " from fe80::").because("address-tentative"),
				fail("veth0 has no usable global IPv6 address yet").because("address-tentative"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newV6Lab(t)
			if tt.setup != nil {
				tt.setup(t, l)
			}
			checkTargets(t, l.client, opts{}, tt.targets, tt.wants)
		})
	}
}

// BenchmarkSLAACToReady measures, per trial in a fresh IPv6-only lab, the
// time from the SLAAC address leaving duplicate address detection (the
// test's netlink subscription receiving the kernel's announcement) to the
// exit of a "netready wait link:any route:default dns:v6.test
// tcp://v6.test:8080" started before the router advertised (p50/p90/max),
// and to the "ready:" line it prints just before exiting (said-p50). Both
// are the test's observations, each a little late: a negative time would
// say the test saw the address late, not that netready was early (which
// TestIntegrationIPv6OnlySLAAC checks).
func BenchmarkSLAACToReady(b *testing.B) {
	l := newV6Lab(b)
	m := l.client.Monitor(b)
	targets := []string{"link:any", "route:default", "dns:" + v6Name, "tcp://" + v6Name + ":8080"}
	var lat, saidAt []time.Duration
	for b.Loop() {
		b.StopTimer()
		// No address, no route from the last trial's advertisement.
		l.client.IP(b, "-6", "addr", "flush", "dev", "veth0", "scope", "global")
		l.client.IP(b, "-6", "route", "flush", "proto", "ra")
		cmd, sc := startWaiting(b, l.client, append([]string{"--timeout", "60s"}, targets...)...)
		said := make(chan time.Time, 1)
		go func() {
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready:") {
					said <- time.Now()
				}
			}
			close(said)
		}()
		since := time.Now()
		stop := startRA(b, l)
		usable := m.Wait(b, 30*time.Second, "usable global IPv6 address", func(e netnstest.Event) bool {
			return e.Time.After(since) && netnstest.GlobalAddr6(true)(e)
		})
		err := cmd.Wait()
		exited := time.Now()
		stop()
		if err != nil {
			b.Fatalf("netready wait: %v", err)
		}
		lat = append(lat, exited.Sub(usable.Time))
		saidAt = append(saidAt, (<-said).Sub(usable.Time))
		b.StartTimer()
	}
	reportReady(b, "SLAAC address usable", lat, saidAt)
	b.Logf("SLAAC address usable to exit over %d trials: min %s, p50 %s, p90 %s, max %s", len(lat), lat[0], percentile(lat, 0.5), percentile(lat, 0.9), lat[len(lat)-1])
}
