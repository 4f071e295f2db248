package probe

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Routes that refuse. "ip route get" fails, rather than answering, for a
// destination covered by a blackhole route (EINVAL), a prohibit route
// (EACCES) or an unreachable route (EHOSTUNREACH), in whichever table the
// policy rules ("ip rule") lead the lookup to: a VPN's kill switch, a
// policy that keeps a subnet off an uplink. The errno says which type; to
// name the route and the rule, netready walks the rules and tables as the
// kernel's FIB lookup does (fib_rules_lookup, then the longest prefix in
// each table a rule selects), for the selectors a probe's packets can
// match. A walk that does not arrive at a route of the type the errno
// says names nothing: the errno alone is then reported.

// fibFlow is what a route lookup is asked about a probe's packet.
type fibFlow struct {
	dst netip.Addr
	src netip.Addr // zero unless src= binds the socket
	oif string     // via=
	uid uint32
}

// fibResult is where a walk of the rules ended.
type fibResult struct {
	rule  netlink.Rule
	route *netlink.Route // nil when the rule itself refuses (ip rule add blackhole ...)
}

// rejectType is the route type the errno of a failed route lookup
// stands for, with its cause; ok is false for any other errno.
func rejectType(errno unix.Errno) (typ int, c Cause, ok bool) {
	switch errno {
	case unix.EINVAL:
		return unix.RTN_BLACKHOLE, CauseRouteBlackhole, true
	case unix.EACCES:
		return unix.RTN_PROHIBIT, CauseRouteProhibited, true
	case unix.EHOSTUNREACH:
		return unix.RTN_UNREACHABLE, CauseRouteUnreachable, true
	}
	return 0, "", false
}

// fibWalk follows rules (in priority order, as "ip rule" lists them) for
// fl and returns the route or rule that refuses it with a route type of
// typ; ok is false when the walk reaches a route that forwards, or none.
// table lists one table's routes.
func fibWalk(rules []netlink.Rule, table func(id int) []netlink.Route, fl fibFlow, typ int) (fibResult, bool) {
	for i := 0; i < len(rules); i++ {
		r := rules[i]
		if !ruleMatches(r, fl) {
			continue
		}
		switch {
		case r.Goto > 0:
			// Continue at the first rule of that priority or after it.
			j := i + 1
			for j < len(rules) && rules[j].Priority < r.Goto {
				j++
			}
			i = j - 1
			continue
		case r.Table == unix.RT_TABLE_UNSPEC:
			// A rule without a table refuses by itself (blackhole,
			// unreachable, prohibit: the dump does not say which),
			// or does nothing (nop). The errno says which it was.
			return fibResult{rule: r}, true
		}
		rt, ok := longestMatch(table(r.Table), fl.dst)
		if !ok {
			continue
		}
		if ones, _ := ipnetOf(rt.Dst, fl.dst).Mask.Size(); r.SuppressPrefixlen >= 0 && ones <= r.SuppressPrefixlen {
			continue // "suppress_prefixlength N": only longer prefixes count
		}
		switch rt.Type {
		case unix.RTN_THROW:
			continue
		case typ:
			return fibResult{rule: r, route: &rt}, true
		}
		return fibResult{}, false // a route that forwards or delivers
	}
	return fibResult{}, false
}

// ruleMatches reports whether rule r selects flow fl, for the selectors a
// locally sent packet has: a locally generated packet's input interface is
// "lo" (flowi_iif = LOOPBACK_IFINDEX); its output interface is via='s;
// it has no firewall mark, no tunnel id and TOS 0.
func ruleMatches(r netlink.Rule, fl fibFlow) bool {
	m := func() bool {
		src := fl.src
		if !src.IsValid() {
			src = netip.IPv6Unspecified()
			if fl.dst.Is4() {
				src = netip.IPv4Unspecified()
			}
		}
		if r.Src != nil && !r.Src.Contains(src.AsSlice()) {
			return false
		}
		if r.Dst != nil && !r.Dst.Contains(fl.dst.AsSlice()) {
			return false
		}
		if r.IifName != "" && r.IifName != "lo" {
			return false
		}
		if r.OifName != "" && r.OifName != fl.oif {
			return false
		}
		mask := uint32(0xffffffff)
		if r.Mask != nil {
			mask = *r.Mask
		}
		if r.Mark&mask != 0 {
			return false // our packets carry mark 0
		}
		if r.UIDRange != nil && (fl.uid < r.UIDRange.Start || fl.uid > r.UIDRange.End) {
			return false
		}
		if r.Tos != 0 || r.TunID != 0 {
			return false
		}
		return true
	}()
	if r.Invert {
		return !m
	}
	return m
}

// ipnetOf is n, or the whole space of dst's family when n is nil.
func ipnetOf(n *net.IPNet, dst netip.Addr) *net.IPNet {
	if n != nil {
		return n
	}
	bits := 128
	if dst.Is4() {
		bits = 32
	}
	return &net.IPNet{IP: make(net.IP, bits/8), Mask: net.CIDRMask(0, bits)}
}

// longestMatch is the route of routes with the longest prefix holding
// dst, the lowest metric among equals.
func longestMatch(routes []netlink.Route, dst netip.Addr) (netlink.Route, bool) {
	best, bestLen, found := netlink.Route{}, -1, false
	for _, rt := range routes {
		n := ipnetOf(rt.Dst, dst)
		if !n.Contains(dst.AsSlice()) || (len(n.Mask) == net.IPv4len) != dst.Is4() {
			continue
		}
		ones, _ := n.Mask.Size()
		if ones > bestLen || ones == bestLen && rt.Priority < best.Priority {
			best, bestLen, found = rt, ones, true
		}
	}
	return best, found
}

