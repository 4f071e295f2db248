package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hopLines says each hop of p on a line: kind, name, state, cause and
// detail.
func hopLines(p Path) []string {
	var out []string
	for _, h := range p.Hops {
		state := "ok"
		if !h.OK {
			state = "BROKEN " + string(h.Cause)
		}
		out = append(out, fmt.Sprintf("%s %s: %s: %s", h.Kind, h.Name, state, h.Detail))
	}
	return out
}

// The hops of a path as the kernel's state makes them, and the first
// broken one, for every kind of hop and every way it breaks.
func TestPathHops(t *testing.T) {
	// eth0 (IPv4 and IPv6) and eth1 (IPv4) are up; eth2 is down with
	// 10.213.3.2/24; eth3 has no carrier.
	host := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
			link(3, "eth1", up).addr("eth1", "10.213.2.2/24", 0).
			link(4, "eth2", 0).addr("eth2", "10.213.3.2/24", 0).
			link(5, "eth3", noCarrier).
			route("default via 10.213.1.1 dev eth0").
			route("default6 via fd00:213:1::1 dev eth0")
	}
	for _, c := range []struct {
		name   string
		kernel *fakeKernel
		dest   string
		role   Role
		s      sockets
		want   []string
	}{
		{"through a gateway not asked yet", host(), "10.213.200.1:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.200.1 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
			"link eth0: ok: up",
			"address eth0: ok: 10.213.1.2/24",
			"gateway 10.213.1.1 on eth0: ok: no neighbour entry yet",
		}},
		{"a gateway that answers", host().neigh("eth0", "10.213.1.1", netlink.NUD_REACHABLE), "10.213.200.1:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.200.1 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
			"link eth0: ok: up",
			"address eth0: ok: 10.213.1.2/24",
			"gateway 10.213.1.1 on eth0: ok: REACHABLE",
		}},
		{"a gateway that does not answer ARP", host().neigh("eth0", "10.213.1.1", netlink.NUD_FAILED), "10.213.200.1:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.200.1 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
			"link eth0: ok: up",
			"address eth0: ok: 10.213.1.2/24",
			"gateway 10.213.1.1 on eth0: BROKEN gateway-unreachable: gateway 10.213.1.1 on eth0 does not answer ARP",
		}},
		{"an IPv6 gateway that does not answer", host().neigh("eth0", "fd00:213:1::1", netlink.NUD_INCOMPLETE), "[fd00:213:7::1]:443", RoleEndpoint, sockets{}, []string{
			"route fd00:213:7::1 via fd00:213:1::1 dev eth0: ok: src fd00:213:1::2",
			"link eth0: ok: up",
			"address eth0: ok: fd00:213:1::2/64",
			"gateway fd00:213:1::1 on eth0: BROKEN gateway-unreachable: gateway fd00:213:1::1 on eth0 does not answer neighbour discovery",
		}},
		{"an on-link host that does not answer", host().neigh("eth1", "10.213.2.7", netlink.NUD_INCOMPLETE), "10.213.2.7:22", RoleEndpoint, sockets{}, []string{
			"route 10.213.2.7 dev eth1: ok: src 10.213.2.2",
			"link eth1: ok: up",
			"address eth1: ok: 10.213.2.2/24",
			"neighbour 10.213.2.7 on eth1: BROKEN host-unreachable: 10.213.2.7 on eth1 does not answer ARP",
		}},
		{"an on-link resolver that does not answer", host().neigh("eth1", "10.213.2.7", netlink.NUD_FAILED), "10.213.2.7:53", RoleResolver, sockets{}, []string{
			"route 10.213.2.7 dev eth1: ok: src 10.213.2.2",
			"link eth1: ok: up",
			"address eth1: ok: 10.213.2.2/24",
			"neighbour 10.213.2.7 on eth1: BROKEN resolver-unreachable: 10.213.2.7 on eth1 does not answer ARP",
		}},
		{"the neighbour table cannot be read", host().failing("Neighbours", unix.EIO), "10.213.2.7:22", RoleEndpoint, sockets{}, []string{
			"route 10.213.2.7 dev eth1: ok: src 10.213.2.2",
			"link eth1: ok: up",
			"address eth1: ok: 10.213.2.2/24",
			"neighbour 10.213.2.7 on eth1: ok: neighbour table: input/output error",
		}},
		{"an address of this host", host(), "10.213.2.2:22", RoleEndpoint, sockets{}, []string{
			"route 10.213.2.2 dev lo table 255: ok: src 10.213.2.2",
			"link lo: ok: up",
		}},
		{"a route through a link without carrier", host().route("10.213.100.0/24 via 10.213.5.1 dev eth3"), "10.213.100.1:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.100.1 via 10.213.5.1 dev eth3: ok: src 10.213.1.2",
			"link eth3: BROKEN no-carrier: link eth3 is down (no carrier)",
		}},
		{"IPv6, the link's address tentative", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", tentative).addr("eth0", "fe80::2/64", 0), "[fd00:213:1::7]:80", RoleEndpoint, sockets{}, []string{
			"route fd00:213:1::7 dev eth0: ok: src fe80::2",
			"link eth0: ok: up",
			"address eth0: BROKEN address-tentative: eth0's IPv6 address fd00:213:1::2/64 is still tentative (duplicate address detection)",
		}},
		{"IPv6, the link's address failed DAD", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", duplicate), "[fd00:213:1::7]:80", RoleEndpoint, sockets{}, []string{
			"route fd00:213:1::7 dev eth0: ok: ",
			"link eth0: ok: up",
			"address eth0: BROKEN address-dad-failed: eth0's IPv6 address fd00:213:1::2/64 failed duplicate address detection: another host has it",
		}},
		{"the route's source is another link's", host().route("10.213.100.0/24 dev eth1 src 10.213.1.2"), "10.213.100.1:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.100.1 dev eth1: ok: src 10.213.1.2",
			"link eth1: ok: up",
			"address eth1: ok: src 10.213.1.2",
			"neighbour 10.213.100.1 on eth1: ok: no neighbour entry yet",
		}},
		{"the addresses cannot be read", host().failing("Addrs", unix.EIO), "10.213.2.7:22", RoleEndpoint, sockets{}, []string{
			"route 10.213.2.7 dev eth1: ok: src 10.213.2.2",
			"link eth1: ok: up",
			"address eth1: BROKEN other: list addresses of eth1: input/output error",
		}},
		{"the route's link cannot be read", host().failing("LinkByIndex", unix.EIO), "10.213.2.7:22", RoleEndpoint, sockets{}, []string{
			"route 10.213.2.7: BROKEN other: route to 10.213.2.7: link 3: input/output error",
		}},

		// via= and src= ask the kernel for their path.
		{"via= another link", host(), "10.213.200.1:80", RoleEndpoint, sockets{via: "eth1"}, []string{
			"route 10.213.200.1 dev eth1: ok: src 10.213.2.2",
			"link eth1: ok: up",
			"address eth1: ok: 10.213.2.2/24",
			"neighbour 10.213.200.1 on eth1: ok: no neighbour entry yet",
		}},
		{"src= picks a policy route", host().route("default via 10.213.2.1 dev eth1 table 7").rule("pref 100 from 10.213.2.2 lookup 7"),
			"10.213.200.1:80", RoleEndpoint, sockets{src: netip.MustParseAddr("10.213.2.2")}, []string{
				"route 10.213.200.1 via 10.213.2.1 dev eth1 table 7: ok: ",
				"link eth1: ok: up",
				"address eth1: ok: 10.213.2.2/24",
				"gateway 10.213.2.1 on eth1: ok: no neighbour entry yet",
			}},
		{"src= of the other family is left out", host().route("default via 10.213.2.1 dev eth1 table 7").rule("pref 100 from 10.213.2.2 lookup 7"),
			"[fd00:213:7::1]:80", RoleEndpoint, sockets{src: netip.MustParseAddr("10.213.2.2")}, []string{
				"route fd00:213:7::1 via fd00:213:1::1 dev eth0: ok: src fd00:213:1::2",
				"link eth0: ok: up",
				"address eth0: ok: fd00:213:1::2/64",
				"gateway fd00:213:1::1 on eth0: ok: no neighbour entry yet",
			}},
		{"a loopback resolver ignores via=", host(), "127.0.0.53:53", RoleResolver, sockets{via: "eth3"}, []string{
			"route 127.0.0.53 dev lo table 255: ok: src 127.0.0.1",
			"link lo: ok: up",
		}},
		// Routes and rules that refuse: the route or rule is named.
		{"a rule that prohibits", host().rule("pref 10 to 10.213.66.0/24 prohibit"), "10.213.66.1:80", RoleEndpoint, sockets{}, []string{
			"route rule 10: from all to 10.213.66.0/24: BROKEN route-prohibited: rule 10: from all to 10.213.66.0/24 refuses 10.213.66.1: it is a prohibit rule (ip route get: permission denied)",
		}},
		{"a blackhole route", host().route("blackhole 10.213.70.0/24"), "10.213.70.1:80", RoleEndpoint, sockets{}, []string{
			"route blackhole 10.213.70.0/24 table main: BROKEN route-blackhole: 10.213.70.1 is covered by route blackhole 10.213.70.0/24 table main, which silently discards what is sent to it",
		}},
		{"an unreachable route, IPv6", host().route("unreachable fd00:213:72::/48"), "[fd00:213:72::1]:80", RoleEndpoint, sockets{}, []string{
			"route unreachable fd00:213:72::/48 table main: BROKEN route-unreachable: fd00:213:72::1 is covered by route unreachable fd00:213:72::/48 table main, which declares it unreachable",
		}},
		{"a kill switch: a policy table's blackhole default", host().route("blackhole default table 100").rule("pref 1000 to 10.213.73.0/24 lookup 100"),
			"10.213.73.1:80", RoleEndpoint, sockets{}, []string{
				"route blackhole default table 100: BROKEN route-blackhole: 10.213.73.1 is covered by route blackhole default table 100, which silently discards what is sent to it, looked up by rule 1000: from all to 10.213.73.0/24 lookup 100",
			}},
		{"a prohibit route only via= meets", host().route("prohibit default table 9").rule("pref 900 oif eth1 lookup 9"),
			"10.213.200.1:80", RoleEndpoint, sockets{via: "eth1"}, []string{
				"route prohibit default table 9: BROKEN route-prohibited: 10.213.200.1 is covered by route prohibit default table 9, which refuses it (administratively prohibited), looked up by rule 900: from all oif eth1 lookup 9",
			}},

		// No route: what is missing.
		{"no route, a link that is down would carry it", newFake().link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).link(4, "eth2", 0).addr("eth2", "10.213.3.2/24", 0),
			"10.213.3.9:80", RoleEndpoint, sockets{}, []string{
				"link eth2: BROKEN link-down: link eth2 is down (administratively)",
			}},
		{"no route, no link up has an address, one is down", newFake().link(2, "eth0", up).link(4, "eth2", 0).link(5, "eth3", noCarrier),
			"10.213.3.9:80", RoleEndpoint, sockets{}, []string{
				"link eth2: BROKEN link-down: link eth2 is down (administratively)",
			}},
		{"no route, the up link has no address of the family", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0),
			"10.213.3.9:80", RoleEndpoint, sockets{}, []string{
				"address eth0: BROKEN no-address: eth0 has no IPv4 address (it has fd00:213:1::2)",
			}},
		{"no route, the up link's address is tentative", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", tentative),
			"[fd00:213:2::9]:80", RoleEndpoint, sockets{}, []string{
				"address eth0: BROKEN address-tentative: eth0's IPv6 address fd00:213:1::2/64 is still tentative (duplicate address detection)",
			}},
		{"no route, the up link has a link-local IPv6 address only", newFake().link(2, "eth0", up).addr("eth0", "fe80::2/64", 0),
			"[fd00:213:2::9]:80", RoleEndpoint, sockets{}, []string{
				"address eth0: BROKEN no-address: eth0 has no global IPv6 address yet, only the link-local fe80::2/64: no router advertisement (SLAAC) or DHCPv6 has given it one",
			}},
		{"no route, an IPv6 address, and no router advertisement", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).addr("eth0", "fe80::2/64", 0),
			"[fd00:213:2::9]:80", RoleEndpoint, sockets{}, []string{
				"route eth0: BROKEN no-route: no route to fd00:213:2::9: no IPv6 default route: no router advertisement with a router lifetime has given one to eth0 (fd00:213:1::2/64)",
			}},
		{"no route, and addresses are there", host(), "[fd00:213:2::9]:80", RoleEndpoint, sockets{via: "eth1"}, []string{
			"route fd00:213:2::9: BROKEN no-route: no route to fd00:213:2::9: network is unreachable",
		}},
		{"no route, and the links cannot be read", newFake().failing("Links", unix.EIO), "10.213.3.9:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.3.9: BROKEN no-route: no route to 10.213.3.9: network is unreachable",
		}},
		{"no netlink socket", host().failing("RouteGet", unix.EAFNOSUPPORT), "10.213.3.9:80", RoleEndpoint, sockets{}, []string{
			"route 10.213.3.9: BROKEN netlink-refused: route get 10.213.3.9: netlink socket refused: address family not supported by protocol",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := fakeEnv(c.kernel).path(netip.MustParseAddrPort(c.dest), c.role, c.s)
			if got := hopLines(p); !slices.Equal(got, c.want) {
				t.Errorf("hops:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(c.want, "\n     "))
			}
			if p.Role != c.role || p.Dest.String() != c.dest {
				t.Errorf("path to %s as %s", p.Dest, p.Role)
			}
			want := -1
			for i, line := range c.want {
				if strings.Contains(line, ": BROKEN ") {
					want = i
					break
				}
			}
			switch b := p.Broken(); {
			case want < 0 && b != nil:
				t.Errorf("Broken: %+v, want none", b)
			case want >= 0 && b != &p.Hops[want]:
				t.Errorf("Broken: %+v, want hop %d", b, want)
			}
		})
	}
}

