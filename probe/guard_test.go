package probe

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// Nothing is sent into a path the kernel says is broken; on a healthy
// host the guard asks the kernel for no route at all.
func TestGuard(t *testing.T) {
	// eth0 is up; eth3 is up without carrier and carries 10.213.5.0/24.
	risky := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
			link(5, "eth3", noCarrier).addr("eth3", "10.213.5.2/24", 0).
			route("default via 10.213.1.1 dev eth0").
			route("default6 via fd00:213:1::1 dev eth0")
	}
	healthy := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).addr("eth0", "fd00:213:1::2/64", 0).
			link(4, "eth2", 0). // down by choice: not risky
			route("default via 10.213.1.1 dev eth0").
			route("default6 via fd00:213:1::1 dev eth0")
	}
	// eth1's only global IPv6 address is tentative.
	dad := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).
			link(3, "eth1", up).addr("eth1", "fd00:213:2::2/64", tentative).
			route("default via 10.213.1.1 dev eth0")
	}
	// eth1 has a link-local address and a global one still tentative,
	// with a default route: the kernel would send from fe80::.
	slaac := func() *fakeKernel {
		return newFake().
			link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).
			link(3, "eth1", up).addr("eth1", "fe80::2/64", 0).addr("eth1", "fd00:213:2::2/64", tentative).
			route("default via 10.213.1.1 dev eth0").
			route("default6 via fe80::1 dev eth1")
	}
	for _, c := range []struct {
		name      string
		kernel    *fakeKernel
		dst       string
		s         sockets
		cause     Cause // CauseNone: clear
		err       string
		routeGets int
	}{
		{"healthy: nothing asked", healthy(), "10.213.200.1", sockets{}, CauseNone, "", 0},
		{"healthy IPv6: nothing asked", healthy(), "fd00:213:7::1", sockets{}, CauseNone, "", 0},
		{"loopback: nothing asked", risky(), "127.0.0.1", sockets{}, CauseNone, "", 0},
		{"a link without carrier elsewhere", risky(), "10.213.200.1", sockets{}, CauseNone, "", 1},
		{"through the link without carrier", risky(), "10.213.5.7", sockets{}, CauseNoCarrier,
			"link eth3 is down (no carrier) (nothing sent to 10.213.5.7)", 1},
		{"via= the link without carrier", risky(), "10.213.200.1", sockets{via: "eth3"}, CauseNoCarrier,
			"link eth3 is down (no carrier) (nothing sent to 10.213.200.1)", 1},
		{"src= routes to the link without carrier", risky().route("default via 10.213.5.1 dev eth3 table 7").rule("pref 10 from 10.213.5.2 lookup 7"),
			"10.213.200.1", sockets{src: netip.MustParseAddr("10.213.5.2")}, CauseNoCarrier,
			"link eth3 is down (no carrier) (nothing sent to 10.213.200.1)", 1},
		{"an address of this host", risky(), "10.213.5.2", sockets{}, CauseNone, "", 1},
		{"no route: left to the send", risky(), "fd00:213:1::7", sockets{via: "eth3"}, CauseNone, "", 1},
		{"IPv6 with no source during DAD", dad().route("fd00:213:2::/64 dev eth1"), "fd00:213:2::7", sockets{}, CauseAddressTentative,
			"eth1 has no usable IPv6 address yet (duplicate address detection; nothing sent to fd00:213:2::7)", 1},
		{"IPv4 while an IPv6 address is tentative", dad(), "10.213.200.1", sockets{}, CauseNone, "", 0},
		{"IPv6 from fe80:: while the global address is tentative", slaac(), "fd00:213:9::7", sockets{}, CauseAddressTentative,
			"eth1 has no usable global IPv6 address yet (duplicate address detection; nothing sent to fd00:213:9::7 from fe80::2)", 1},
		{"IPv6 on the link from fe80::", slaac(), "fe80::1", sockets{via: "eth1"}, CauseNone, "", 1},
		{"IPv6 from fe80:: when the global address failed DAD: the path explains", newFake().
			link(3, "eth1", up).addr("eth1", "fe80::2/64", 0).addr("eth1", "fd00:213:2::2/64", duplicate).
			route("default6 via fe80::1 dev eth1"), "fd00:213:9::7", sockets{}, CauseNone, "", 1},
		{"IPv6 through another link than the tentative one", slaac().
			link(4, "eth2", up).addr("eth2", "fd00:213:3::2/64", 0).route("fd00:213:9::/48 via fd00:213:3::1 dev eth2"),
			"fd00:213:9::7", sockets{}, CauseNone, "", 1},
		{"the links cannot be read: the send will say", risky().failing("Links", unix.EIO), "10.213.5.7", sockets{}, CauseNone, "", 0},
		{"the addresses cannot be read: the send will say", dad().failing("Addrs", unix.EIO), "fd00:213:2::7", sockets{}, CauseNone, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := fakeEnv(c.kernel)
			s := c.s
			s.guard = e.guard()
			f := s.clear(netip.MustParseAddr(c.dst))
			switch {
			case c.cause == CauseNone && f != nil:
				t.Errorf("got %s: %v, want clear", f.Cause, f)
			case c.cause != CauseNone && f == nil:
				t.Errorf("clear, want %s", c.cause)
			case f != nil && (f.Cause != c.cause || f.Error() != c.err):
				t.Errorf("got %s: %q, want %s: %q", f.Cause, f, c.cause, c.err)
			}
			if c.kernel.routeGets != c.routeGets {
				t.Errorf("%d route gets, want %d", c.kernel.routeGets, c.routeGets)
			}
		})
	}
	var g *guard
	if f := g.clear(netip.MustParseAddr("10.213.5.7"), sockets{}); f != nil {
		t.Errorf("no guard: %v", f)
	}
}