// prefixName is a route's destination as "ip route" prints it: "default"
// for the whole space of a family.
func prefixName(n *net.IPNet) string {
	if ones, _ := n.Mask.Size(); ones == 0 {
		return "default"
	}
	return n.String()
}

// tableName is a routing table as "ip route" names it.
func tableName(id int) string {
	switch id {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	}
	return strconv.Itoa(id)
}

// routeTypeName is a route type as "ip route" prints it.
func routeTypeName(typ int) string {
	switch typ {
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_THROW:
		return "throw"
	}
	return "type " + strconv.Itoa(typ)
}

// describeRule is a rule as "ip rule" prints it: "1000: from all to
// 10.213.73.0/24 lookup 100".
func describeRule(r netlink.Rule) string {
	s := strconv.Itoa(r.Priority) + ":"
	if r.Invert {
		s += " not"
	}
	from := "all"
	if r.Src != nil {
		from = r.Src.String()
	}
	s += " from " + from
	if r.Dst != nil {
		s += " to " + r.Dst.String()
	}
	if r.IifName != "" {
		s += " iif " + r.IifName
	}
	if r.OifName != "" {
		s += " oif " + r.OifName
	}
	if r.Mark != 0 {
		s += fmt.Sprintf(" fwmark %#x", r.Mark)
	}
	if r.UIDRange != nil {
		s += fmt.Sprintf(" uidrange %d-%d", r.UIDRange.Start, r.UIDRange.End)
	}
	if r.Table != unix.RT_TABLE_UNSPEC {
		s += " lookup " + tableName(r.Table)
	}
	if r.SuppressPrefixlen >= 0 && r.Table != unix.RT_TABLE_UNSPEC {
		s += " suppress_prefixlength " + strconv.Itoa(r.SuppressPrefixlen)
	}
	return s
}

// defaultRule reports whether r is one of the rules every host has: 0
// lookup local, 32766 lookup main, 32767 lookup default.
func defaultRule(r netlink.Rule) bool {
	if r.Src != nil || r.Dst != nil || r.IifName != "" || r.OifName != "" || r.Mark != 0 || r.Invert || r.UIDRange != nil {
		return false
	}
	return r.Priority == 0 && r.Table == unix.RT_TABLE_LOCAL ||
		r.Priority == 32766 && r.Table == unix.RT_TABLE_MAIN ||
		r.Priority == 32767 && r.Table == unix.RT_TABLE_DEFAULT
}

// rejectHop is the route hop of a destination whose route lookup failed
// with errno: a route (or a rule) of a type that refuses covers it. It
// returns false for an errno that is not a refusing type's.
func (e *Env) rejectHop(dst netip.Addr, s sockets, errno unix.Errno) (Hop, bool) {
	typ, cause, ok := rejectType(errno)
	if !ok {
		return Hop{}, false
	}
	what := routeTypeName(typ)
	hop := Hop{Kind: HopRoute, Name: dst.String(), Cause: cause,
		Detail: fmt.Sprintf("ip route get %s: %v: %s route covers it", dst, errno, withArticle(what))}
	k := e.kernel()
	fam := familyOf(dst)
	rules, err := k.Rules(fam)
	if err != nil {
		return hop, true
	}
	all, err := k.Routes(fam)
	if err != nil {
		return hop, true
	}
	table := func(id int) []netlink.Route {
		var rs []netlink.Route
		for _, r := range all {
			if r.Table == id {
				rs = append(rs, r)
			}
		}
		return rs
	}
	src := netip.Addr{}
	if s.src.IsValid() && s.src.Is4() == dst.Is4() {
		src = s.src
	}
	res, ok := fibWalk(rules, table, fibFlow{dst: dst, src: src, oif: s.via, uid: currentUID()}, typ)
	if !ok {
		return hop, true
	}
	if res.route == nil {
		hop.Name = "rule " + describeRule(res.rule)
		hop.Detail = fmt.Sprintf("rule %s refuses %s: it is %s rule (ip route get: %v)", describeRule(res.rule), dst, withArticle(what), errno)
		return hop, true
	}
	name := fmt.Sprintf("%s %s table %s", what, prefixName(ipnetOf(res.route.Dst, dst)), tableName(res.route.Table))
	hop.Name = name
	hop.Detail = fmt.Sprintf("%s is covered by route %s%s", dst, name, map[int]string{
		unix.RTN_BLACKHOLE:   ", which silently discards what is sent to it",
		unix.RTN_PROHIBIT:    ", which refuses it (administratively prohibited)",
		unix.RTN_UNREACHABLE: ", which declares it unreachable",
	}[typ])
	if !defaultRule(res.rule) {
		hop.Detail += ", looked up by rule " + describeRule(res.rule)
	}
	return hop, true
}

// currentUID is the uid the kernel routes this process's packets as ("ip
// rule ... uidrange").
func currentUID() uint32 { return uint32(os.Getuid()) }

// withArticle is a route type's name after its indefinite article.
func withArticle(typ string) string {
	if typ == "unreachable" {
		return "an " + typ
	}
	return "a " + typ
}
