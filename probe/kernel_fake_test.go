package probe

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeKernel answers kernel's questions from its tables, as Linux would
// for that state: enough of its routing (policy rules in priority order,
// the longest prefix of a table, route and rule types and their errnos,
// the local table, a preferred source) for the code above the seam.
// TestIntegrationFakeKernel checks it against the kernel itself.
type fakeKernel struct {
	links  []netlink.Link
	addrs  []netlink.Addr // LinkIndex says whose
	routes []netlink.Route
	rules  []netlink.Rule // nil: the kernel's default rules
	neighs []netlink.Neigh
	// fail makes a method fail with that error, by the method's name
	// ("Links", "Addrs", "RouteGet" ...), as netlinkKernel does.
	fail map[string]error
	// routeGets counts the RouteGet calls.
	routeGets int
}

// newFake is a fake kernel with loopback (index 1, up), as a new
// network namespace has once lo is set up.
func newFake() *fakeKernel {
	k := &fakeKernel{}
	k.link(1, "lo", up|loopback)
	k.addr("lo", "127.0.0.1/8", scopeHost)
	k.addr("lo", "::1/128", scopeHost)
	return k
}

// The states of a link, for link.
const (
	up        = 1 << iota // IFF_UP, operstate UP, IFF_LOWER_UP
	noCarrier             // IFF_UP, operstate DOWN (LOWERLAYERDOWN without a peer)
	unknown               // IFF_UP, operstate UNKNOWN, IFF_LOWER_UP (tun, wireguard)
	loopback              // IFF_LOOPBACK (operstate UNKNOWN)
)

// link adds a link; with no state flag it is administratively down.
func (k *fakeKernel) link(index int, name string, state int) *fakeKernel {
	a := netlink.LinkAttrs{Index: index, Name: name, OperState: netlink.OperDown}
	switch {
	case state&loopback != 0:
		a.Flags |= net.FlagLoopback
		a.OperState = netlink.OperUnknown
		if state&up != 0 {
			a.Flags |= net.FlagUp
			a.RawFlags |= unix.IFF_UP | unix.IFF_LOWER_UP | unix.IFF_LOOPBACK
		}
	case state&up != 0:
		a.Flags |= net.FlagUp
		a.RawFlags |= unix.IFF_UP | unix.IFF_LOWER_UP
		a.OperState = netlink.OperUp
	case state&noCarrier != 0:
		a.Flags |= net.FlagUp
		a.RawFlags |= unix.IFF_UP
		a.OperState = netlink.OperLowerLayerDown
	case state&unknown != 0:
		a.Flags |= net.FlagUp
		a.RawFlags |= unix.IFF_UP | unix.IFF_LOWER_UP
		a.OperState = netlink.OperUnknown
	}
	k.links = append(k.links, &netlink.Device{LinkAttrs: a})
	return k
}

// set replaces link name's state.
func (k *fakeKernel) set(name string, state int) *fakeKernel {
	l := k.byName(name)
	old := slices.Clone(k.links)
	k.links = nil
	k.link(l.Attrs().Index, name, state)
	nl := k.links[0]
	k.links = old
	for i := range k.links {
		if k.links[i].Attrs().Name == name {
			k.links[i] = nl
		}
	}
	return k
}

// Address scopes and flags, for addr.
const (
	scopeHost      = 1 << 16
	scopeLink      = 1 << 17
	tentative      = unix.IFA_F_TENTATIVE
	duplicate      = unix.IFA_F_DADFAILED | unix.IFA_F_TENTATIVE // as the kernel leaves a failed address
	scopeUniversal = 0
)

