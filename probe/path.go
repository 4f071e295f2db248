package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The path of a failing target: for each address it needed (the endpoint's,
// or the resolvers' a name needed), the hops on this host's side that the
// kernel's state tells about — the route it picks, that route's link, the
// link's address of the family, the next hop's neighbour entry — read from
// netlink, without sending anything. The first broken hop, if there is
// one, is the failure's cause instead of the socket's error: a TCP target
// behind a down link says the link is down, not "network is unreachable".
// Passing targets are not explained (unless Env.Explain asks for every
// path, for check --explain), so a healthy network costs nothing more.

// HopKind is what a hop is.
type HopKind string

// The kinds of hop, in the order a path meets them; the last hop of a
// path is the destination, of its path's Role.
const (
	HopRoute     HopKind = "route"
	HopLink      HopKind = "link"
	HopAddress   HopKind = "address"
	HopGateway   HopKind = "gateway"
	HopNeighbour HopKind = "neighbour" // an on-link destination's own entry
	HopRouter    HopKind = "router"    // a router beyond the host that answered with an ICMP error
	HopFirewall  HopKind = "firewall"  // this host's own firewall, which rejected the packet
	HopResolver  HopKind = HopKind(RoleResolver)
	HopEndpoint  HopKind = HopKind(RoleEndpoint)
)

// phase is the step a failure explained by a broken hop of kind k fails
// at.
func (k HopKind) phase() PhaseName { return PhaseName(k) }

// Role is what a path's destination is to the target.
type Role string

const (
	RoleEndpoint Role = "endpoint" // the target's own address
	RoleResolver Role = "resolver" // a resolver asked for the target's name
)

// Hop is one step on the way to a destination, and its state.
type Hop struct {
	Kind   HopKind
	Name   string // what it is: "10.213.1.1 via 10.213.1.99 dev nrc0", "nrc0"
	OK     bool
	Detail string        // its state: "up", "REACHABLE", "does not answer ARP"
	Cause  Cause         // why it is broken; empty when OK
	Took   time.Duration // reading its state (a phase of the attempt for the last hop)
}

// Path is the hops to one destination, in order; the last is the
// destination itself.
type Path struct {
	Dest netip.AddrPort // port 0 for an ICMP endpoint
	Role Role
	Hops []Hop
}

// Broken is the first hop of p that is broken, or nil.
func (p Path) Broken() *Hop {
	for i := range p.Hops {
		if !p.Hops[i].OK {
			return &p.Hops[i]
		}
	}
	return nil
}

// explainFailure looks at the path to the destination f concerns (an
// address in its Hop), or to dests when it names none, and returns the
// failure of the first broken hop before the destination, wrapping f's
// error; nil if the path shows nothing wrong.
func (e *Env) explainFailure(f *Failure, t Target, dests []netip.AddrPort) *Failure {
	// A resolver's socket error that no errno explains (EINVAL, EACCES
	// from connect: a route that refuses) is asked of the path too; an
	// rcode is an answer, and the path worked.
	socketErr := f.Cause == CauseResolverError && f.Phase == PhaseQuery
	if !causes[f.Cause].pathLike && !socketErr {
		return nil
	}
	role := roleOf(t, f)
	if ap, ok := hopAddr(f.Hop); ok {
		dests = []netip.AddrPort{ap}
	}
	for _, d := range dests {
		p := e.path(d, role, socketsOf(t))
		h := p.Broken()
		if h == nil || h.Kind == HopKind(role) {
			continue
		}
		if h.Cause == f.Cause && role == RoleEndpoint && h.Name == d.Addr().Unmap().String() {
			return nil // the socket said it already ("no route")
		}
		return fail(h.Cause, h.Kind.phase(), h.Name, fmt.Errorf("%s (%w)", sentence(p, h), f.Err))
	}
	return nil
}

// roleOf is what the destinations of an attempt at t are, given f, its
// failure (nil if it passed): the resolvers, for a dns: target or a
// failure while resolving a name or asking a resolver; else the target's
// endpoints.
func roleOf(t Target, f *Failure) Role {
	switch {
	case t.Kind == KindDNS:
		return RoleResolver
	case f == nil:
		return RoleEndpoint
	case f.Phase == PhaseResolve, f.Phase == PhaseQuery, f.Phase == PhaseAnswer,
		f.Cause == CauseResolverTimeout, f.Cause == CauseResolverUnreachable:
		return RoleResolver
	}
	return RoleEndpoint
}

// hopAddr reads a Failure's Hop as an address, with or without a port.
func hopAddr(hop string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap, true
	}
	if a, err := netip.ParseAddr(hop); err == nil {
		return netip.AddrPortFrom(a, 0), true
	}
	return netip.AddrPort{}, false
}

