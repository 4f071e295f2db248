package probe

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// extendedErr lays out a struct sock_extended_err and its offender's
// sockaddr as the kernel writes them into an IP_RECVERR control message
// (include/uapi/linux/errqueue.h, netinet/in.h), independently of the
// parser under test.
func extendedErr(errno unix.Errno, origin, typ, code uint8, offender netip.Addr) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint32(b[0:], uint32(errno))
	b[4], b[5], b[6] = origin, typ, code
	if offender.Is4() {
		sa := make([]byte, 16) // sockaddr_in
		binary.NativeEndian.PutUint16(sa[0:], unix.AF_INET)
		copy(sa[4:8], offender.AsSlice())
		return append(b, sa...)
	}
	sa := make([]byte, 28) // sockaddr_in6
	binary.NativeEndian.PutUint16(sa[0:], unix.AF_INET6)
	copy(sa[8:24], offender.AsSlice())
	return append(b, sa...)
}

func TestParseExtendedErr(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want *icmpError
	}{
		{"ICMP net unreachable from a router",
			extendedErr(unix.ENETUNREACH, unix.SO_EE_ORIGIN_ICMP, 3, 0, netip.MustParseAddr("192.0.2.1")),
			&icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 0, Errno: unix.ENETUNREACH, Offender: netip.MustParseAddr("192.0.2.1")}},
		{"ICMPv6 administratively prohibited",
			extendedErr(unix.EACCES, unix.SO_EE_ORIGIN_ICMP6, 1, 1, netip.MustParseAddr("2001:db8::1")),
			&icmpError{Origin: unix.SO_EE_ORIGIN_ICMP6, Type: 1, Code: 1, Errno: unix.EACCES, Offender: netip.MustParseAddr("2001:db8::1")}},
		{"a local error has no offender's address",
			extendedErr(unix.EMSGSIZE, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.IPv4Unspecified())[:16],
			&icmpError{Origin: unix.SO_EE_ORIGIN_LOCAL, Errno: unix.EMSGSIZE}},
		{"a timestamp is not an error",
			extendedErr(unix.ENOMSG, unix.SO_EE_ORIGIN_TIMESTAMPING, 0, 0, netip.IPv4Unspecified()), nil},
		{"too short", []byte{1, 2, 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseExtendedErr(tt.b)
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestICMPFailure(t *testing.T) {
	dst := netip.MustParseAddrPort("198.51.100.7:443")
	dst6 := netip.MustParseAddrPort("[2001:db8:7::7]:443")
	router := netip.MustParseAddr("192.0.2.1")
	router6 := netip.MustParseAddr("2001:db8::1")
	v4 := func(typ, code uint8, from netip.Addr) *icmpError {
		return &icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: typ, Code: code, Offender: from, After: 420 * time.Microsecond}
	}
	v6 := func(typ, code uint8, from netip.Addr) *icmpError {
		return &icmpError{Origin: unix.SO_EE_ORIGIN_ICMP6, Type: typ, Code: code, Offender: from, After: time.Millisecond}
	}
	tests := []struct {
		name  string
		e     *icmpError
		dst   netip.AddrPort
		local bool
		cause Cause  // "" for no failure: the errno explains
		says  string // a part of the message
	}{
		{"net unreachable from a router", v4(3, 0, router), dst, false, CauseRouterUnreachable, "router 192.0.2.1 says it has no route to 198.51.100.7 (ICMP network unreachable: "},
		{"host unreachable from a router", v4(3, 1, router), dst, false, CauseRouterUnreachable, "router 192.0.2.1 says 198.51.100.7 is unreachable"},
		{"host unreachable from this host: a neighbour entry that failed", v4(3, 1, router), dst, true, "", ""},
		{"net prohibited from a router", v4(3, 9, router), dst, false, CauseRejected, "192.0.2.1 rejects packets to 198.51.100.7: a firewall on the way (ICMP network administratively prohibited: "},
		{"host prohibited from a router", v4(3, 10, router), dst, false, CauseRejected, "host administratively prohibited"},
		{"packet filtered by the destination", v4(3, 13, dst.Addr()), dst, false, CauseRejected, "198.51.100.7 rejects the connection: a firewall on it"},
		{"packet filtered by this host", v4(3, 13, router), dst, true, CauseLocalFirewall, "this host's own firewall rejects packets to 198.51.100.7"},
		{"port unreachable from the destination: a refusal", v4(3, 3, dst.Addr()), dst, false, "", ""},
		{"port unreachable from another host", v4(3, 3, router), dst, false, CauseRejected, "192.0.2.1 answers for 198.51.100.7 with port unreachable, not 198.51.100.7 itself"},
		{"time exceeded", v4(11, 0, router), dst, false, CauseRoutingLoop, "router 192.0.2.1 says the packet to 198.51.100.7 ran out of hops"},
		{"fragment reassembly time exceeded is not a loop", v4(11, 1, router), dst, false, "", ""},
		{"fragmentation needed is path MTU, not a failure", v4(3, 4, router), dst, false, "", ""},
		{"ICMPv6 no route", v6(1, 0, router6), dst6, false, CauseRouterUnreachable, "(ICMPv6 no route to destination: "},
		{"ICMPv6 address unreachable", v6(1, 3, router6), dst6, false, CauseRouterUnreachable, "is unreachable"},
		{"ICMPv6 administratively prohibited", v6(1, 1, router6), dst6, false, CauseRejected, "a firewall on the way"},
		{"ICMPv6 reject route", v6(1, 6, router6), dst6, false, CauseRejected, "reject route to destination"},
		{"ICMPv6 source address failed policy", v6(1, 5, router6), dst6, false, CauseRejected, "ingress/egress policy"},
		{"ICMPv6 port unreachable from the destination", v6(1, 4, dst6.Addr()), dst6, false, "", ""},
		{"ICMPv6 hop limit exceeded", v6(3, 0, router6), dst6, false, CauseRoutingLoop, "ICMPv6 time exceeded"},
		{"ICMPv6 packet too big", v6(2, 0, router6), dst6, false, "", ""},
		{"no offender", &icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 0}, dst, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := syscall.ECONNREFUSED
			f := icmpFailure(tt.e, tt.dst, "connect", tt.local, err)
			if tt.cause == "" {
				if f != nil {
					t.Fatalf("got %s: %v, want no failure", f.Cause, f)
				}
				return
			}
			if f == nil {
				t.Fatalf("got no failure, want %s", tt.cause)
			}
			if f.Cause != tt.cause {
				t.Errorf("got cause %s, want %s (%v)", f.Cause, tt.cause, f)
			}
			if !strings.Contains(f.Error(), tt.says) {
				t.Errorf("got %q, want it to contain %q", f.Error(), tt.says)
			}
			if !errors.Is(f, err) {
				t.Errorf("%v does not wrap the socket's error", f)
			}
			if f.Hop != tt.dst.String() || f.icmp != tt.e {
				t.Errorf("got hop %q, evidence %v; want %q and the ICMP error", f.Hop, f.icmp, tt.dst)
			}
		})
	}
}