// A failure that the path explains better is replaced by the broken hop's,
// its message saying both; one it does not explain is left alone.
func TestExplainFailure(t *testing.T) {
	// eth0 is up with a gateway that does not answer; eth2 is down and
	// carries 10.213.3.0/24.
	k := newFake().
		link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
		link(4, "eth2", 0).
		route("default via 10.213.1.1 dev eth0").
		route("10.213.3.0/24 dev eth2").
		neigh("eth0", "10.213.1.1", netlink.NUD_FAILED)
	errFrom := errors.New("the socket's error")
	for _, c := range []struct {
		name    string
		f       *Failure
		target  string
		dests   []string
		cause   Cause // CauseNone: not explained
		phase   PhaseName
		hop     string
		message string
	}{
		{"a connect that timed out behind a silent gateway", fail(CauseFiltered, PhaseConnect, "10.213.200.1:80", errFrom), "tcp://10.213.200.1:80", nil,
			CauseGatewayUnreachable, PhaseGateway, "10.213.1.1 on eth0", "gateway 10.213.1.1 on eth0 does not answer ARP (the socket's error)"},
		{"a connect through a link that is down", fail(CauseTimeout, PhaseConnect, "10.213.3.7:80", errFrom), "tcp://10.213.3.7:80", nil,
			CauseLinkDown, PhaseLink, "eth2", "link eth2 is down (administratively) (the socket's error)"},
		{"a resolver behind a link that is down", fail(CauseResolverTimeout, PhaseQuery, "10.213.3.53:53", errFrom), "dns:example.test", nil,
			CauseLinkDown, PhaseLink, "eth2", "resolver 10.213.3.53 is reachable only through eth2, which is down (administratively) (the socket's error)"},
		{"a resolver behind a silent gateway", fail(CauseResolverTimeout, PhaseQuery, "10.213.200.53:53", errFrom), "dns:example.test", nil,
			CauseGatewayUnreachable, PhaseGateway, "10.213.1.1 on eth0", "resolver 10.213.200.53: gateway 10.213.1.1 on eth0 does not answer ARP (the socket's error)"},
		{"no address in the failure: the result's destinations", fail(CauseTimeout, PhaseConnect, "", errFrom), "tcp://10.213.3.7:80", []string{"10.213.3.7:80"},
			CauseLinkDown, PhaseLink, "eth2", "link eth2 is down (administratively) (the socket's error)"},
		{"a refusal: the path works", fail(CausePortClosed, PhaseConnect, "10.213.3.7:80", errFrom), "tcp://10.213.3.7:80", nil,
			CauseNone, "", "", ""},
		{"an answer: the path works", fail(CauseNXDomain, PhaseAnswer, "10.213.3.53:53", errFrom), "dns:example.test", nil,
			CauseNone, "", "", ""},
		{"the socket said it already", fail(CauseNoRoute, PhaseConnect, "10.213.66.1:80", errFrom), "tcp://10.213.66.1:80", nil,
			CauseNone, "", "", ""},
		{"the socket's no route, told by the link that no router advertisement reached", fail(CauseNoRoute, PhaseConnect, "[fd00:213:66::1]:80", errFrom), "tcp://[fd00:213:66::1]:80", nil,
			CauseNoRoute, PhaseRoute, "eth0", "no route to fd00:213:66::1: no IPv6 default route: no router advertisement with a router lifetime has given one to eth0 (fd00:213:1::2/64) (the socket's error)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var dests []netip.AddrPort
			for _, d := range c.dests {
				dests = append(dests, netip.MustParseAddrPort(d))
			}
			k := *k
			k.routes = slices.Clone(k.routes)
			if c.cause == CauseNone && c.f.Cause == CauseNoRoute {
				k.routes = k.routes[1:] // no default route: the socket's own "no route"
			}
			g := fakeEnv(&k).explainFailure(c.f, mustParse(t, c.target), dests)
			if c.cause == CauseNone {
				if g != nil {
					t.Fatalf("explained as %s: %v", g.Cause, g)
				}
				return
			}
			if g == nil {
				t.Fatalf("not explained, want %s", c.cause)
			}
			if g.Cause != c.cause || g.Phase != c.phase || g.Hop != c.hop || g.Error() != c.message {
				t.Errorf("got %s at %s %q: %q\nwant %s at %s %q: %q", g.Cause, g.Phase, g.Hop, g, c.cause, c.phase, c.hop, c.message)
			}
			if !errors.Is(g, errFrom) {
				t.Errorf("the socket's error is not wrapped")
			}
		})
	}
}