// sentence says what is wrong at hop h of p, for a person.
func sentence(p Path, h *Hop) string {
	s := h.Detail
	if p.Role == RoleResolver {
		if h.Kind == HopLink && (h.Cause == CauseLinkDown || h.Cause == CauseNoCarrier) {
			return fmt.Sprintf("resolver %s is reachable only through %s, which %s", p.Dest.Addr(), h.Name, strings.TrimPrefix(s, "link "+h.Name+" "))
		}
		return fmt.Sprintf("resolver %s: %s", p.Dest.Addr(), s)
	}
	return s
}

// path reads the hops to d from the kernel's state, for packets that leave
// as s says (via=, src=: "ip route get D oif IFACE from ADDR").
func (e *Env) path(d netip.AddrPort, role Role, s sockets) Path {
	k := e.kernel()
	p := Path{Dest: d, Role: role}
	add := func(start time.Time, hop Hop) bool {
		hop.Took = time.Since(start)
		p.Hops = append(p.Hops, hop)
		return hop.OK
	}
	dst := d.Addr().Unmap()
	fam := familyOf(dst)
	if role == RoleResolver {
		s = s.forResolver(dst)
	}
	uid := currentUID() // as the socket is routed (ip rule uidrange)
	opts := &netlink.RouteGetOptions{Oif: s.via, UID: &uid}
	if s.src.IsValid() && s.src.Is4() == dst.Is4() {
		opts.SrcAddr = s.src.AsSlice()
	}
	start := time.Now()
	routes, err := k.RouteGet(dst, opts)
	var errno unix.Errno
	if errors.As(err, &errno) {
		if hop, ok := e.rejectHop(dst, s, errno); ok {
			add(start, hop)
			return p
		}
	}
	if err != nil || len(routes) == 0 {
		add(start, e.noRoute(dst, err))
		return p
	}
	r := routes[0]
	links := linkCache{k: k}
	l, err := links.get(r.LinkIndex)
	if err != nil {
		add(start, Hop{Kind: HopRoute, Name: dst.String(), Detail: fmt.Sprintf("route to %s: link %d: %v", dst, r.LinkIndex, err), Cause: CauseOther})
		return p
	}
	name := l.Attrs().Name
	if !add(start, Hop{Kind: HopRoute, Name: describeRoute(dst.String(), r.Gw, l, r.Table), OK: true, Detail: routeDetail(r)}) {
		return p
	}
	start = time.Now()
	if f := linkUp(l); f != nil {
		add(start, Hop{Kind: HopLink, Name: name, Detail: "link " + f.Error(), Cause: f.Cause})
		return p
	}
	add(start, Hop{Kind: HopLink, Name: name, OK: true, Detail: "up"})
	if l.Attrs().Flags&net.FlagLoopback != 0 {
		return p // a local address: no neighbour, no gateway
	}
	start = time.Now()
	if hop, ok := addressHop(k, l, fam, r.Src, dst.IsGlobalUnicast()); !add(start, hop) || !ok {
		return p
	}
	start = time.Now()
	next, kind := dst, HopNeighbour
	if r.Gw != nil {
		next, _ = netip.AddrFromSlice(r.Gw)
		next, kind = next.Unmap(), HopGateway
	}
	add(start, neighbourHop(k, l, next, kind, role))
	return p
}

// routeDetail is what a route says beyond its description: its source,
// and the path MTU the kernel has for the destination, learned from an
// ICMP error ("ip route get": "cache expires 597sec mtu 1400") or the
// route's own.
func routeDetail(r netlink.Route) string {
	var d []string
	if r.Src != nil {
		d = append(d, "src "+r.Src.String())
	}
	if r.MTU > 0 {
		d = append(d, fmt.Sprintf("path MTU %d", r.MTU))
	}
	return strings.Join(d, ", ")
}