// rule is a rule as netlink dumps it: no suppress_prefixlength (-1).
func rule(prio, table int, set func(r *netlink.Rule)) netlink.Rule {
	r := netlink.NewRule()
	r.Priority, r.Table = prio, table
	if set != nil {
		set(r)
	}
	return *r
}

func cidr(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestFIBWalk(t *testing.T) {
	defaults := []netlink.Rule{rule(0, unix.RT_TABLE_LOCAL, nil), rule(32766, unix.RT_TABLE_MAIN, nil), rule(32767, unix.RT_TABLE_DEFAULT, nil)}
	withRules := func(rs ...netlink.Rule) []netlink.Rule {
		all := append([]netlink.Rule{defaults[0]}, rs...)
		return append(all, defaults[1:]...)
	}
	route := func(typ int, dst string, table int) netlink.Route {
		return netlink.Route{Type: typ, Dst: cidr(dst), Table: table}
	}
	gw := func(dst string, table int) netlink.Route { return route(unix.RTN_UNICAST, dst, table) }
	tables := func(rs ...netlink.Route) func(int) []netlink.Route {
		return func(id int) []netlink.Route {
			var out []netlink.Route
			for _, r := range rs {
				if r.Table == id {
					out = append(out, r)
				}
			}
			return out
		}
	}
	dst := netip.MustParseAddr("10.9.8.7")
	tests := []struct {
		name   string
		rules  []netlink.Rule
		routes []netlink.Route
		fl     fibFlow
		typ    int
		prio   int    // the rule that led there; -1 for no result
		route  string // the route's prefix; "" for the rule itself
	}{
		{"blackhole in main", defaults, []netlink.Route{gw("0.0.0.0/0", 254), route(unix.RTN_BLACKHOLE, "10.9.0.0/16", 254)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 32766, "10.9.0.0/16"},
		{"a longer unicast prefix wins over the blackhole", defaults, []netlink.Route{route(unix.RTN_BLACKHOLE, "10.9.0.0/16", 254), gw("10.9.8.0/24", 254)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, -1, ""},
		{"a blackhole of another prefix is not it", defaults, []netlink.Route{route(unix.RTN_BLACKHOLE, "10.10.0.0/16", 254)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, -1, ""},
		{"the type must be the errno's", defaults, []netlink.Route{route(unix.RTN_PROHIBIT, "10.9.0.0/16", 254)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, -1, ""},
		{"kill switch: a policy table's blackhole default", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Dst = cidr("10.9.0.0/16") })),
			[]netlink.Route{gw("0.0.0.0/0", 254), route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"a rule for other destinations is passed by", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Dst = cidr("10.10.0.0/16") })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100), route(unix.RTN_UNREACHABLE, "0.0.0.0/0", 254)},
			fibFlow{dst: dst}, unix.RTN_UNREACHABLE, 32766, "0.0.0.0/0"},
		{"not: an inverted rule", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Dst, r.Invert = cidr("10.10.0.0/16"), true })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"throw goes on to the next rule", withRules(rule(1000, 100, nil)),
			[]netlink.Route{route(unix.RTN_THROW, "10.9.0.0/16", 100), route(unix.RTN_PROHIBIT, "10.0.0.0/8", 254)},
			fibFlow{dst: dst}, unix.RTN_PROHIBIT, 32766, "10.0.0.0/8"},
		{"suppress_prefixlength 0 skips a default route", withRules(rule(1000, 254, func(r *netlink.Rule) { r.SuppressPrefixlen = 0 }), rule(1001, 100, nil)),
			[]netlink.Route{gw("0.0.0.0/0", 254), route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 1001, "0.0.0.0/0"},
		{"a rule on a firewall mark does not select our packets", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Mark = 0x1 })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100), route(unix.RTN_BLACKHOLE, "10.9.8.0/24", 254)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 32766, "10.9.8.0/24"},
		{"not fwmark: a VPN's rule selects unmarked packets", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Mark, r.Invert = 0xca6c, true })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"uidrange of another user", withRules(rule(1000, 100, func(r *netlink.Rule) { r.UIDRange = netlink.NewRuleUIDRange(1000, 1999) })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst, uid: 0}, unix.RTN_BLACKHOLE, -1, ""},
		{"uidrange of ours", withRules(rule(1000, 100, func(r *netlink.Rule) { r.UIDRange = netlink.NewRuleUIDRange(1000, 1999) })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst, uid: 1500}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"oif: only a probe bound to the interface", withRules(rule(1000, 100, func(r *netlink.Rule) { r.OifName = "wg0" })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst, oif: "wg0"}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"oif of another interface", withRules(rule(1000, 100, func(r *netlink.Rule) { r.OifName = "wg0" })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, -1, ""},
		{"iif lo: locally sent packets", withRules(rule(1000, 100, func(r *netlink.Rule) { r.IifName = "lo" })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"from: a rule on a source the probe does not bind", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Src = cidr("10.1.1.0/24") })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst}, unix.RTN_BLACKHOLE, -1, ""},
		{"from: src= binds it", withRules(rule(1000, 100, func(r *netlink.Rule) { r.Src = cidr("10.1.1.0/24") })),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100)},
			fibFlow{dst: dst, src: netip.MustParseAddr("10.1.1.5")}, unix.RTN_BLACKHOLE, 1000, "0.0.0.0/0"},
		{"a rule without a table refuses by itself", withRules(rule(1000, 0, func(r *netlink.Rule) { r.Dst = cidr("10.9.0.0/16") })),
			nil, fibFlow{dst: dst}, unix.RTN_PROHIBIT, 1000, ""},
		{"goto jumps over rules", withRules(rule(900, 0, func(r *netlink.Rule) { r.Goto = 1100 }), rule(1000, 100, nil), rule(1100, 101, nil)),
			[]netlink.Route{route(unix.RTN_BLACKHOLE, "0.0.0.0/0", 100), route(unix.RTN_PROHIBIT, "0.0.0.0/0", 101)},
			fibFlow{dst: dst}, unix.RTN_PROHIBIT, 1100, "0.0.0.0/0"},
		{"IPv6", withRules(rule(1000, 100, nil)),
			[]netlink.Route{{Type: unix.RTN_BLACKHOLE, Dst: cidr("::/0"), Table: 100}, {Type: unix.RTN_BLACKHOLE, Dst: cidr("0.0.0.0/0"), Table: 100}},
			fibFlow{dst: netip.MustParseAddr("2001:db8::1")}, unix.RTN_BLACKHOLE, 1000, "::/0"},
		{"an IPv4 default route does not hold an IPv6 destination", withRules(rule(1000, 100, nil)),
			[]netlink.Route{{Type: unix.RTN_BLACKHOLE, Dst: cidr("0.0.0.0/0"), Table: 100}},
			fibFlow{dst: netip.MustParseAddr("2001:db8::1")}, unix.RTN_BLACKHOLE, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := fibWalk(tt.rules, tables(tt.routes...), tt.fl, tt.typ)
			switch {
			case tt.prio < 0:
				if ok {
					t.Fatalf("got rule %s, route %v; want none", describeRule(res.rule), res.route)
				}
				return
			case !ok:
				t.Fatalf("got none, want rule %d", tt.prio)
			}
			if res.rule.Priority != tt.prio {
				t.Errorf("got rule %s, want priority %d", describeRule(res.rule), tt.prio)
			}
			got := ""
			if res.route != nil {
				got = res.route.Dst.String()
			}
			if got != tt.route {
				t.Errorf("got route %q, want %q", got, tt.route)
			}
		})
	}
}

