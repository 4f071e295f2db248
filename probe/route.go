package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var routeKind = KindDef{
	Schemes: []Kind{KindRoute},
	Usage: []Usage{
		{"route:default[4|6]", "a default route (IPv4 or IPv6) goes out through an up link"},
		{"route:ADDR", "the kernel has a route to ADDR through an up link"},
	},
	ManTitle: "route:default, route:default4, route:default6, route:ADDR",
	Man: `**default4** and **default6**: some routing table has a unicast default route of that
family whose output link (or one of whose nexthops' links) is up; blackhole and
unreachable defaults do not count. **default** accepts either family. **ADDR**: the kernel
has a route for ADDR (as **ip route get**) through a link that is up; an address of this
host passes through its local route. No packet is sent.`,
	Complete: []string{"route:default", "route:default4", "route:default6", "route:"},
	parse:    parseRoute,
	format: func(t Target) string {
		if t.Route != "" {
			return "route:" + t.Route
		}
		return "route:" + t.Addr.String()
	},
	probe: probeRoute,
}

func parseRoute(raw, rest string) (Target, error) {
	if rest, query, ok := strings.Cut(rest, "?"); ok {
		// route: takes no parameter; say which one was given.
		var t Target
		if err := setParams(raw, &t, KindRoute, query); err != nil {
			return Target{}, err
		}
		return parseRoute(raw, rest)
	}
	switch rest {
	case "":
		return Target{}, &ParseError{raw, "empty route (want default, default4, default6 or an IP address)"}
	case RouteDefault, RouteDefault4, RouteDefault6:
		return Target{Route: rest}, nil
	}
	a, err := netip.ParseAddr(rest)
	if err != nil {
		return Target{}, &ParseError{raw, fmt.Sprintf("%q is neither default, default4, default6 nor an IP address", rest)}
	}
	if a.Zone() != "" {
		return Target{}, &ParseError{raw, "a route address cannot have a zone"}
	}
	return Target{Addr: a}, nil
}

// probeRoute checks the kernel's routing state; no packet is sent.
//
// route:default4 and route:default6 pass when some routing table holds a
// unicast default route ("ip route show default table all") whose output
// link, or one of whose nexthops' links, is up. route:default accepts either
// family. route:ADDR asks the kernel which route it would use for ADDR
// ("ip route get ADDR") and passes when there is one and its link is up; for
// an address of this host that is the local route through lo.
func probeRoute(_ context.Context, env *Env, t Target) Result {
	res := Result{Local: true}
	k := env.kernel()
	links := linkCache{k: k}
	if t.Route == "" {
		res.Detail, res.Err = routeTo(k, &links, t.Addr.AsSlice())
		return res
	}
	var families []int
	switch t.Route {
	case RouteDefault4:
		families = []int{netlink.FAMILY_V4}
	case RouteDefault6:
		families = []int{netlink.FAMILY_V6}
	default:
		families = []int{netlink.FAMILY_V4, netlink.FAMILY_V6}
	}
	var v6 *Failure // why IPv6 has no default route
	res.Detail, res.Err = tryEach(families, "", func(fam int) (string, *Failure, error) {
		detail, problem, err := defaultRoute(k, &links, fam)
		if fam == netlink.FAMILY_V6 {
			v6 = problem
		}
		return detail, problem, err
	})
	f, ok := res.Err.(*Failure)
	if !ok || f.Cause != CauseNoRoute {
		return res
	}
	if down := downLinks(k); len(down) > 0 {
		// No route because no link is up: the kernel removes the routes
		// of a link that goes down.
		res.Err = fail(down[0].Cause, PhaseLink, down[0].Hop, fmt.Errorf("%s, and %s", f, describeDown(down)))
		return res
	}
	// Of two missing, on a host with global IPv6 addresses only, the
	// IPv6 one explains (no router advertisement on the link named);
	// otherwise the network may as well be IPv4, waiting for DHCP.
	if len(families) == 2 && f.Hop == "default" && v6 != nil && v6.Cause == CauseNoRoute && v6.Hop != "default" {
		if links, _ := ipv6Only(k); len(links) > 0 {
			res.Err = v6.With(f.Err)
		}
	}
	return res
}