// familyOf is netlink's family of a.
func familyOf(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// addressHop checks that link l has an address of family fam it can send
// from (the route's preferred source src, if it gave one); beyond says the
// destination is beyond the link, so only a global address will do.
func addressHop(k kernel, l netlink.Link, fam int, src net.IP, beyond bool) (Hop, bool) {
	name := l.Attrs().Name
	addrs, err := k.Addrs(l, fam)
	if err != nil {
		return Hop{Kind: HopAddress, Name: name, Detail: fmt.Sprintf("list addresses of %s: %v", name, err), Cause: CauseOther}, false
	}
	var tentative, failed, linkLocal []string
	inScope := 0
	for _, a := range addrs {
		if beyond && !globalAddr(a) {
			if a.IP.IsLinkLocalUnicast() {
				linkLocal = append(linkLocal, a.IPNet.String())
			}
			continue
		}
		inScope++
		switch dadOf(a) {
		case dadFailed:
			failed = append(failed, a.IPNet.String())
		case dadRunning:
			tentative = append(tentative, a.IPNet.String())
		case dadDone:
			if src != nil && !a.IP.Equal(src) {
				continue
			}
			return Hop{Kind: HopAddress, Name: name, OK: true, Detail: a.IPNet.String()}, true
		}
	}
	fn := familyName(fam)
	switch {
	case len(tentative) > 0:
		return Hop{Kind: HopAddress, Name: name, Cause: CauseAddressTentative,
			Detail: fmt.Sprintf("%s's %s address %s is still tentative (duplicate address detection)", name, fn, strings.Join(tentative, ", "))}, false
	case len(failed) > 0:
		return Hop{Kind: HopAddress, Name: name, Cause: CauseAddressDADFailed,
			Detail: fmt.Sprintf("%s's %s address %s failed duplicate address detection: another host has it", name, fn, strings.Join(failed, ", "))}, false
	case inScope > 0:
		// The route's source is not on the link (a route with src= of
		// another link's address): the kernel sends from it all the same.
		return Hop{Kind: HopAddress, Name: name, OK: true, Detail: "src " + src.String()}, true
	case fam == netlink.FAMILY_V6 && len(linkLocal) > 0:
		// A global address comes from a router advertisement (SLAAC) or
		// DHCPv6; a link-local one reaches only the link.
		return Hop{Kind: HopAddress, Name: name, Cause: CauseNoAddress,
			Detail: fmt.Sprintf("%s has no global IPv6 address yet, only the link-local %s: no router advertisement (SLAAC) or DHCPv6 has given it one", name, strings.Join(linkLocal, ", "))}, false
	}
	return Hop{Kind: HopAddress, Name: name, Cause: CauseNoAddress,
		Detail: fmt.Sprintf("%s has no %s address (%s)", name, fn, otherAddrs(k, l))}, false
}

// otherAddrs says which addresses l has, for "nrc0 has no IPv4 address (it
// has fd00:213::2)".
func otherAddrs(k kernel, l netlink.Link) string {
	all, _ := k.Addrs(l, netlink.FAMILY_ALL)
	var s []string
	for _, a := range all {
		if a.Scope == unix.RT_SCOPE_UNIVERSE {
			s = append(s, a.IP.String())
		}
	}
	if len(s) == 0 {
		return "it has none"
	}
	return "it has " + strings.Join(s, ", ")
}

// neighbourHop reads the neighbour entry of next (the gateway, or the
// destination itself when it is on the link). An entry that is INCOMPLETE
// or FAILED means next does not answer ARP (IPv4) or neighbour discovery
// (IPv6); no entry means nothing was asked of it yet: not broken.
func neighbourHop(k kernel, l netlink.Link, next netip.Addr, kind HopKind, role Role) Hop {
	name := l.Attrs().Name
	hop := Hop{Kind: kind, Name: next.String() + " on " + name, OK: true}
	neighs, err := k.Neighbours(l.Attrs().Index, familyOf(next))
	if err != nil {
		hop.Detail = "neighbour table: " + err.Error()
		return hop
	}
	proto := "ARP"
	if next.Is6() {
		proto = "neighbour discovery"
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); !ok || a.Unmap() != next {
			continue
		}
		hop.Detail = nudName(n.State)
		if n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 {
			hop.OK = false
			what := "gateway " + next.String()
			hop.Cause = CauseGatewayUnreachable
			switch {
			case kind == HopNeighbour && role == RoleResolver:
				what, hop.Cause = next.String(), CauseResolverUnreachable
			case kind == HopNeighbour:
				what, hop.Cause = next.String(), CauseHostUnreachable
			}
			hop.Detail = fmt.Sprintf("%s on %s does not answer %s", what, name, proto)
		}
		return hop
	}
	hop.Detail = "no neighbour entry yet"
	return hop
}