// addr adds an address (CIDR) to link name; flags are IFA_F_* bits and a
// scope (global unless scopeHost or scopeLink; an IPv6 fe80:: is link).
func (k *fakeKernel) addr(name, cidr string, flags int) *fakeKernel {
	l := k.byName(name)
	pfx := netip.MustParsePrefix(cidr)
	scope := unix.RT_SCOPE_UNIVERSE
	switch {
	case flags&scopeHost != 0:
		scope = unix.RT_SCOPE_HOST
	case flags&scopeLink != 0, pfx.Addr().IsLinkLocalUnicast() && pfx.Addr().Is6():
		scope = unix.RT_SCOPE_LINK
	}
	k.addrs = append(k.addrs, netlink.Addr{
		IPNet:     &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())},
		LinkIndex: l.Attrs().Index,
		Flags:     flags &^ (scopeHost | scopeLink),
		Scope:     scope,
	})
	return k
}

// route adds a route, written as "ip route" would take it, such as
// "default via 10.213.1.1 dev eth0 metric 100", "10.213.0.0/16 dev eth1
// table 100", "blackhole 10.213.9.0/24", "prohibit default table 7";
// "default6" is IPv6's default, and "nexthop dev:eth0,via:10.213.1.1" one
// hop of a multipath route.
func (k *fakeKernel) route(spec string) *fakeKernel {
	f := strings.Fields(spec)
	r := netlink.Route{Type: unix.RTN_UNICAST, Table: unix.RT_TABLE_MAIN}
	switch f[0] {
	case "blackhole", "prohibit", "unreachable", "local", "throw":
		r.Type = map[string]int{"blackhole": unix.RTN_BLACKHOLE, "prohibit": unix.RTN_PROHIBIT,
			"unreachable": unix.RTN_UNREACHABLE, "local": unix.RTN_LOCAL, "throw": unix.RTN_THROW}[f[0]]
		f = f[1:]
	}
	dst := f[0]
	switch dst {
	case "default":
		dst = "0.0.0.0/0"
	case "default6":
		dst = "::/0"
	}
	if !strings.Contains(dst, "/") {
		a := netip.MustParseAddr(dst)
		dst = netip.PrefixFrom(a, a.BitLen()).String()
	}
	pfx := netip.MustParsePrefix(dst)
	r.Dst = &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}
	r.Family = familyOf(pfx.Addr())
	for i := 1; i+1 < len(f); i += 2 {
		switch v := f[i+1]; f[i] {
		case "via":
			r.Gw = netip.MustParseAddr(v).AsSlice()
		case "dev":
			r.LinkIndex = k.byName(v).Attrs().Index
		case "src":
			r.Src = netip.MustParseAddr(v).AsSlice()
		case "metric":
			r.Priority, _ = strconv.Atoi(v)
		case "table":
			r.Table, _ = strconv.Atoi(v)
		case "nexthop": // "nexthop dev:eth0,via:10.0.0.1"
			nh := &netlink.NexthopInfo{}
			for _, kv := range strings.Split(v, ",") {
				key, val, _ := strings.Cut(kv, ":")
				switch key {
				case "dev":
					nh.LinkIndex = k.byName(val).Attrs().Index
				case "via":
					nh.Gw = netip.MustParseAddr(val).AsSlice()
				}
			}
			r.MultiPath = append(r.MultiPath, nh)
		default:
			panic("fake route: unknown word " + f[i])
		}
	}
	if r.Type != unix.RTN_UNICAST && r.Type != unix.RTN_LOCAL {
		r.Scope = netlink.SCOPE_UNIVERSE
	}
	k.routes = append(k.routes, r)
	return k
}