// downLinks is, when this host has links beside loopback and none is up,
// why each is not ("ip link"); nil if one is up, or there is none.
func downLinks(k kernel) []*Failure {
	all, err := k.Links()
	if err != nil {
		return nil
	}
	var down []*Failure
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		f := linkUp(l)
		if f == nil {
			return nil
		}
		down = append(down, f)
	}
	return down
}

// describeDown says that the links down are down: "veth0, the only link,
// is down (administratively)", "no link is up: eth0 is down (no carrier),
// eth1 is down (administratively)".
func describeDown(down []*Failure) string {
	if len(down) == 1 {
		return down[0].Hop + ", the only link," + strings.TrimPrefix(down[0].Error(), down[0].Hop)
	}
	s := make([]string, len(down))
	for i, f := range down {
		s[i] = f.Error()
	}
	return "no link is up: " + strings.Join(s, ", ")
}

func familyName(fam int) string {
	if fam == netlink.FAMILY_V6 {
		return "IPv6"
	}
	return "IPv4"
}

// defaultRoute looks for a usable default route of one family in every
// table. It returns what keeps the family from having one in problem.
func defaultRoute(k kernel, links *linkCache, fam int) (detail string, problem *Failure, err error) {
	routes, err := k.Routes(fam)
	if err != nil {
		return "", nil, routeFailure("default", fmt.Errorf("list %s routes: %w", familyName(fam), err))
	}
	var (
		down  []string
		cause Cause
		dev   string
	)
	for _, r := range routes {
		// vishvananda/netlink v1.3 reports a default route's Dst as
		// 0.0.0.0/0 or ::/0, older versions as nil.
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.Type != unix.RTN_UNICAST || r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		hops := []*netlink.NexthopInfo{{LinkIndex: r.LinkIndex, Gw: r.Gw}}
		if len(r.MultiPath) > 0 {
			hops = r.MultiPath
		}
		for _, nh := range hops {
			l, err := links.get(nh.LinkIndex)
			if err != nil {
				continue // the link went away since the dump
			}
			desc := describeRoute("default", nh.Gw, l, r.Table)
			f := linkUp(l)
			if f == nil {
				return desc, nil, nil
			}
			down = append(down, desc+", but "+f.Error())
			if cause == "" {
				cause, dev = f.Cause, f.Hop
			}
		}
	}
	if len(down) > 0 {
		// There is a default route; its link is what is wrong.
		return "", fail(cause, PhaseRoute, dev, errors.New("no usable "+familyName(fam)+" default route: "+strings.Join(down, "; "))), nil
	}
	if fam == netlink.FAMILY_V6 {
		if f := noRouterAdvertisement(k); f != nil {
			return "", f, nil
		}
	}
	return "", fail(CauseNoRoute, PhaseRoute, "default", errors.New("no "+familyName(fam)+" default route")), nil
}

