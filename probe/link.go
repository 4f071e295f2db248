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
			res.Err = fmt.Errorf("list links: %w", netlinkErr(err))
			return res
		}
		for _, l := range all {
			if l.Attrs().Flags&net.FlagLoopback == 0 {
				links = append(links, l)
			}
		}
		if len(links) == 0 {
			res.Err = errors.New("no link other than loopback")
			return res
		}
	} else {
		l, err := h.LinkByName(t.Iface)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				res.Err = fmt.Errorf("no link named %s", t.Iface)
				res.Hint = "`ip link` lists the links this host has"
				return res
			}
			res.Err = fmt.Errorf("link %s: %w", t.Iface, netlinkErr(err))
			return res
		}
		links = []netlink.Link{l}
	}
	var why []string
	for _, l := range links {
		detail, problem, err := linkReady(h, l)
		if err != nil {
			res.Err = err
			return res
		}
		if problem == "" {
			res.Detail = detail
			return res
		}
		why = append(why, l.Attrs().Name+" "+problem)
	}
	if t.Iface == LinkAny {
		res.Err = fmt.Errorf("no link is up with a global address: %s", strings.Join(why, "; "))
	} else {
		res.Err = errors.New(why[0])
	}
	switch {
	case strings.Contains(res.Err.Error(), "tentative"):
		res.Hint = "duplicate address detection has not finished yet"
	case strings.Contains(res.Err.Error(), "no global address"):
		res.Hint = "is an address being configured (DHCP, SLAAC, networkd, NetworkManager)?"
	case strings.Contains(res.Err.Error(), "is down") || strings.Contains(res.Err.Error(), "no carrier"):
		res.Hint = "check the cable or the peer, or the interface's configuration"
	}
	return res
}

// linkUp reports whether l is operationally up, and its state for a person:
// "up", or a reason such as "is down" or "has no carrier". Links that do not
// report an operstate (tun, wireguard) count as up when the administrator
// set them up and the driver reports a carrier (IFF_LOWER_UP).
func linkUp(l netlink.Link) (bool, string) {
	a := l.Attrs()
	if a.Flags&net.FlagUp == 0 {
		return false, "is down (administratively)"
	}
	switch a.OperState {
	case netlink.OperUp:
		return true, "up"
	case netlink.OperUnknown:
		if a.RawFlags&unix.IFF_LOWER_UP != 0 {
			return true, "up"
		}
		return false, "has no carrier"
	case netlink.OperLowerLayerDown, netlink.OperDown:
		return false, "is down (no carrier)"
	}
	return false, "is " + a.OperState.String()
}

// linkReady returns a description of a ready link, or what keeps it from
// being ready.
func linkReady(h *netlink.Handle, l netlink.Link) (detail, problem string, err error) {
	if up, state := linkUp(l); !up {
		return "", state, nil
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return "", "", fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, netlinkErr(err))
	}
	var pending []string
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE || a.IP.IsLinkLocalUnicast() {
			continue
		}
		switch {
		case a.Flags&unix.IFA_F_DADFAILED != 0:
			pending = append(pending, a.IPNet.String()+" failed duplicate address detection")
		case a.Flags&unix.IFA_F_TENTATIVE != 0:
			pending = append(pending, a.IPNet.String()+" tentative")
		default:
			return fmt.Sprintf("%s up, %s", l.Attrs().Name, a.IPNet), "", nil
		}
	}
	if len(pending) > 0 {
		return "", "is up, no global address yet (" + strings.Join(pending, ", ") + ")", nil
	}
	return "", "is up, no global address", nil
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