// rule adds a policy rule, written as "ip rule add" would take it: "pref
// 100 from 10.213.0.0/16 lookup 7", "pref 50 to 10.213.9.9 prohibit", "-6
// pref 10 uidrange 0-0 lookup 8", "pref 20 oif eth1 unreachable"; an IPv4
// rule unless "-6" or an IPv6 address says otherwise. The kernel's default
// rules are there too.
func (k *fakeKernel) rule(spec string) *fakeKernel {
	if k.rules == nil {
		k.rules = defaultRules(unix.AF_INET)
		k.rules = append(k.rules, defaultRules(unix.AF_INET6)...)
	}
	f := strings.Fields(spec)
	r := *netlink.NewRule()
	r.Type = unix.FR_ACT_TO_TBL
	fam := unix.AF_INET
	if f[0] == "-6" {
		fam, f = unix.AF_INET6, f[1:]
	}
	prefix := func(s string) *net.IPNet {
		if !strings.Contains(s, "/") {
			a := netip.MustParseAddr(s)
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p := netip.MustParsePrefix(s)
		fam = familyOf(p.Addr())
		return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "prohibit":
			r.Type = unix.FR_ACT_PROHIBIT
		case "blackhole":
			r.Type = unix.FR_ACT_BLACKHOLE
		case "unreachable":
			r.Type = unix.FR_ACT_UNREACHABLE
		default:
			i++
			switch v := f[i]; f[i-1] {
			case "pref":
				r.Priority, _ = strconv.Atoi(v)
			case "from":
				r.Src = prefix(v)
			case "to":
				r.Dst = prefix(v)
			case "lookup":
				r.Table, _ = strconv.Atoi(v)
			case "oif":
				r.OifName = v
			case "uidrange":
				a, b, _ := strings.Cut(v, "-")
				lo, _ := strconv.Atoi(a)
				hi, _ := strconv.Atoi(b)
				r.UIDRange = netlink.NewRuleUIDRange(uint32(lo), uint32(hi))
			default:
				panic("fake rule: unknown word " + f[i-1])
			}
		}
	}
	r.Family = fam
	k.rules = append(k.rules, r)
	return k
}

func defaultRules(family int) []netlink.Rule {
	var rs []netlink.Rule
	for _, pt := range [][2]int{{0, unix.RT_TABLE_LOCAL}, {32766, unix.RT_TABLE_MAIN}, {32767, unix.RT_TABLE_DEFAULT}} {
		r := *netlink.NewRule()
		r.Priority, r.Table, r.Family, r.Type = pt[0], pt[1], family, unix.FR_ACT_TO_TBL
		rs = append(rs, r)
	}
	return rs
}

// neigh adds a neighbour entry for addr on link name, in state (NUD_*).
func (k *fakeKernel) neigh(name, addr string, state int) *fakeKernel {
	a := netip.MustParseAddr(addr)
	k.neighs = append(k.neighs, netlink.Neigh{LinkIndex: k.byName(name).Attrs().Index, Family: familyOf(a), IP: a.AsSlice(), State: state})
	return k
}

// failing makes method fail with err.
func (k *fakeKernel) failing(method string, err error) *fakeKernel {
	if k.fail == nil {
		k.fail = map[string]error{}
	}
	k.fail[method] = err
	return k
}

func (k *fakeKernel) byName(name string) netlink.Link {
	if l := k.linkNamed(name); l != nil {
		return l
	}
	panic("fake kernel: no link " + name)
}

// linkNamed and linkAt are the link of that name or index, or nil; the
// fake's own lookups, which never fail.
func (k *fakeKernel) linkNamed(name string) netlink.Link {
	for _, l := range k.links {
		if l.Attrs().Name == name {
			return l
		}
	}
	return nil
}

func (k *fakeKernel) linkAt(index int) netlink.Link {
	for _, l := range k.links {
		if l.Attrs().Index == index {
			return l
		}
	}
	return nil
}

// failed is the error set for method, named as netlinkKernel names it.
func (k *fakeKernel) failed(method string) error {
	if err := k.fail[method]; err != nil {
		return netlinkErr(err)
	}
	return nil
}

func (k *fakeKernel) Links() ([]netlink.Link, error) {
	if err := k.failed("Links"); err != nil {
		return nil, err
	}
	return slices.Clone(k.links), nil
}