// noRouterAdvertisement explains a missing IPv6 default route by the links
// that would have one: an IPv6 default route comes from a router
// advertisement with a router lifetime (the kernel's, or the network
// manager's handling of it), so on links that are up with IPv6 none such
// has given one. It names them and the global addresses they have, which
// tell whether advertisements came at all (a SLAAC address) or not; nil
// when no link is up with IPv6, or when some table has a unicast IPv6
// default route (whatever its link's state: then a route is not what
// advertisements failed to give, and a policy or via= is why it is not
// taken).
func noRouterAdvertisement(k kernel) *Failure {
	routes, err := k.Routes(netlink.FAMILY_V6)
	if err != nil {
		return nil
	}
	for _, r := range routes {
		if (r.Dst == nil || maskOnes(r.Dst) == 0) && r.Type == unix.RTN_UNICAST && r.Table != unix.RT_TABLE_LOCAL {
			return nil
		}
	}
	all, err := k.Links()
	if err != nil {
		return nil
	}
	var names, have []string
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback != 0 || linkUp(l) != nil {
			continue
		}
		addrs, err := k.Addrs(l, netlink.FAMILY_V6)
		if err != nil || len(addrs) == 0 {
			continue // IPv6 is off on it
		}
		names = append(names, l.Attrs().Name)
		for _, a := range addrs {
			if globalAddr(a) {
				have = append(have, a.IPNet.String())
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	addrs := "link-local addresses only"
	if len(have) > 0 {
		addrs = strings.Join(have, ", ")
	}
	return fail(CauseNoRoute, PhaseRoute, names[0], fmt.Errorf("no IPv6 default route: no router advertisement with a router lifetime has given one to %s (%s)",
		strings.Join(names, " or "), addrs))
}

// maskOnes is the prefix length of n.
func maskOnes(n *net.IPNet) int {
	ones, _ := n.Mask.Size()
	return ones
}

// routeFailure is a netlink request about a route that failed.
func routeFailure(hop string, err error) *Failure {
	c := CauseOther
	if errors.Is(err, errNetlinkRefused) {
		c = CauseNetlinkRefused
	}
	return fail(c, PhaseRoute, hop, err)
}

func describeRoute(dst string, gw net.IP, l netlink.Link, table int) string {
	var b strings.Builder
	b.WriteString(dst)
	if gw != nil {
		b.WriteString(" via ")
		b.WriteString(gw.String())
	}
	b.WriteString(" dev ")
	b.WriteString(l.Attrs().Name)
	if table != unix.RT_TABLE_MAIN && table != 0 {
		fmt.Fprintf(&b, " table %d", table)
	}
	return b.String()
}

// routeTo is "ip route get ADDR": the route the kernel would use, which must
// go out through a link that is up.
func routeTo(k kernel, links *linkCache, addr net.IP) (string, error) {
	dst, _ := netip.AddrFromSlice(addr)
	routes, err := k.RouteGet(dst, nil)
	if err != nil {
		if errors.Is(err, errNetlinkRefused) {
			return "", routeFailure(addr.String(), fmt.Errorf("route get %s: %w", addr, err))
		}
		var errno unix.Errno
		if errors.As(err, &errno) {
			return "", fail(CauseNoRoute, PhaseRoute, addr.String(), fmt.Errorf("no route to %s: %s", addr, errno.Error()))
		}
		return "", routeFailure(addr.String(), fmt.Errorf("route get %s: %w", addr, err))
	}
	if len(routes) == 0 {
		return "", fail(CauseNoRoute, PhaseRoute, addr.String(), fmt.Errorf("no route to %s", addr))
	}
	r := routes[0]
	l, err := links.get(r.LinkIndex)
	if err != nil {
		return "", routeFailure(addr.String(), fmt.Errorf("route to %s: link %d: %w", addr, r.LinkIndex, err))
	}
	desc := describeRoute(addr.String(), r.Gw, l, r.Table)
	if f := linkUp(l); f != nil && l.Attrs().Flags&net.FlagLoopback == 0 {
		return "", fail(f.Cause, PhaseLink, f.Hop, fmt.Errorf("%s, but %s", desc, f))
	}
	return desc, nil
}

// linkCache looks up the links that routes name, each once per probe: "ip
// link show dev" for those few rather than a dump of every link, since a
// failing route target is re-checked every --local-interval.
type linkCache struct {
	k     kernel
	links map[int]netlink.Link
}

func (c *linkCache) get(index int) (netlink.Link, error) {
	if l, ok := c.links[index]; ok {
		return l, nil
	}
	l, err := c.k.LinkByIndex(index)
	if err != nil {
		return nil, err
	}
	if c.links == nil {
		c.links = map[int]netlink.Link{}
	}
	c.links[index] = l
	return l, nil
}