// nudName is a neighbour state as "ip neigh" prints it.
func nudName(state int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
		{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
		{netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
	}
	for _, n := range names {
		if state&n.bit != 0 {
			return n.name
		}
	}
	return "NONE"
}

// noRoute explains why the kernel has no route to dst: a link that would
// carry it is down or without carrier, or no link that is up has an
// address of dst's family; else there is simply no route for it.
func (e *Env) noRoute(dst netip.Addr, err error) Hop {
	k := e.kernel()
	hop := Hop{Kind: HopRoute, Name: dst.String(), Cause: CauseNoRoute, Detail: "no route to " + dst.String()}
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			hop.Detail += ": " + errno.Error()
		}
		if errors.Is(err, errNetlinkRefused) {
			hop.Cause, hop.Detail = CauseNetlinkRefused, fmt.Sprintf("route get %s: %v", dst, err)
			return hop
		}
	}
	all, lerr := k.Links()
	if lerr != nil {
		return hop
	}
	fam := familyOf(dst)
	var down, up []netlink.Link // links that are down, that are up (loopback aside)
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		if linkUp(l) != nil {
			down = append(down, l)
		} else {
			up = append(up, l)
		}
	}
	// A down link with an address whose network holds dst carries it.
	for _, l := range down {
		addrs, _ := k.Addrs(l, fam)
		for _, a := range addrs {
			if pfx, ok := netipPrefix(a.IPNet); ok && pfx.Contains(dst) {
				return linkHop(l)
			}
		}
	}
	// No link that is up has a usable address of the family: the link
	// that is down, else the address, is what is missing.
	var addrHops []Hop
	for _, l := range up {
		a, ok := addressHop(k, l, fam, nil, true)
		if ok {
			// An address, and no route: the route is missing; beyond
			// an IPv6 link, the default route of a router
			// advertisement.
			if fam == netlink.FAMILY_V6 {
				if f := noRouterAdvertisement(k); f != nil {
					return Hop{Kind: HopRoute, Name: f.Hop, Cause: CauseNoRoute, Detail: "no route to " + dst.String() + ": " + f.Err.Error()}
				}
			}
			return hop
		}
		addrHops = append(addrHops, a)
	}
	if len(down) > 0 {
		return linkHop(down[0])
	}
	if len(addrHops) > 0 {
		return addrHops[0]
	}
	return hop
}

// linkHop is the hop of a link that is down.
func linkHop(l netlink.Link) Hop {
	f := linkUp(l)
	return Hop{Kind: HopLink, Name: l.Attrs().Name, Detail: "link " + f.Error(), Cause: f.Cause}
}

// netipPrefix converts a *net.IPNet.
func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}

// paths are the hops to each of r's destinations, the destination itself
// last, for check --explain.
func (e *Env) paths(r Result) []Path {
	f, _ := r.Err.(*Failure)
	role := roleOf(r.Target, f)
	var ps []Path
	for _, d := range r.Dests {
		p := e.path(d, role, socketsOf(r.Target))
		if p.Broken() == nil {
			if hop, ok := icmpHop(r.Err, d); ok {
				p.Hops = append(p.Hops, hop)
			} else {
				p.Hops = append(p.Hops, destHop(r, f, d, role))
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// destHop is the last hop of a path: the destination, as the attempt found
// it.
func destHop(r Result, f *Failure, d netip.AddrPort, role Role) Hop {
	name := d.String()
	if d.Port() == 0 {
		name = d.Addr().String()
	}
	hop := Hop{Kind: HopKind(role), Name: name, OK: r.OK, Detail: r.Detail}
	for _, ph := range r.Phases {
		if ph.Name == PhaseConnect || ph.Name == PhaseQuery || ph.Name == PhaseEcho {
			hop.Took = ph.Duration
		}
	}
	if f != nil {
		hop.Detail, hop.Cause = f.Error(), f.Cause
		if ap, ok := hopAddr(f.Hop); ok && ap.Addr() != d.Addr() {
			// Another address or resolver is what failed; this one's
			// own fate is in the joined error.
			hop.Cause = ""
		}
	}
	return hop
}

// icmpHop is the hop that an ICMP error about a packet to d names: the
// router or firewall on the way that sent it ("router"), or this host's
// own firewall ("firewall"); false when no error came back for d, or when
// d sent it itself (then it is the destination's own answer).
func icmpHop(err error, d netip.AddrPort) (Hop, bool) {
	for _, f := range failuresIn(err) {
		e := f.icmp
		if e == nil {
			continue
		}
		if ap, ok := hopAddr(f.Hop); !ok || ap.Addr() != d.Addr() || e.Offender == d.Addr() {
			continue
		}
		hop := Hop{Kind: HopRouter, Name: e.Offender.String(), Cause: f.Cause, Took: e.After,
			Detail: fmt.Sprintf("said %s for %s, %s after sending", e.What(), d.Addr(), roundDuration(e.After))}
		if f.Cause == CauseLocalFirewall {
			hop.Kind, hop.Name = HopFirewall, "this host ("+e.Offender.String()+")"
		}
		return hop, true
	}
	return Hop{}, false
}

// failuresIn lists every *Failure in err's tree, outermost first.
func failuresIn(err error) []*Failure {
	var out []*Failure
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if f, ok := err.(*Failure); ok {
				out = append(out, f)
			}
			if m, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range m.Unwrap() {
					walk(e)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}