// check --explain: every destination's path, the destination itself last
// as the attempt found it.
func TestPaths(t *testing.T) {
	k := newFake().
		link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
		link(4, "eth2", 0).
		route("default via 10.213.1.1 dev eth0").
		route("10.213.3.0/24 dev eth2").
		neigh("eth0", "10.213.1.1", netlink.NUD_REACHABLE)
	e := fakeEnv(k)
	r := Result{
		Target: mustParse(t, "tcp://api.example.test:443"),
		Dests:  []netip.AddrPort{netip.MustParseAddrPort("10.213.200.1:443"), netip.MustParseAddrPort("10.213.3.7:443")},
		Phases: []Phase{{PhaseResolve, time.Millisecond}, {PhaseConnect, 7 * time.Millisecond}},
		OK:     true,
		Detail: "connected to 10.213.200.1:443",
	}
	ps := e.paths(r)
	want := [][]string{{
		"route 10.213.200.1 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
		"link eth0: ok: up",
		"address eth0: ok: 10.213.1.2/24",
		"gateway 10.213.1.1 on eth0: ok: REACHABLE",
		"endpoint 10.213.200.1:443: ok: connected to 10.213.200.1:443",
	}, {
		"route 10.213.3.7 dev eth2: ok: src 10.213.1.2",
		"link eth2: BROKEN link-down: link eth2 is down (administratively)",
	}}
	if len(ps) != len(want) {
		t.Fatalf("%d paths, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		if got := hopLines(p); !slices.Equal(got, want[i]) {
			t.Errorf("path %d:\ngot  %s\nwant %s", i, strings.Join(got, "\n     "), strings.Join(want[i], "\n     "))
		}
	}
	if took := ps[0].Hops[4].Took; took != 7*time.Millisecond {
		t.Errorf("the endpoint's hop took %v, want the connect phase's 7ms", took)
	}

	// A failing name: the resolvers' paths, each resolver's own fate
	// left to the joined error but the one the failure names.
	f := fail(CauseResolverTimeout, PhaseQuery, "10.213.200.53:53", errors.New("no answer"))
	r = Result{
		Target: mustParse(t, "tcp://api.example.test:443"),
		Dests:  []netip.AddrPort{netip.MustParseAddrPort("10.213.200.53:53"), netip.MustParseAddrPort("10.213.200.54:53")},
		Err:    f,
		Phases: []Phase{{PhaseQuery, 3 * time.Millisecond}},
	}
	ps = e.paths(r)
	want = [][]string{{
		"route 10.213.200.53 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
		"link eth0: ok: up",
		"address eth0: ok: 10.213.1.2/24",
		"gateway 10.213.1.1 on eth0: ok: REACHABLE",
		"resolver 10.213.200.53:53: BROKEN resolver-timeout: no answer",
	}, {
		"route 10.213.200.54 via 10.213.1.1 dev eth0: ok: src 10.213.1.2",
		"link eth0: ok: up",
		"address eth0: ok: 10.213.1.2/24",
		"gateway 10.213.1.1 on eth0: ok: REACHABLE",
		"resolver 10.213.200.54:53: BROKEN : no answer",
	}}
	for i, p := range ps {
		if p.Role != RoleResolver {
			t.Errorf("path %d: role %s, want resolver", i, p.Role)
		}
		if got := hopLines(p); !slices.Equal(got, want[i]) {
			t.Errorf("path %d:\ngot  %s\nwant %s", i, strings.Join(got, "\n     "), strings.Join(want[i], "\n     "))
		}
	}

	// An ICMP endpoint has no port.
	r = Result{Target: mustParse(t, "icmp://10.213.200.1"), Dests: []netip.AddrPort{netip.MustParseAddrPort("10.213.200.1:0")}, OK: true, Phases: []Phase{{PhaseEcho, time.Millisecond}}}
	ps = e.paths(r)
	if last := ps[0].Hops[len(ps[0].Hops)-1]; last.Name != "10.213.200.1" || last.Kind != HopEndpoint || last.Took != time.Millisecond {
		t.Errorf("ICMP endpoint hop: %+v", last)
	}
}

