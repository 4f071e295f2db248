package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

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
	h := env.netlinkHandle()
	links := linkCache{h: h}
	if t.Route == "" {
		res.Detail, res.Err = routeTo(h, &links, t.Addr.AsSlice())
		if res.Err != nil && strings.Contains(res.Err.Error(), "unreachable") {
			res.Hint = "no route covers this address: is the default route missing?"
		}
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
	var why []string
	for _, fam := range families {
		detail, problem, err := defaultRoute(h, &links, fam)
		if err != nil {
			res.Err = err
			return res
		}
		if problem == "" {
			res.Detail = detail
			return res
		}
		why = append(why, problem)
	}
	res.Err = errors.New(strings.Join(why, "; "))
	res.Hint = "is DHCP or router advertisement configuring the network (networkd, NetworkManager, dhclient)?"
	if strings.Contains(res.Err.Error(), "no usable") {
		// There is a default route; its link is what is wrong.
		res.Hint = "the default route's link is not up: check the cable or the peer, or the interface's configuration"
	}
	return res
}

func familyName(fam int) string {
	if fam == netlink.FAMILY_V6 {
		return "IPv6"
	}
	return "IPv4"
}

// defaultRoute looks for a usable default route of one family in every
// table. It returns what keeps the family from having one in problem.
func defaultRoute(h *netlink.Handle, links *linkCache, fam int) (detail, problem string, err error) {
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return "", "", fmt.Errorf("list %s routes: %w", familyName(fam), netlinkErr(err))
	}
	var down []string
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
			if up, state := linkUp(l); up {
				return desc, "", nil
			} else {
				down = append(down, fmt.Sprintf("%s, but %s %s", desc, l.Attrs().Name, state))
			}
		}
	}
	if len(down) > 0 {
		return "", "no usable " + familyName(fam) + " default route: " + strings.Join(down, "; "), nil
	}
	return "", "no " + familyName(fam) + " default route", nil
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
func routeTo(h *netlink.Handle, links *linkCache, addr net.IP) (string, error) {
	routes, err := h.RouteGet(addr)
	if err != nil {
		if err := netlinkErr(err); errors.Is(err, errNetlinkRefused) {
			return "", fmt.Errorf("route get %s: %w", addr, err)
		}
		var errno unix.Errno
		if errors.As(err, &errno) {
			return "", fmt.Errorf("no route to %s: %s", addr, errno.Error())
		}
		return "", fmt.Errorf("route get %s: %w", addr, err)
	}
	if len(routes) == 0 {
		return "", fmt.Errorf("no route to %s", addr)
	}
	r := routes[0]
	l, err := links.get(r.LinkIndex)
	if err != nil {
		return "", fmt.Errorf("route to %s: link %d: %w", addr, r.LinkIndex, netlinkErr(err))
	}
	desc := describeRoute(addr.String(), r.Gw, l, r.Table)
	if up, state := linkUp(l); !up && l.Attrs().Flags&net.FlagLoopback == 0 {
		return "", fmt.Errorf("%s, but %s %s", desc, l.Attrs().Name, state)
	}
	return desc, nil
}

// linkCache looks up the links that routes name, each once per probe: "ip
// link show dev" for those few rather than a dump of every link, since a
// failing route target is re-checked every --local-interval.
type linkCache struct {
	h     *netlink.Handle
	links map[int]netlink.Link
}

func (c *linkCache) get(index int) (netlink.Link, error) {
	if l, ok := c.links[index]; ok {
		return l, nil
	}
	l, err := c.h.LinkByIndex(index)
	if err != nil {
		return nil, err
	}
	if c.links == nil {
		c.links = map[int]netlink.Link{}
	}
	c.links[index] = l
	return l, nil
}