func TestRejectType(t *testing.T) {
	for errno, want := range map[unix.Errno]Cause{
		unix.EINVAL: CauseRouteBlackhole, unix.EACCES: CauseRouteProhibited, unix.EHOSTUNREACH: CauseRouteUnreachable,
		unix.ENETUNREACH: "", unix.EPERM: "",
	} {
		_, got, ok := rejectType(errno)
		if got != want || ok != (want != "") {
			t.Errorf("%v: got %q, %v; want %q", errno, got, ok, want)
		}
	}
}

func TestDescribeRule(t *testing.T) {
	for _, tt := range []struct {
		r    netlink.Rule
		want string
	}{
		{rule(1000, 100, func(r *netlink.Rule) { r.Dst = cidr("10.9.0.0/16") }), "1000: from all to 10.9.0.0/16 lookup 100"},
		{rule(5000, 254, func(r *netlink.Rule) { r.Mark, r.Invert, r.SuppressPrefixlen = 0xca6c, true, 0 }), "5000: not from all fwmark 0xca6c lookup main suppress_prefixlength 0"},
		{rule(1001, 0, func(r *netlink.Rule) { r.Src, r.OifName = cidr("10.1.1.0/24"), "wg0" }), "1001: from 10.1.1.0/24 oif wg0"},
	} {
		if got := describeRule(tt.r); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestICMPHop(t *testing.T) {
	dst := netip.MustParseAddrPort("198.51.100.7:443")
	other := netip.MustParseAddrPort("198.51.100.8:443")
	router := netip.MustParseAddr("192.0.2.1")
	e := &icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 0, Offender: router, After: 1500 * time.Microsecond}
	f := icmpFailure(e, dst, PhaseConnect, false, syscall.ENETUNREACH)
	// As dialFirst joins the failures of a name's addresses.
	joined := joinFailures([]error{f, classify(syscall.ECONNREFUSED, PhaseConnect, other)})

	hop, ok := icmpHop(joined, dst)
	want := Hop{Kind: HopRouter, Name: "192.0.2.1", Cause: CauseRouterUnreachable, Took: 1500 * time.Microsecond,
		Detail: "said network unreachable for 198.51.100.7, 1.5ms after sending"}
	if !ok || hop != want {
		t.Errorf("got %+v, %v; want %+v", hop, ok, want)
	}
	if _, ok := icmpHop(joined, other); ok {
		t.Errorf("a hop for %s, which no ICMP error concerns", other)
	}
	self := icmpFailure(&icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 13, Offender: dst.Addr()}, dst, PhaseConnect, false, syscall.EHOSTUNREACH)
	if _, ok := icmpHop(self, dst); ok {
		t.Errorf("a router hop for an error the destination sent itself")
	}
	local := icmpFailure(&icmpError{Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 13, Offender: netip.MustParseAddr("10.0.0.2")}, dst, PhaseConnect, true, syscall.EHOSTUNREACH)
	if hop, ok := icmpHop(local, dst); !ok || hop.Kind != HopFirewall || hop.Cause != CauseLocalFirewall || hop.Name != "this host (10.0.0.2)" {
		t.Errorf("local firewall: got %+v, %v", hop, ok)
	}
}
