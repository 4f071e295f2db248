package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockets says how the sockets of one probe are made: bound to an
// interface (via=), from a source address (src=). The zero value lets the
// kernel choose both.
//
// SO_BINDTODEVICE needs no privilege since Linux 5.7 (commit c427bfec18f2,
// "net: core: enable SO_BINDTODEVICE for non-root users"), as long as the
// socket is not bound to a device yet; before 5.7 it needs CAP_NET_RAW, and
// the probe fails with "operation not permitted".
type sockets struct {
	via string
	src netip.Addr
	// small clamps the segments of TCP connections to a size every path
	// carries (TCP_MAXSEG before connect), for the retry of an exchange
	// that stalled (see mtu.go).
	small bool
	// guard checks a path before anything is sent on it; nil checks
	// nothing (see guard.go).
	guard *guard
}

func socketsOf(t Target) sockets { return sockets{via: t.Via, src: t.Src} }

// socketsFor is socketsOf(t) for the sends of this round: with its guard.
func (e *Env) socketsFor(t Target) sockets {
	s := socketsOf(t)
	s.guard = e.guard()
	return s
}

// clear is s.guard.clear(dst, s): the failure to report instead of
// sending to dst, or nil.
func (s sockets) clear(dst netip.Addr) *Failure { return s.guard.clear(dst, s) }

// forResolver is s for the queries to a resolver at server. A loopback
// resolver (systemd-resolved's 127.0.0.53, a local dnsmasq) cannot be
// reached through another interface, nor from another host's address: its
// queries never leave the host, and what it asks upstream is its own
// business. The source address applies to resolvers of its family only.
func (s sockets) forResolver(server netip.Addr) sockets {
	if server.Unmap().IsLoopback() {
		return sockets{}
	}
	if s.src.IsValid() && s.src.Is4() != server.Unmap().Is4() {
		s.src = netip.Addr{}
	}
	return s
}

// dialer returns a dialer for network ("tcp" or "udp") to dst whose
// sockets are bound as s says; a source address of the other family than
// dst's is left out (the kernel would refuse it).
func (s sockets) dialer(network string, dst netip.Addr) *net.Dialer {
	d := &net.Dialer{}
	if s.src.IsValid() && s.src.Is4() == dst.Unmap().Is4() {
		switch network {
		case "tcp":
			d.LocalAddr = &net.TCPAddr{IP: s.src.AsSlice()}
		case "udp":
			d.LocalAddr = &net.UDPAddr{IP: s.src.AsSlice()}
		}
	}
	via, udp, small := s.via, network == "udp", s.small && network == "tcp"
	if via == "" && !udp && !small {
		return d
	}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			if via != "" {
				if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, via); err != nil {
					serr = os.NewSyscallError("setsockopt SO_BINDTODEVICE "+via, err)
					return
				}
			}
			if udp {
				if err := recvErr(int(fd), dst); err != nil {
					serr = os.NewSyscallError("setsockopt IP_RECVERR", err)
				}
			}
			if small {
				if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, smallMSS(dst)); err != nil {
					serr = os.NewSyscallError("setsockopt TCP_MAXSEG", err)
				}
			}
		}); err != nil {
			return err
		}
		return serr
	}
	return d
}

// localFailure explains err when it is of this host's own making: the
// interface via= names does not exist (SO_BINDTODEVICE fails with ENODEV),
// or the address src= names is not one of this host's (bind fails with
// EADDRNOTAVAIL, as for an IPv6 address still tentative). Either may appear
// later: the target fails, naming it, and wait waits. It returns nil for
// any other error.
func (s sockets) localFailure(err error) *Failure {
	switch {
	case s.via != "" && errors.Is(err, unix.ENODEV):
		return fail(CauseNoLink, "link", s.via, fmt.Errorf("no link named %s (via=%s)", s.via, s.via))
	case s.src.IsValid() && errors.Is(err, unix.EADDRNOTAVAIL):
		return fail(CauseNoAddress, "link", s.src.String(), fmt.Errorf("%s is not a usable address of this host yet (src=%s)", s.src, s.src))
	case s.via != "" && errors.Is(err, unix.EPERM):
		return fail(CauseOther, "link", s.via, fmt.Errorf("binding to %s (via=%s): %w: SO_BINDTODEVICE needs CAP_NET_RAW before Linux 5.7", s.via, s.via, err))
	}
	return nil
}

// checkVia checks, before any packet is sent, that the interface via=
// names exists and is up with a carrier, the way "ip link show dev IFACE"
// would (SIOCGIFFLAGS: no netlink needed). A missing or down link is a
// failure naming it; nil when all is well, via= is not given, or the
// flags cannot be read (the sockets will say what is wrong).
func (s sockets) checkVia() *Failure {
	if s.via == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil
		}
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(s.via)
	if err != nil {
		return nil
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return s.localFailure(err)
		}
		return nil
	}
	down := func(c Cause, state string) *Failure {
		return fail(c, "link", s.via, fmt.Errorf("%s %s (via=%s)", s.via, state, s.via))
	}
	switch flags := ifr.Uint16(); {
	case flags&unix.IFF_UP == 0:
		return down(CauseLinkDown, "is down (administratively)")
	case flags&unix.IFF_RUNNING == 0:
		return down(CauseNoCarrier, "is down (no carrier)")
	}
	return nil
}

// addrFamilyName is "IPv4" or "IPv6", the family of a.
func addrFamilyName(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// pathNote says how a passing probe's packets went: " over IPv4", and
// " via eth1", " from 10.0.0.2" when the target asked for them.
func (s sockets) pathNote(a netip.Addr) string {
	n := " over " + addrFamilyName(a)
	if s.via != "" {
		n += " via " + s.via
	}
	if s.src.IsValid() {
		n += " from " + s.src.String()
	}
	return n
}

// addrOf is the IP address of a net.Addr of a connection.
func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}
