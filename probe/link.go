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

var linkKind = KindDef{
	Schemes:  []Kind{KindLink},
	Usage:    []Usage{{"link:any, link:IFACE", "the link (or some non-loopback link) is up with a global address"}},
	ManTitle: "link:any, link:IFACE",
	Man: `The link (for **any**: some link other than loopback) is operationally up, or reports no
operstate but is up with a carrier (tun, wireguard), and has a global-scope address whose
duplicate address detection has finished. With **?family=4** or **?family=6**, only an address of
that family counts.`,
	Complete: []string{"link:any", "link:"},
	parse:    parseLink,
	format:   func(t Target) string { return withParams("link:"+t.Iface, t) },
	probe:    probeLink,
}

func parseLink(raw, rest string) (Target, error) {
	name, query, _ := strings.Cut(rest, "?")
	var t Target
	switch err := checkIfaceName(name); {
	case name == "":
		return Target{}, &ParseError{raw, "empty interface name (want link:any or link:IFACE)"}
	case name != LinkAny && err != nil:
		return Target{}, &ParseError{raw, err.Error()}
	}
	t.Iface = name
	if err := setParams(raw, &t, KindLink, query); err != nil {
		return Target{}, err
	}
	return t, nil
}

// probeLink passes when the named link, or for link:any some non-loopback
// link, is operationally up and has a global-scope address whose duplicate
// address detection is over. It is the netlink form of
// "ip link show; ip addr show scope global".
func probeLink(_ context.Context, env *Env, t Target) Result {
	res := Result{Local: true}
	h := env.netlinkHandle()
	var links []netlink.Link
	if t.Iface == LinkAny {
		all, err := retryDump(h.LinkList)
		if err != nil {
			res.Err = linkFailure("", fmt.Errorf("list links: %w", netlinkErr(err)))
			return res
		}
		for _, l := range all {
			if l.Attrs().Flags&net.FlagLoopback == 0 {
				links = append(links, l)
			}
		}
		if len(links) == 0 {
			res.Err = fail(CauseNoLink, "link", "", errors.New("no link other than loopback"))
			return res
		}
	} else {
		l, err := h.LinkByName(t.Iface)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				res.Err = fail(CauseNoLink, "link", t.Iface, fmt.Errorf("no link named %s", t.Iface))
				return res
			}
			res.Err = linkFailure(t.Iface, fmt.Errorf("link %s: %w", t.Iface, netlinkErr(err)))
			return res
		}
		links = []netlink.Link{l}
	}
	var (
		why []string
		fs  []*Failure
	)
	for _, l := range links {
		detail, problem, err := linkReady(h, l, t.Family)
		if err != nil {
			res.Err = err
			return res
		}
		if problem == nil {
			res.Detail = detail
			return res
		}
		why = append(why, problem.Error())
		fs = append(fs, problem)
	}
	if t.Iface != LinkAny {
		res.Err = fs[0]
		return res
	}
	// The link that got furthest explains most.
	f := furthest(fs)
	res.Err = fail(f.Cause, f.Phase, f.Hop, fmt.Errorf("no link is up with a global address: %s", strings.Join(why, "; ")))
	return res
}

// linkFailure is a netlink request about a link that failed.
func linkFailure(iface string, err error) *Failure {
	c := CauseOther
	if errors.Is(err, errNetlinkRefused) {
		c = CauseNetlinkRefused
	}
	return fail(c, "link", iface, err)
}

// linkUp reports whether l is operationally up and, if not, why: a
// Failure whose message is the link's name and state, such as "veth0 is
// down (administratively)". Links that do not report an operstate (tun,
// wireguard) count as up when the administrator set them up and the
// driver reports a carrier (IFF_LOWER_UP).
func linkUp(l netlink.Link) *Failure {
	a := l.Attrs()
	down := func(c Cause, state string) *Failure {
		return fail(c, "link", a.Name, errors.New(a.Name+" "+state))
	}
	if a.Flags&net.FlagUp == 0 {
		return down(CauseLinkDown, "is down (administratively)")
	}
	switch a.OperState {
	case netlink.OperUp:
		return nil
	case netlink.OperUnknown:
		if a.RawFlags&unix.IFF_LOWER_UP != 0 {
			return nil
		}
		return down(CauseNoCarrier, "has no carrier")
	case netlink.OperLowerLayerDown, netlink.OperDown:
		return down(CauseNoCarrier, "is down (no carrier)")
	}
	return down(CauseNoCarrier, "is "+a.OperState.String())
}

// linkReady returns a description of a ready link, or what keeps it from
// being ready. family, 4 or 6, counts only the addresses of that family (0:
// either).
func linkReady(h *netlink.Handle, l netlink.Link, family int) (detail string, problem *Failure, err error) {
	if f := linkUp(l); f != nil {
		return "", f, nil
	}
	name := l.Attrs().Name
	nlFamily, global := netlink.FAMILY_ALL, "global address"
	switch family {
	case 4:
		nlFamily, global = netlink.FAMILY_V4, "global IPv4 address"
	case 6:
		nlFamily, global = netlink.FAMILY_V6, "global IPv6 address"
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, nlFamily) })
	if err != nil {
		return "", nil, linkFailure(name, fmt.Errorf("list addresses of %s: %w", name, netlinkErr(err)))
	}
	var (
		pending   []string
		tentative bool
	)
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE || a.IP.IsLinkLocalUnicast() {
			continue
		}
		switch {
		case a.Flags&unix.IFA_F_DADFAILED != 0:
			pending = append(pending, a.IPNet.String()+" failed duplicate address detection")
		case a.Flags&unix.IFA_F_TENTATIVE != 0:
			pending = append(pending, a.IPNet.String()+" tentative")
			tentative = true
		default:
			return fmt.Sprintf("%s up, %s", name, a.IPNet), nil, nil
		}
	}
	switch {
	case tentative:
		return "", fail(CauseAddressTentative, "link", name, fmt.Errorf("%s is up, no %s yet (%s)", name, global, strings.Join(pending, ", "))), nil
	case len(pending) > 0:
		// Only addresses another host holds: the conflict, not a
		// configuration still under way, is what is wrong.
		return "", fail(CauseAddressDADFailed, "link", name, fmt.Errorf("%s is up, no usable %s (%s)", name, global, strings.Join(pending, ", "))), nil
	}
	return "", fail(CauseNoAddress, "link", name, fmt.Errorf("%s is up, no %s", name, global)), nil
}

// ipv6Only returns the links that are up with a global IPv6 address, and
// those addresses, when no link that is up has a global IPv4 address; nil
// otherwise, or when the kernel cannot be asked.
func ipv6Only(h *netlink.Handle) (links, addrs []string) {
	all, err := retryDump(h.LinkList)
	if err != nil {
		return nil, nil
	}
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback != 0 || linkUp(l) != nil {
			continue
		}
		as, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, nil
		}
		has6 := false
		for _, a := range as {
			if a.Scope != unix.RT_SCOPE_UNIVERSE {
				continue
			}
			if a.IP.To4() != nil {
				return nil, nil
			}
			has6 = true
			addrs = append(addrs, a.IPNet.String())
		}
		if has6 {
			links = append(links, l.Attrs().Name)
		}
	}
	return links, addrs
}

// errNetlinkRefused is a netlink request that failed because no netlink
// socket could be opened: a sandbox that forbids AF_NETLINK (systemd's
// RestrictAddressFamilies=, a seccomp filter) fails socket(2) with
// EAFNOSUPPORT, which said alone reads like a network problem.
var errNetlinkRefused = errors.New("netlink socket refused")

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
