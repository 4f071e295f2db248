package probe

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// kernel is what probe reads of the kernel's network state: links,
// addresses, routes, neighbours and policy rules, in vishvananda/netlink's
// types. It only reads. netlinkKernel asks the kernel; the tests' fake
// answers from tables, so that the code deciding causes (link.go,
// route.go, path.go, guard.go) runs without root.
//
// Errors: a failed request's error wraps errNetlinkRefused when no netlink
// socket could be opened; LinkByName's wraps errNoLink when there is no
// such link; RouteGet's wraps the kernel's errno (unix.Errno) when it
// picks no route: ENETUNREACH for none, EINVAL for a blackhole route or
// rule, EACCES for a prohibit route or rule, EHOSTUNREACH for an
// unreachable route but ENETUNREACH for an unreachable rule.
type kernel interface {
	// Links lists every link.
	Links() ([]netlink.Link, error)
	// LinkByName is the link named name ("ip link show dev NAME").
	LinkByName(name string) (netlink.Link, error)
	// LinkByIndex is the link of that index.
	LinkByIndex(index int) (netlink.Link, error)
	// Addrs lists the addresses of family (netlink.FAMILY_V4, _V6 or
	// _ALL) on link l, or on every link when l is nil.
	Addrs(l netlink.Link, family int) ([]netlink.Addr, error)
	// Routes lists the routes of family in every table ("ip route show
	// table all").
	Routes(family int) ([]netlink.Route, error)
	// RouteGet is "ip route get DST" with opts (oif, from, uid; nil for
	// none): the route the kernel picks for packets to dst.
	RouteGet(dst netip.Addr, opts *netlink.RouteGetOptions) ([]netlink.Route, error)
	// Neighbours lists the neighbour entries of family on the link of
	// that index ("ip neigh show dev IFACE").
	Neighbours(linkIndex, family int) ([]netlink.Neigh, error)
	// Rules lists the policy routing rules of family ("ip rule").
	// vishvananda/netlink v1.3.1 leaves Rule.Type, the action, at 0: a
	// rule that prohibits, blackholes or is unreachable shows as one
	// with table 0.
	Rules(family int) ([]netlink.Rule, error)
}

// errNoLink is LinkByName's error when there is no link of that name.
var errNoLink = errors.New("no such link")

// errNetlinkRefused is a netlink request that failed because no netlink
// socket could be opened: a sandbox that forbids AF_NETLINK (systemd's
// RestrictAddressFamilies=, a seccomp filter) fails socket(2) with
// EAFNOSUPPORT, which said alone reads like a network problem.
var errNetlinkRefused = errors.New("netlink socket refused")

// netlinkKernel is the kernel, asked over a netlink route socket.
type netlinkKernel struct{ h *netlink.Handle }

func (k netlinkKernel) Links() ([]netlink.Link, error) {
	ls, err := retryDump(k.h.LinkList)
	return ls, netlinkErr(err)
}

func (k netlinkKernel) LinkByName(name string) (netlink.Link, error) {
	l, err := k.h.LinkByName(name)
	if nf := (netlink.LinkNotFoundError{}); errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %w", errNoLink, err)
	}
	return l, netlinkErr(err)
}

func (k netlinkKernel) LinkByIndex(index int) (netlink.Link, error) {
	l, err := k.h.LinkByIndex(index)
	return l, netlinkErr(err)
}

func (k netlinkKernel) Addrs(l netlink.Link, family int) ([]netlink.Addr, error) {
	as, err := retryDump(func() ([]netlink.Addr, error) { return k.h.AddrList(l, family) })
	return as, netlinkErr(err)
}

func (k netlinkKernel) Routes(family int) ([]netlink.Route, error) {
	rs, err := retryDump(func() ([]netlink.Route, error) {
		return k.h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	return rs, netlinkErr(err)
}

func (k netlinkKernel) RouteGet(dst netip.Addr, opts *netlink.RouteGetOptions) ([]netlink.Route, error) {
	rs, err := k.h.RouteGetWithOptions(dst.AsSlice(), opts)
	return rs, netlinkErr(err)
}

func (k netlinkKernel) Neighbours(linkIndex, family int) ([]netlink.Neigh, error) {
	ns, err := retryDump(func() ([]netlink.Neigh, error) { return k.h.NeighList(linkIndex, family) })
	return ns, netlinkErr(err)
}

func (k netlinkKernel) Rules(family int) ([]netlink.Rule, error) {
	rs, err := retryDump(func() ([]netlink.Rule, error) { return k.h.RuleList(family) })
	return rs, netlinkErr(err)
}

// netlinkErr names the refusal in err, the error of a netlink request, when
// the request's socket could not be opened. A netlink request itself never
// fails with these errnos (an unknown family is EOPNOTSUPP), so they mean
// socket(2) failed.
func netlinkErr(err error) error {
	if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) {
		return fmt.Errorf("%w: %w", errNetlinkRefused, err)
	}
	return err
}

// retryDump runs a netlink dump again when the kernel reports that it was
// interrupted by a concurrent change (NLM_F_DUMP_INTR), which vishvananda/
// netlink v1.3 returns as ErrDumpInterrupted with partial results.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	const tries = 5
	var (
		out []T
		err error
	)
	for range tries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}
