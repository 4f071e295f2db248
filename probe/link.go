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
	k := env.kernel()
	var links []netlink.Link
	if t.Iface == LinkAny {
		all, err := k.Links()
		if err != nil {
			res.Err = linkFailure("", fmt.Errorf("list links: %w", err))
			return res
		}
		for _, l := range all {
			if l.Attrs().Flags&net.FlagLoopback == 0 {
				links = append(links, l)
			}
		}
		if len(links) == 0 {
			res.Err = fail(CauseNoLink, PhaseLink, "", errors.New("no link other than loopback"))
			return res
		}
	} else {
		l, err := k.LinkByName(t.Iface)
		if err != nil {
			if errors.Is(err, errNoLink) {
				res.Err = fail(CauseNoLink, PhaseLink, t.Iface, fmt.Errorf("no link named %s", t.Iface))
				return res
			}
			res.Err = linkFailure(t.Iface, fmt.Errorf("link %s: %w", t.Iface, err))
			return res
		}
		links = []netlink.Link{l}
	}
	prefix := ""
	if t.Iface == LinkAny {
		prefix = "no link is up with a global address: "
	}
	res.Detail, res.Err = tryEach(links, prefix, func(l netlink.Link) (string, *Failure, error) { return linkReady(k, l, t.Family) })
	return res
}

// linkFailure is a netlink request about a link that failed.
func linkFailure(iface string, err error) *Failure {
	c := CauseOther
	if errors.Is(err, errNetlinkRefused) {
		c = CauseNetlinkRefused
	}
	return fail(c, PhaseLink, iface, err)
}

// linkUp reports whether l is operationally up and, if not, why: a
// Failure whose message is the link's name and state, such as "veth0 is
// down (administratively)". Links that do not report an operstate (tun,
// wireguard) count as up when the administrator set them up and the
// driver reports a carrier (IFF_LOWER_UP).
func linkUp(l netlink.Link) *Failure {
	a := l.Attrs()
	down := func(c Cause, state string) *Failure {
		return fail(c, PhaseLink, a.Name, errors.New(a.Name+" "+state))
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
func linkReady(k kernel, l netlink.Link, family int) (detail string, problem *Failure, err error) {
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
	addrs, err := k.Addrs(l, nlFamily)
	if err != nil {
		return "", nil, linkFailure(name, fmt.Errorf("list addresses of %s: %w", name, err))
	}
	var (
		pending   []string
		tentative bool
	)
	for _, a := range addrs {
		if !globalAddr(a) {
			continue
		}
		switch dadOf(a) {
		case dadFailed:
			pending = append(pending, a.IPNet.String()+" failed duplicate address detection")
		case dadRunning:
			pending = append(pending, a.IPNet.String()+" tentative")
			tentative = true
		default:
			return fmt.Sprintf("%s up, %s", name, a.IPNet), nil, nil
		}
	}
	switch {
	case tentative:
		return "", fail(CauseAddressTentative, PhaseLink, name, fmt.Errorf("%s is up, no %s yet (%s)", name, global, strings.Join(pending, ", "))), nil
	case len(pending) > 0:
		// Only addresses another host holds: the conflict, not a
		// configuration still under way, is what is wrong.
		return "", fail(CauseAddressDADFailed, PhaseLink, name, fmt.Errorf("%s is up, no usable %s (%s)", name, global, strings.Join(pending, ", "))), nil
	}
	return "", fail(CauseNoAddress, PhaseLink, name, fmt.Errorf("%s is up, no %s", name, global)), nil
}

// ipv6Only returns the links that are up with a global IPv6 address, and
// those addresses, when no link that is up has a global IPv4 address; nil
// otherwise, or when the kernel cannot be asked.
func ipv6Only(k kernel) (links, addrs []string) {
	all, err := k.Links()
	if err != nil {
		return nil, nil
	}
	for _, l := range all {
		if l.Attrs().Flags&net.FlagLoopback != 0 || linkUp(l) != nil {
			continue
		}
		as, err := k.Addrs(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, nil
		}
		has6 := false
		for _, a := range as {
			if !globalAddr(a) {
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

// tryEach tries each candidate in turn (the links of link:any, the
// families of route:default): try says what is ready (detail), what keeps
// the candidate from being so (problem), or that it could not tell (err).
// It returns the first detail, or the first err; else the problem of the
// candidate that got furthest, saying prefix and every candidate's (a
// lone candidate's problem as it is, without a prefix).
func tryEach[C any](cs []C, prefix string, try func(C) (detail string, problem *Failure, err error)) (string, error) {
	var (
		why []string
		fs  []*Failure
	)
	for _, c := range cs {
		detail, problem, err := try(c)
		if err != nil {
			return "", err
		}
		if problem == nil {
			return detail, nil
		}
		why = append(why, problem.Error())
		fs = append(fs, problem)
	}
	if len(fs) == 1 && prefix == "" {
		return "", fs[0]
	}
	return "", furthest(fs).With(errors.New(prefix + strings.Join(why, "; ")))
}

// globalAddr reports whether a reaches beyond its link: a global-scope
// address that is not link-local (169.254.0.0/16 and fe80::/10 may be
// given global scope by hand).
func globalAddr(a netlink.Addr) bool {
	return a.Scope == unix.RT_SCOPE_UNIVERSE && !a.IP.IsLinkLocalUnicast()
}

// dad is where IPv6 duplicate address detection stands for an address
// (an IPv4 address is always dadDone): only once it is done may packets
// leave from the address.
type dad int

const (
	dadDone dad = iota
	dadRunning
	dadFailed // another host has the address
)

func dadOf(a netlink.Addr) dad {
	switch {
	case a.Flags&unix.IFA_F_DADFAILED != 0:
		return dadFailed
	case a.Flags&unix.IFA_F_TENTATIVE != 0:
		return dadRunning
	}
	return dadDone
}