// Whose path a failure is on: a resolver's or the endpoint's.
func TestRoleOf(t *testing.T) {
	for _, c := range []struct {
		target string
		f      *Failure
		want   Role
	}{
		{"dns:example.test", nil, RoleResolver},
		{"dns://10.213.1.53/example.test", fail(CauseTimeout, PhaseConnect, "", nil), RoleResolver},
		{"tcp://db.example.test:5432", nil, RoleEndpoint},
		{"tcp://db.example.test:5432", fail(CauseResolverTimeout, PhaseQuery, "10.213.1.53:53", nil), RoleResolver},
		{"tcp://db.example.test:5432", fail(CauseResolverUnreachable, PhaseLink, "", nil), RoleResolver},
		{"tcp://db.example.test:5432", fail(CauseNXDomain, PhaseResolve, "db.example.test", nil), RoleResolver},
		{"https://db.example.test/", fail(CauseNoRecords, PhaseAnswer, "10.213.1.53:53", nil), RoleResolver},
		{"tcp://db.example.test:5432", fail(CauseFiltered, PhaseConnect, "10.213.1.7:5432", nil), RoleEndpoint},
		{"icmp://10.213.1.7", fail(CauseTimeout, PhaseEcho, "10.213.1.7", nil), RoleEndpoint},
	} {
		if got := roleOf(mustParse(t, c.target), c.f); got != c.want {
			t.Errorf("%s, %+v: %s, want %s", c.target, c.f, got, c.want)
		}
	}
}
