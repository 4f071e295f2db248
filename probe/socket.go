package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

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
// dst's is left out (the kernel would refuse it). UDP sockets report ICMP
// errors (IP_RECVERR): a query refused or dropped on the way fails at once,
// and its socket's error queue says who refused it.
func (s sockets) dialer(network string, dst netip.Addr) *net.Dialer {
	return s.dialerKeeping(network, dst, nil)
}

// dialerKeeping is dialer, and when keep is not nil its socket also reports
// ICMP errors and leaves a duplicate of its descriptor in *keep (-1 if
// none was made): net's dialer closes a socket whose connect failed, and
// with it the error queue that says why. The caller closes *keep.
func (s sockets) dialerKeeping(network string, dst netip.Addr, keep *int) *net.Dialer {
	d := &net.Dialer{}
	if s.src.IsValid() && s.src.Is4() == dst.Unmap().Is4() {
		switch network {
		case "tcp":
			d.LocalAddr = &net.TCPAddr{IP: s.src.AsSlice()}
		case "udp":
			d.LocalAddr = &net.UDPAddr{IP: s.src.AsSlice()}
		}
	}
	via, recverr, small := s.via, network == "udp" || keep != nil, s.small && network == "tcp"
	if via == "" && !recverr && !small {
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
			if recverr {
				if err := recvErr(int(fd), dst, true); err != nil {
					serr = os.NewSyscallError("setsockopt IP_RECVERR", err)
					return
				}
			}
			if keep != nil {
				dup, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
				if err != nil {
					serr = os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
					return
				}
				*keep = dup
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

// dialTCP connects to ap with a socket made as s says, and returns, when
// the connect fails, the ICMP error that failed it (nil if none came:
// a reset, a timeout, a local error). A connected socket goes back to
// TCP's usual handling of ICMP errors (soft errors, RFC 1122) once the
// handshake is over.
func (s sockets) dialTCP(ctx context.Context, ap netip.AddrPort) (net.Conn, *icmpError, error) {
	keep := -1
	start := time.Now()
	c, err := s.dialerKeeping("tcp", ap.Addr(), &keep).DialContext(ctx, "tcp", ap.String())
	if keep < 0 {
		return c, nil, err
	}
	defer unix.Close(keep)
	if err == nil {
		recvErr(keep, ap.Addr(), false)
		return c, nil, nil
	}
	e := readErrQueue(keep)
	if e != nil {
		e.After = time.Since(start)
	}
	return nil, e, err
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
		return fail(CauseNoLink, PhaseLink, s.via, fmt.Errorf("no link named %s (via=%s)", s.via, s.via))
	case s.src.IsValid() && errors.Is(err, unix.EADDRNOTAVAIL):
		return fail(CauseNoAddress, PhaseLink, s.src.String(), fmt.Errorf("%s is not a usable address of this host yet (src=%s)", s.src, s.src))
	case s.via != "" && errors.Is(err, unix.EPERM) && bindToDeviceErr(err):
		return fail(CauseOther, PhaseLink, s.via, fmt.Errorf("binding to %s (via=%s): %w: SO_BINDTODEVICE needs CAP_NET_RAW before Linux 5.7", s.via, s.via, err))
	}
	return nil
}

// bindToDeviceErr reports whether err is the failure of SO_BINDTODEVICE
// itself, not of a send through the device.
func bindToDeviceErr(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && strings.HasPrefix(se.Syscall, "setsockopt SO_BINDTODEVICE")
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
		return fail(c, PhaseLink, s.via, fmt.Errorf("%s %s (via=%s)", s.via, state, s.via))
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
