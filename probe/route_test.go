package probe

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// Every cause of route: from the kernel's state, without root.
func TestRouteCauses(t *testing.T) {
	// eth0 and eth1 are up with addresses; eth2 is down; eth3 has no
	// carrier.
	host := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
			link(3, "eth1", up).addr("eth1", "10.213.2.2/24", 0).
			link(4, "eth2", 0).
			link(5, "eth3", noCarrier)
	}
	for _, c := range []struct {
		name   string
		kernel *fakeKernel
		target string
		want   want
	}{
		{"default4", host().route("default via 10.213.1.1 dev eth0"),
			"route:default4", want{ok: true, detail: "default via 10.213.1.1 dev eth0"}},
		{"default6", host().route("default6 via fd00:213:1::1 dev eth0"),
			"route:default6", want{ok: true, detail: "default via fd00:213:1::1 dev eth0"}},
		{"default: either family", host().route("default6 via fd00:213:1::1 dev eth0"),
			"route:default", want{ok: true, detail: "default via fd00:213:1::1 dev eth0"}},
		{"default in another table", host().route("default via 10.213.2.1 dev eth1 table 100"),
			"route:default4", want{ok: true, detail: "default via 10.213.2.1 dev eth1 table 100"}},
		{"default: the usable one of two", host().route("default via 10.213.9.1 dev eth2").route("default via 10.213.2.1 dev eth1 metric 10"),
			"route:default4", want{ok: true, detail: "default via 10.213.2.1 dev eth1"}},
		{"multipath: an up nexthop", host().route("default nexthop dev:eth2,via:10.213.9.1 nexthop dev:eth1,via:10.213.2.1"),
			"route:default4", want{ok: true, detail: "default via 10.213.2.1 dev eth1"}},
		{"ADDR on link", host(),
			"route:10.213.2.7", want{ok: true, detail: "10.213.2.7 dev eth1"}},
		{"ADDR via a gateway", host().route("default via 10.213.1.1 dev eth0"),
			"route:10.213.200.1", want{ok: true, detail: "10.213.200.1 via 10.213.1.1 dev eth0"}},
		{"ADDR by a policy rule", host().route("10.213.5.0/24 via 10.213.2.9 dev eth1 table 7").rule("pref 100 to 10.213.5.0/24 lookup 7"),
			"route:10.213.5.5", want{ok: true, detail: "10.213.5.5 via 10.213.2.9 dev eth1 table 7"}},
		{"ADDR of this host", host(),
			"route:10.213.1.2", want{ok: true, detail: "10.213.1.2 dev lo table 255"}},

		{"no default route", host(),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute, hint: "is DHCP or router advertisement"}},
		{"no default route of either family", host(),
			"route:default", want{err: []string{"no IPv4 default route; no IPv6 default route"}, cause: CauseNoRoute, hint: "is DHCP or router advertisement"}},
		// No route because no link is up: the kernel removed the routes
		// of the links that went down.
		{"no default route: the only link down", newFake().link(2, "eth0", 0).addr("eth0", "10.213.1.2/24", 0),
			"route:default", want{err: []string{"no IPv4 default route; no IPv6 default route, and eth0, the only link, is down (administratively)"},
				cause: CauseLinkDown, hint: "bring it up (ip link set eth0 up)"}},
		{"no default route: no link up", newFake().link(2, "eth0", noCarrier).link(3, "eth1", 0),
			"route:default4", want{err: []string{"no IPv4 default route, and no link is up: eth0 is down (no carrier), eth1 is down (administratively)"},
				cause: CauseNoCarrier, hint: "check the cable"}},
		{"no default route, a link up beside one down", newFake().link(2, "eth0", up).link(3, "eth1", 0),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute, hint: "is DHCP or router advertisement"}},
		{"no default route, loopback alone", newFake(),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute}},
		{"no IPv6 default route: no router advertisement gave one", host(),
			"route:default6", want{err: []string{"no IPv6 default route: no router advertisement with a router lifetime has given one to eth0 (fd00:213:1::2/64)"},
				cause: CauseNoRoute, hint: "does a router on eth0 send router advertisements with a router lifetime above 0"}},
		{"no IPv6 default route, link-local addresses only", newFake().link(2, "eth0", up).addr("eth0", "fe80::2/64", 0).link(3, "eth1", up).addr("eth1", "fe80::3/64", 0),
			"route:default6", want{err: []string{"no router advertisement with a router lifetime has given one to eth0 or eth1 (link-local addresses only)"}, cause: CauseNoRoute}},
		{"no IPv6 default route, and no link with IPv6", newFake().link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0),
			"route:default6", want{err: []string{"no IPv6 default route"}, cause: CauseNoRoute, hint: "is DHCP or router advertisement"}},
		{"no IPv6 default route in any table: the blackhole one does not count", host().route("blackhole default6"),
			"route:default6", want{err: []string{"no router advertisement"}, cause: CauseNoRoute}},
		{"no usable IPv6 default route: its link is down, whatever advertisements", host().route("default6 via fe80::1 dev eth2"),
			"route:default6", want{err: []string{"no usable IPv6 default route: default via fe80::1 dev eth2, but eth2 is down"}, cause: CauseLinkDown}},
		{"no default route on an IPv6-only host: the link that lacks advertisements", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).addr("eth0", "fe80::2/64", 0),
			"route:default", want{err: []string{"no IPv4 default route; no IPv6 default route: no router advertisement with a router lifetime has given one to eth0 (fd00:213:1::2/64)"},
				cause: CauseNoRoute, hint: "does a router on eth0 send router advertisements"}},
		{"blackhole and unreachable defaults do not count", host().route("blackhole default").route("unreachable default table 9"),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute}},
		{"a default route in the local table does not count", host().route("default via 10.213.1.1 dev eth0 table 255"),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute}},
		{"a route that is not a default", host().route("10.213.0.0/16 via 10.213.1.1 dev eth0"),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute}},
		{"a default whose link went away", host().route("default via 10.213.9.1 dev eth2").without("eth2"),
			"route:default4", want{err: []string{"no IPv4 default route"}, cause: CauseNoRoute}},
		{"default's link down", host().route("default via 10.213.9.1 dev eth2"),
			"route:default4", want{err: []string{"no usable IPv4 default route: default via 10.213.9.1 dev eth2, but eth2 is down (administratively)"},
				cause: CauseLinkDown, hint: "the default route's link is not up"}},
		{"default's link without carrier", host().route("default via 10.213.9.1 dev eth3").route("default via 10.213.9.2 dev eth2 table 5"),
			"route:default4", want{err: []string{"default via 10.213.9.1 dev eth3, but eth3 is down (no carrier); default via 10.213.9.2 dev eth2 table 5, but eth2 is down (administratively)"},
				cause: CauseNoCarrier}},
		{"no route to ADDR", host(),
			"route:10.213.200.1", want{err: []string{"no route to 10.213.200.1: network is unreachable"}, cause: CauseNoRoute, hint: "no route covers this address"}},
		{"ADDR's link down", host().route("10.213.200.0/24 dev eth2"),
			"route:10.213.200.1", want{err: []string{"10.213.200.1 dev eth2, but eth2 is down (administratively)"}, cause: CauseLinkDown}},

		{"netlink refused: routes", host().failing("Routes", unix.EAFNOSUPPORT),
			"route:default6", want{err: []string{"list IPv6 routes: netlink socket refused"}, cause: CauseNetlinkRefused, hint: "AF_NETLINK"}},
		{"netlink refused: route get", host().failing("RouteGet", unix.EAFNOSUPPORT),
			"route:10.213.200.1", want{err: []string{"route get 10.213.200.1: netlink socket refused"}, cause: CauseNetlinkRefused}},
		// The path, asked the same, finds no route either.
		{"route get fails without an errno", host().failing("RouteGet", errors.New("bad message")),
			"route:10.213.200.1", want{err: []string{"no route to 10.213.200.1 (route get 10.213.200.1: bad message)"}, cause: CauseNoRoute}},
		{"the route's link cannot be read", host().route("default via 10.213.1.1 dev eth0").failing("LinkByIndex", unix.EIO),
			"route:10.213.200.1", want{err: []string{"route to 10.213.200.1: link 2: input/output error"}, cause: CauseOther}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Probe(t.Context(), fakeEnv(c.kernel), mustParse(t, c.target))
			c.want.check(t, r)
			if !r.Local {
				t.Errorf("Local: false for a route target")
			}
		})
	}
}

// without removes link name, as if it went away after its routes were
// read.
func (k *fakeKernel) without(name string) *fakeKernel {
	for i, l := range k.links {
		if l.Attrs().Name == name {
			k.links = append(k.links[:i], k.links[i+1:]...)
			break
		}
	}
	return k
}