func (k *fakeKernel) LinkByName(name string) (netlink.Link, error) {
	if err := k.failed("LinkByName"); err != nil {
		return nil, err
	}
	for _, l := range k.links {
		if l.Attrs().Name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", errNoLink, name)
}

func (k *fakeKernel) LinkByIndex(index int) (netlink.Link, error) {
	if err := k.failed("LinkByIndex"); err != nil {
		return nil, err
	}
	for _, l := range k.links {
		if l.Attrs().Index == index {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: index %d", errNoLink, index)
}

func (k *fakeKernel) Addrs(l netlink.Link, family int) ([]netlink.Addr, error) {
	if err := k.failed("Addrs"); err != nil {
		return nil, err
	}
	var out []netlink.Addr
	for _, a := range k.addrs {
		if l != nil && a.LinkIndex != l.Attrs().Index {
			continue
		}
		if family != netlink.FAMILY_ALL && familyOf(ipAddr(a.IP)) != family {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (k *fakeKernel) Routes(family int) ([]netlink.Route, error) {
	if err := k.failed("Routes"); err != nil {
		return nil, err
	}
	var out []netlink.Route
	for _, r := range k.table() {
		if r.Family == family {
			out = append(out, r)
		}
	}
	return out, nil
}

// table is every route: those added, and those the kernel adds for an
// address on a link that is up (its prefix, on link: "proto kernel").
func (k *fakeKernel) table() []netlink.Route {
	rs := slices.Clone(k.routes)
	for _, a := range k.addrs {
		l := k.linkAt(a.LinkIndex)
		p := prefixOf(a.IPNet)
		if l == nil || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().Flags&net.FlagLoopback != 0 || p.IsSingleIP() {
			continue
		}
		r := netlink.Route{Type: unix.RTN_UNICAST, Table: unix.RT_TABLE_MAIN, LinkIndex: l.Attrs().Index, Family: familyOf(p.Addr()),
			Dst: &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: a.Mask}, Protocol: unix.RTPROT_KERNEL, Scope: netlink.SCOPE_LINK}
		if p.Addr().Is4() {
			r.Src = a.IP
		} else {
			r.Priority = 256
		}
		rs = append(rs, r)
	}
	return rs
}

func (k *fakeKernel) Neighbours(linkIndex, family int) ([]netlink.Neigh, error) {
	if err := k.failed("Neighbours"); err != nil {
		return nil, err
	}
	var out []netlink.Neigh
	for _, n := range k.neighs {
		if n.LinkIndex == linkIndex && (family == netlink.FAMILY_ALL || n.Family == family) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (k *fakeKernel) Rules(family int) ([]netlink.Rule, error) {
	if err := k.failed("Rules"); err != nil {
		return nil, err
	}
	return k.rulesOf(family), nil
}

// rulesOf is the rules of family in order of priority.
func (k *fakeKernel) rulesOf(family int) []netlink.Rule {
	rules := k.rules
	if rules == nil {
		rules = defaultRules(family)
	}
	var out []netlink.Rule
	for _, r := range rules {
		if family == netlink.FAMILY_ALL || r.Family == family {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b netlink.Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// RouteGet walks the rules in order of priority; a rule that matches
// either ends the lookup (prohibit: EACCES, blackhole: EINVAL,
// unreachable: ENETUNREACH) or looks in its table, where the longest
// prefix of a route of the family wins (then the lowest metric) and ends
// the lookup, unless it is a throw route. An output link (oif) keeps only
// the routes through it. No route: ENETUNREACH, but for IPv4 with an
// output link the destination is taken to be on that link.
func (k *fakeKernel) RouteGet(dst netip.Addr, opts *netlink.RouteGetOptions) ([]netlink.Route, error) {
	if err := k.failed("RouteGet"); err != nil {
		return nil, err
	}
	k.routeGets++
	if opts == nil {
		opts = &netlink.RouteGetOptions{}
	}
	fam := familyOf(dst)
	for _, ru := range k.rulesOf(fam) {
		if !k.ruleMatches(ru, dst, opts) {
			continue
		}
		switch ru.Type {
		case unix.FR_ACT_PROHIBIT:
			return nil, unix.EACCES
		case unix.FR_ACT_BLACKHOLE:
			return nil, unix.EINVAL
		case unix.FR_ACT_UNREACHABLE:
			return nil, unix.ENETUNREACH // a rule's, unlike a route's
		}
		r, ok := k.lookup(ru.Table, dst, opts)
		if !ok {
			continue
		}
		switch r.Type {
		case unix.RTN_PROHIBIT:
			return nil, unix.EACCES
		case unix.RTN_BLACKHOLE:
			return nil, unix.EINVAL
		case unix.RTN_UNREACHABLE:
			return nil, unix.EHOSTUNREACH
		case unix.RTN_THROW:
			continue
		}
		return []netlink.Route{k.answer(r, dst, opts)}, nil
	}
	if l := k.linkNamed(opts.Oif); l != nil && dst.Is4() {
		// IPv4 with an output link and no route through it: "Apparently,
		// routing tables are wrong. Assume, that the destination is on
		// link." (net/ipv4/route.c)
		r := netlink.Route{Type: unix.RTN_UNICAST, LinkIndex: l.Attrs().Index, Family: fam} // in no table
		return []netlink.Route{k.answer(r, dst, opts)}, nil
	}
	return nil, unix.ENETUNREACH
}

func (k *fakeKernel) ruleMatches(ru netlink.Rule, dst netip.Addr, opts *netlink.RouteGetOptions) bool {
	if ru.Dst != nil && !prefixOf(ru.Dst).Contains(dst) {
		return false
	}
	if ru.Src != nil {
		src, ok := netip.AddrFromSlice(opts.SrcAddr)
		if !ok || !prefixOf(ru.Src).Contains(src.Unmap()) {
			return false
		}
	}
	if ru.OifName != "" && ru.OifName != opts.Oif {
		return false
	}
	if ru.UIDRange != nil {
		uid := uint32(0) // "ip route get" without uid asks as root
		if opts.UID != nil {
			uid = *opts.UID
		}
		if uid < ru.UIDRange.Start || uid > ru.UIDRange.End {
			return false
		}
	}
	return true
}

// lookup finds the route for dst in table: the local table holds this
// host's addresses, the others the routes added.
func (k *fakeKernel) lookup(table int, dst netip.Addr, opts *netlink.RouteGetOptions) (netlink.Route, bool) {
	if table == unix.RT_TABLE_LOCAL {
		return k.local(dst)
	}
	var (
		best  netlink.Route
		found bool
	)
	for _, r := range k.table() {
		t := r.Table
		if t == 0 {
			t = unix.RT_TABLE_MAIN
		}
		if t != table || r.Family != familyOf(dst) || !prefixOf(r.Dst).Contains(dst) {
			continue
		}
		// A route that refuses has no output link: the kernel meets it
		// whatever link the socket is bound to (fib_table_lookup checks
		// the type before the next hops).
		refuses := r.Type == unix.RTN_PROHIBIT || r.Type == unix.RTN_BLACKHOLE || r.Type == unix.RTN_UNREACHABLE
		if opts.Oif != "" && !refuses && !k.through(r, opts.Oif) {
			continue
		}
		if !found || prefixOf(r.Dst).Bits() > prefixOf(best.Dst).Bits() ||
			prefixOf(r.Dst).Bits() == prefixOf(best.Dst).Bits() && r.Priority < best.Priority {
			best, found = r, true
		}
	}
	return best, found
}

// through reports whether r leaves through the link named oif.
func (k *fakeKernel) through(r netlink.Route, oif string) bool {
	l := k.linkNamed(oif)
	if l == nil {
		return false
	}
	if r.LinkIndex == l.Attrs().Index {
		return true
	}
	for _, nh := range r.MultiPath {
		if nh.LinkIndex == l.Attrs().Index {
			return true
		}
	}
	return false
}

// local is the local table's route for dst: an address of a link that is
// up (or loopback's 127.0.0.0/8), through lo.
func (k *fakeKernel) local(dst netip.Addr) (netlink.Route, bool) {
	lo := 0
	for _, l := range k.links {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			lo = l.Attrs().Index
		}
	}
	for _, r := range k.routes {
		if r.Table == unix.RT_TABLE_LOCAL && prefixOf(r.Dst).Contains(dst) {
			return r, true
		}
	}
	for _, a := range k.addrs {
		l := k.linkAt(a.LinkIndex)
		if l == nil || l.Attrs().Flags&net.FlagUp == 0 {
			continue
		}
		p := prefixOf(a.IPNet)
		if ipAddr(a.IP) == dst || a.Scope == unix.RT_SCOPE_HOST && dst.Is4() && p.Contains(dst) {
			return netlink.Route{Type: unix.RTN_LOCAL, Table: unix.RT_TABLE_LOCAL, LinkIndex: lo, Family: familyOf(dst),
				Dst: &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(dst.BitLen(), dst.BitLen())}, Src: a.IP}, true
		}
	}
	return netlink.Route{}, false
}

// answer is what "ip route get" says of r for dst: the route for dst
// alone, through one nexthop, with the source the kernel would prefer —
// none for IPv4 when the question gave one, the one given for IPv6.
func (k *fakeKernel) answer(r netlink.Route, dst netip.Addr, opts *netlink.RouteGetOptions) netlink.Route {
	out := r
	out.Dst = &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(dst.BitLen(), dst.BitLen())}
	if len(r.MultiPath) > 0 {
		out.LinkIndex, out.Gw, out.MultiPath = r.MultiPath[0].LinkIndex, r.MultiPath[0].Gw, nil
	}
	switch src, given := netip.AddrFromSlice(opts.SrcAddr); {
	case given && dst.Is4():
		out.Src = nil
	case given:
		out.Src = src.AsSlice()
	case out.Src == nil && r.Type == unix.RTN_UNICAST:
		out.Src = k.preferredSource(out.LinkIndex, dst)
	}
	return out
}

// preferredSource is an address of dst's family that the kernel may send
// from: the out link's own first, then any other link's; never a
// tentative or failed one; towards a global destination a global one
// first (RFC 6724's rule 2 before its rule 5), and only when there is
// none a link-local one (the kernel sends from fe80:: while the link's
// global address is tentative); of IPv6 ones, that with the longest
// prefix in common with dst (RFC 6724's rule 8). nil if there is none.
func (k *fakeKernel) preferredSource(index int, dst netip.Addr) net.IP {
	usable := func(a netlink.Addr, linkLocal bool) bool {
		ip := ipAddr(a.IP)
		return familyOf(ip) == familyOf(dst) && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 &&
			a.Scope != unix.RT_SCOPE_HOST && (a.Scope == unix.RT_SCOPE_UNIVERSE || !dst.IsGlobalUnicast() || linkLocal && dst.Is6())
	}
	for _, pass := range []struct{ own, linkLocal bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		own := pass.own
		var best net.IP
		bestLen := -1
		for _, a := range k.addrs {
			if (a.LinkIndex == index) != own || !usable(a, pass.linkLocal) {
				continue
			}
			if dst.Is4() {
				return a.IP
			}
			if n := commonPrefix(ipAddr(a.IP), dst); n > bestLen {
				best, bestLen = a.IP, n
			}
		}
		if best != nil {
			return best
		}
	}
	return nil
}

// commonPrefix is how many leading bits a and b share.
func commonPrefix(a, b netip.Addr) int {
	for n := a.BitLen(); n > 0; n-- {
		pa, _ := a.Prefix(n)
		pb, _ := b.Prefix(n)
		if pa == pb {
			return n
		}
	}
	return 0
}

func prefixOf(n *net.IPNet) netip.Prefix {
	p, ok := netipPrefix(n)
	if !ok {
		panic("fake kernel: bad prefix")
	}
	return p
}

func ipAddr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// A fake kernel that answers as documented: the premise of every test
// that uses it.
func TestFakeKernel(t *testing.T) {
	k := newFake().
		link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0).
		link(3, "eth1", up).addr("eth1", "10.213.2.2/24", 0).addr("eth1", "fd00:213::2/64", tentative).
		route("10.213.1.0/24 dev eth0 src 10.213.1.2").
		route("default via 10.213.1.1 dev eth0").
		route("10.213.64.0/18 via 10.213.2.1 dev eth1").
		route("blackhole 10.213.9.0/24").
		route("prohibit 10.213.8.0/24").
		route("unreachable 10.213.7.0/24").
		route("fd00:213::/64 dev eth1").
		route("10.213.5.0/24 via 10.213.2.9 dev eth1 table 7").
		rule("pref 100 from 10.213.2.2 lookup 7").
		rule("pref 90 to 10.213.6.6 prohibit").
		rule("pref 80 uidrange 1000-1000 unreachable")
	type want struct {
		err  error
		dev  int
		gw   string
		src  string
		kind int
	}
	uid := uint32(1000)
	for _, c := range []struct {
		dst  string
		opts *netlink.RouteGetOptions
		want want
	}{
		{"10.213.1.7", nil, want{dev: 2, src: "10.213.1.2", kind: unix.RTN_UNICAST}},
		{"10.213.65.3", nil, want{dev: 3, gw: "10.213.2.1", src: "10.213.2.2", kind: unix.RTN_UNICAST}},
		{"10.213.200.1", nil, want{dev: 2, gw: "10.213.1.1", src: "10.213.1.2", kind: unix.RTN_UNICAST}},
		{"10.213.200.1", &netlink.RouteGetOptions{Oif: "eth1"}, want{dev: 3, src: "10.213.2.2", kind: unix.RTN_UNICAST}},
		{"fd00:213:1::1", &netlink.RouteGetOptions{Oif: "eth1"}, want{err: unix.ENETUNREACH}},
		{"10.213.9.1", nil, want{err: unix.EINVAL}},
		{"10.213.8.1", nil, want{err: unix.EACCES}},
		{"10.213.7.1", nil, want{err: unix.EHOSTUNREACH}},
		{"10.213.6.6", nil, want{err: unix.EACCES}},
		{"10.213.5.5", nil, want{dev: 2, gw: "10.213.1.1", src: "10.213.1.2", kind: unix.RTN_UNICAST}},
		{"10.213.5.5", &netlink.RouteGetOptions{SrcAddr: net.ParseIP("10.213.2.2")}, want{dev: 3, gw: "10.213.2.9", kind: unix.RTN_UNICAST}},
		{"10.213.1.2", nil, want{dev: 1, src: "10.213.1.2", kind: unix.RTN_LOCAL}},
		{"127.0.0.9", nil, want{dev: 1, src: "127.0.0.1", kind: unix.RTN_LOCAL}},
		{"fd00:213::9", nil, want{dev: 3, kind: unix.RTN_UNICAST}}, // only a tentative address: no source
		{"fd00:213:1::1", nil, want{err: unix.ENETUNREACH}},
		{"10.213.1.7", &netlink.RouteGetOptions{UID: &uid}, want{err: unix.ENETUNREACH}},
	} {
		rs, err := k.RouteGet(netip.MustParseAddr(c.dst), c.opts)
		var got want
		got.err = err
		if err == nil {
			r := rs[0]
			got.dev, got.kind = r.LinkIndex, r.Type
			if r.Gw != nil {
				got.gw = r.Gw.String()
			}
			if r.Src != nil {
				got.src = r.Src.String()
			}
		}
		if got != c.want {
			t.Errorf("route get %s %+v: got %+v, want %+v", c.dst, c.opts, got, c.want)
		}
	}
	if _, err := k.LinkByName("eth9"); err == nil || !strings.Contains(err.Error(), "no such link") {
		t.Errorf("LinkByName(eth9): %v, want no such link", err)
	}
	k.failing("Links", unix.EAFNOSUPPORT)
	if _, err := k.Links(); err == nil || !strings.Contains(err.Error(), errNetlinkRefused.Error()) {
		t.Errorf("Links refused: %v", err)
	}
}
