package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Nothing is sent into a path the kernel says is broken. A packet sent
// towards a gateway (or an on-link host) while the link has no carrier
// creates a neighbour entry (ARP, or IPv6 neighbour discovery) whose
// solicitations the link drops; the kernel keeps it INCOMPLETE, with the
// packets queued behind it, for mcast_solicit × retrans_time (3 × 1 s by
// default), and does not solicit again when carrier comes: every connect or
// query made meanwhile, even after carrier, waits behind it and fails with
// EHOSTUNREACH (TCP) or vanishes (UDP) when it expires. So before it sends,
// a probe asks the kernel ("ip route get", as this process's uid, via= and
// src= honoured) where the packet would go, and fails at once — naming the
// link — if that is a link without carrier, or (IPv6) if there is no source
// address to send from while duplicate address detection runs: none at all,
// or only a link-local one for a global destination while the link's global
// address is tentative (the kernel would send from fe80::, which no router
// forwards and which is not the address the host is getting).
//
// That costs nothing on a healthy host: the round reads the links (and,
// for IPv6 destinations, the addresses) once, and asks for a route only
// when some link is up without carrier, or some IPv6 address is tentative.

// guard is the round's view of the links and addresses, read once, for
// the checks made before sending. It is safe for concurrent use.
type guard struct {
	k     kernel
	links func() (map[int]netlink.Link, bool) // by index; whether one lacks carrier
	// addrs says whether an IPv6 address is tentative, and the links
	// (by index) that have a global one tentative.
	addrs func() (bool, map[int]bool)
}

// guard returns the round's guard.
func (e *Env) guard() *guard {
	e.guardOnce.Do(func() {
		k := e.kernel()
		e.grd = &guard{k: k}
		e.grd.links = sync.OnceValues(func() (map[int]netlink.Link, bool) {
			all, err := k.Links()
			if err != nil {
				return nil, false // the sends will say what is wrong
			}
			m := make(map[int]netlink.Link, len(all))
			risky := false
			for _, l := range all {
				m[l.Attrs().Index] = l
				if l.Attrs().Flags&net.FlagUp != 0 && linkUp(l) != nil {
					risky = true
				}
			}
			return m, risky
		})
		e.grd.addrs = sync.OnceValues(func() (bool, map[int]bool) {
			addrs, err := k.Addrs(nil, netlink.FAMILY_V6)
			if err != nil {
				return false, nil
			}
			some, global := false, map[int]bool{}
			for _, a := range addrs {
				switch d := dadOf(a); {
				case d == dadRunning && globalAddr(a):
					global[a.LinkIndex] = true
					some = true
				case d != dadDone:
					// One that failed is tentative too, but not on
					// its way: the path explains it.
					some = true
				}
			}
			return some, global
		})
	})
	return e.grd
}

// clear checks, before anything is sent to dst as s says, that the path
// is not one the send would poison; it returns the failure to report
// instead of sending, or nil. A missing route is left to the send itself,
// which fails at once with it and sends nothing.
func (g *guard) clear(dst netip.Addr, s sockets) *Failure {
	dst = dst.Unmap()
	if g == nil || dst.IsLoopback() {
		return nil
	}
	links, risky := g.links()
	tentative, tentativeGlobal := false, map[int]bool(nil)
	if dst.Is6() {
		tentative, tentativeGlobal = g.addrs()
	}
	if !risky && !tentative {
		return nil
	}
	uid := uint32(os.Getuid()) // as the socket will be routed (ip rule uidrange)
	opts := &netlink.RouteGetOptions{UID: &uid, Oif: s.via}
	if s.src.IsValid() && s.src.Is4() == dst.Is4() {
		opts.SrcAddr = s.src.AsSlice()
	}
	routes, err := g.k.RouteGet(dst, opts)
	if err != nil || len(routes) == 0 || routes[0].Type == unix.RTN_LOCAL {
		return nil
	}
	r := routes[0]
	l, ok := links[r.LinkIndex]
	if !ok || l.Attrs().Flags&net.FlagLoopback != 0 {
		return nil
	}
	name := l.Attrs().Name
	if f := linkUp(l); f != nil {
		return fail(f.Cause, PhaseLink, name, fmt.Errorf("link %s (nothing sent to %s)", f, dst))
	}
	if dst.Is6() && r.Src == nil {
		// No preferred source: every IPv6 address of the link is
		// tentative (duplicate address detection) or missing.
		return fail(CauseAddressTentative, PhaseAddress, name, fmt.Errorf("%s has no usable IPv6 address yet (duplicate address detection; nothing sent to %s)", name, dst))
	}
	if dst.Is6() && !dst.IsLinkLocalUnicast() && r.Src.IsLinkLocalUnicast() && tentativeGlobal[r.LinkIndex] {
		return fail(CauseAddressTentative, PhaseAddress, name, fmt.Errorf("%s has no usable global IPv6 address yet (duplicate address detection; nothing sent to %s from %s)", name, dst, r.Src))
	}
	return nil
}

// isLocal reports whether a is an address of this host: "ip route get A"
// answers with a local route.
func (s sockets) isLocal(a netip.Addr) bool {
	var k kernel = netlinkKernel{&netlink.Handle{}}
	if s.guard != nil {
		k = s.guard.k
	}
	routes, err := k.RouteGet(a, nil)
	return err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL
}

// hostUnreachable is the error of a connect or a query that waited behind
// a neighbour entry (ARP, neighbour discovery) that failed — one another
// process may have left — or a router's "host unreachable".
func hostUnreachable(err error) bool { return errors.Is(err, syscall.EHOSTUNREACH) }

// recvErr turns the reporting of ICMP errors and local errors of socket fd
// (IP_RECVERR, IPV6_RECVERR) on or off. On a UDP socket it makes a query
// dropped behind a failed neighbour entry fail with EHOSTUNREACH at once
// instead of meeting silence; on any socket it keeps each error, with who
// sent it, in the socket's error queue (readErrQueue). Turning it off
// empties the queue.
func recvErr(fd int, dst netip.Addr, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if dst.Unmap().Is4() {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, v)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, v)
}
