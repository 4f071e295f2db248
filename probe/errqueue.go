package probe

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// What the network said. A socket with IP_RECVERR (IPV6_RECVERR) keeps,
// in its error queue, every ICMP error the kernel matched to it: who sent
// it (the offender), its type and code, and the errno it became — the
// evidence beyond this host that an errno alone loses ("network is
// unreachable" from a router three hops away reads like a missing default
// route here). See ip(7) and ipv6(7), IP_RECVERR, and recvmsg(2)
// MSG_ERRQUEUE.

// icmpError is one entry of a socket's error queue: an ICMP or ICMPv6 error
// that a host on the way (the offender) sent about a packet of ours to
// dest, or an error of the local stack.
type icmpError struct {
	Origin   uint8 // unix.SO_EE_ORIGIN_ICMP, _ICMP6 or _LOCAL
	Type     uint8 // the ICMP type (3 destination unreachable, 11 time exceeded; ICMPv6 1, 3)
	Code     uint8
	Errno    unix.Errno
	Offender netip.Addr // who sent the error; invalid when the kernel does not say
	// After is how long after the send the error was read: at most this
	// long after the packet left.
	After time.Duration
}

// The ICMP types and codes netready reads (RFC 792, RFC 1812, RFC 4443).
const (
	icmpDestUnreach  = 3
	icmpTimeExceeded = 11

	icmpNetUnreach         = 0
	icmpHostUnreach        = 1
	icmpProtoUnreach       = 2
	icmpPortUnreach        = 3
	icmpFragNeeded         = 4
	icmpNetUnknown         = 6
	icmpHostUnknown        = 7
	icmpNetProhibited      = 9
	icmpHostProhibited     = 10
	icmpNetUnreachTOS      = 11
	icmpHostUnreachTOS     = 12
	icmpPacketFiltered     = 13
	icmpPrecedenceViolated = 14
	icmpPrecedenceCutoff   = 15

	icmp6DestUnreach  = 1
	icmp6PacketTooBig = 2
	icmp6TimeExceeded = 3

	icmp6NoRoute       = 0
	icmp6AdminProhib   = 1
	icmp6BeyondScope   = 2
	icmp6AddrUnreach   = 3
	icmp6PortUnreach   = 4
	icmp6PolicyFail    = 5
	icmp6RejectRoute   = 6
	icmp6SourceRouting = 7
)

// readErrQueue reads one entry of fd's error queue without blocking; nil
// when the queue is empty or holds nothing netready reads. It allocates
// only on the path of a failure, the only one that calls it.
func readErrQueue(fd int) *icmpError {
	var data [1]byte // the offending packet's payload is of no interest
	e, _ := readErrQueueData(fd, data[:])
	return e
}

// readErrQueueData is readErrQueue that also reads into data the start of
// the payload of our packet that the error is about (for an ICMP echo
// request, its header: type, code, checksum, id, sequence), and says how
// many bytes it read.
func readErrQueueData(fd int, data []byte) (*icmpError, int) {
	var oob [128]byte
	n, oobn, _, _, err := unix.Recvmsg(fd, data, oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
	if err != nil {
		return nil, 0
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, 0
	}
	for _, m := range msgs {
		if !(m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR ||
			m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
			continue
		}
		if e := parseExtendedErr(m.Data); e != nil {
			return e, min(n, len(data))
		}
	}
	return nil, 0
}

// parseExtendedErr reads a struct sock_extended_err and the offender's
// address that follows it (SO_EE_OFFENDER): a sockaddr_in or sockaddr_in6.
func parseExtendedErr(b []byte) *icmpError {
	const size = 16 // sizeof(struct sock_extended_err)
	if len(b) < size {
		return nil
	}
	e := &icmpError{
		Errno:  unix.Errno(binary.NativeEndian.Uint32(b[0:4])),
		Origin: b[4],
		Type:   b[5],
		Code:   b[6],
	}
	switch e.Origin {
	case unix.SO_EE_ORIGIN_ICMP, unix.SO_EE_ORIGIN_ICMP6, unix.SO_EE_ORIGIN_LOCAL:
	default:
		return nil // timestamps, zero-copy notifications: not errors
	}
	off := b[size:]
	if len(off) >= 2 {
		switch binary.NativeEndian.Uint16(off[0:2]) {
		case unix.AF_INET:
			if len(off) >= unix.SizeofSockaddrInet4 {
				e.Offender = netip.AddrFrom4([4]byte(off[4:8]))
			}
		case unix.AF_INET6:
			if len(off) >= unix.SizeofSockaddrInet6 {
				e.Offender = netip.AddrFrom16([16]byte(off[8:24])).Unmap()
			}
		}
	}
	return e
}

// What says what an ICMP error says, for a person: "network unreachable",
// "communication administratively prohibited".
func (e *icmpError) What() string {
	v6 := e.Origin == unix.SO_EE_ORIGIN_ICMP6
	switch {
	case !v6 && e.Type == icmpDestUnreach:
		switch e.Code {
		case icmpNetUnreach, icmpNetUnknown, icmpNetUnreachTOS:
			return "network unreachable"
		case icmpHostUnreach, icmpHostUnknown, icmpHostUnreachTOS:
			return "host unreachable"
		case icmpProtoUnreach:
			return "protocol unreachable"
		case icmpPortUnreach:
			return "port unreachable"
		case icmpFragNeeded:
			return "fragmentation needed"
		case icmpNetProhibited:
			return "network administratively prohibited"
		case icmpHostProhibited:
			return "host administratively prohibited"
		case icmpPacketFiltered:
			return "communication administratively prohibited (packet filtered)"
		case icmpPrecedenceViolated, icmpPrecedenceCutoff:
			return "precedence violation"
		}
	case !v6 && e.Type == icmpTimeExceeded:
		return "time exceeded (TTL reached zero in transit)"
	case v6 && e.Type == icmp6DestUnreach:
		switch e.Code {
		case icmp6NoRoute:
			return "no route to destination"
		case icmp6AdminProhib:
			return "communication administratively prohibited"
		case icmp6BeyondScope:
			return "beyond scope of source address"
		case icmp6AddrUnreach:
			return "address unreachable"
		case icmp6PortUnreach:
			return "port unreachable"
		case icmp6PolicyFail:
			return "source address failed ingress/egress policy"
		case icmp6RejectRoute:
			return "reject route to destination"
		case icmp6SourceRouting:
			return "error in source routing header"
		}
	case v6 && e.Type == icmp6PacketTooBig:
		return "packet too big"
	case v6 && e.Type == icmp6TimeExceeded:
		return "time exceeded (hop limit reached zero in transit)"
	case e.Origin == unix.SO_EE_ORIGIN_LOCAL:
		return "local error: " + e.Errno.Error()
	}
	proto := "ICMP"
	if v6 {
		proto = "ICMPv6"
	}
	return fmt.Sprintf("%s type %d code %d", proto, e.Type, e.Code)
}

// class sorts an ICMP error into what netready makes of it.
type icmpClass int

const (
	icmpOther       icmpClass = iota
	icmpNoRouteOn             // a router has no route onward (net/host unreachable, no route, beyond scope)
	icmpAddrUnreach           // the last router cannot reach the host on its link (host/address unreachable)
	icmpProhibited            // a firewall rejects (administratively prohibited, packet filtered, policy, reject route)
	icmpPortClosed            // port unreachable
	icmpLoop                  // time exceeded in transit
	icmpTooBig                // fragmentation needed / packet too big: path MTU, not a failure by itself
)

func (e *icmpError) class() icmpClass {
	if e.Origin == unix.SO_EE_ORIGIN_ICMP6 {
		switch {
		case e.Type == icmp6TimeExceeded && e.Code == 0:
			return icmpLoop
		case e.Type == icmp6PacketTooBig:
			return icmpTooBig
		case e.Type != icmp6DestUnreach:
			return icmpOther
		}
		switch e.Code {
		case icmp6NoRoute, icmp6BeyondScope:
			return icmpNoRouteOn
		case icmp6AddrUnreach:
			return icmpAddrUnreach
		case icmp6AdminProhib, icmp6PolicyFail, icmp6RejectRoute:
			return icmpProhibited
		case icmp6PortUnreach:
			return icmpPortClosed
		}
		return icmpOther
	}
	if e.Origin != unix.SO_EE_ORIGIN_ICMP {
		return icmpOther
	}
	switch {
	case e.Type == icmpTimeExceeded && e.Code == 0:
		return icmpLoop
	case e.Type != icmpDestUnreach:
		return icmpOther
	}
	switch e.Code {
	case icmpNetUnreach, icmpNetUnknown, icmpNetUnreachTOS:
		return icmpNoRouteOn
	case icmpHostUnreach, icmpHostUnknown, icmpHostUnreachTOS:
		return icmpAddrUnreach
	case icmpNetProhibited, icmpHostProhibited, icmpPacketFiltered, icmpPrecedenceViolated, icmpPrecedenceCutoff:
		return icmpProhibited
	case icmpPortUnreach, icmpProtoUnreach:
		return icmpPortClosed
	case icmpFragNeeded:
		return icmpTooBig
	}
	return icmpOther
}

// icmpFailure is what the ICMP error e, which came back for a packet to
// dst in phase ("connect", "query", "echo"), says is wrong; nil when it
// says nothing an errno does not already say: a port unreachable from dst
// itself (a refusal), a packet too big (path MTU, handled by the kernel),
// an error the local stack raised about its own neighbour entry (the path
// explanation names that gateway or host). local reports whether the
// error's sender is an address of this host. err is the socket's error.
func icmpFailure(e *icmpError, dst netip.AddrPort, phase PhaseName, local bool, err error) *Failure {
	if e == nil {
		return nil
	}
	d := dst.Addr()
	said := "ICMP " + e.What() // when it came is the hop's, under --explain
	if e.Origin == unix.SO_EE_ORIGIN_ICMP6 {
		said = "ICMPv6" + said[len("ICMP"):]
	}
	hop := dst.String()
	if dst.Port() == 0 {
		hop = d.String()
	}
	mk := func(c Cause, format string, args ...any) *Failure {
		f := fail(c, phase, hop, fmt.Errorf("%s (%s: %w)", fmt.Sprintf(format, args...), said, err))
		f.icmp = e
		return f
	}
	r := e.Offender
	switch cls := e.class(); {
	case !r.IsValid():
		return nil
	case local:
		if cls == icmpProhibited {
			return mk(CauseLocalFirewall, "this host's own firewall rejects packets to %s", d)
		}
		return nil
	case cls == icmpProhibited && r == d:
		what := map[PhaseName]string{PhaseQuery: "the query", PhaseEcho: "the echo request"}[phase]
		if what == "" {
			what = "the connection"
		}
		return mk(CauseRejected, "%s rejects %s: a firewall on it", d, what)
	case cls == icmpProhibited:
		return mk(CauseRejected, "%s rejects packets to %s: a firewall on the way", r, d)
	case cls == icmpPortClosed && r != d:
		return mk(CauseRejected, "%s answers for %s with port unreachable, not %s itself: a firewall on the way rejects", r, d, d)
	case cls == icmpNoRouteOn && r != d:
		return mk(CauseRouterUnreachable, "router %s says it has no route to %s", r, d)
	case cls == icmpAddrUnreach && r != d:
		return mk(CauseRouterUnreachable, "router %s says %s is unreachable: no host answers at that address beyond it", r, d)
	case cls == icmpLoop:
		return mk(CauseRoutingLoop, "router %s says the packet to %s ran out of hops: a routing loop", r, d)
	}
	return nil
}

// roundDuration rounds d for a person: 0.41ms, 12ms, 1.2s.
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// fromICMP is icmpFailure for a socket made as s says: whether the sender
// is this host is asked of the kernel ("ip route get" answers local).
func (s sockets) fromICMP(e *icmpError, dst netip.AddrPort, phase PhaseName, err error) *Failure {
	if e == nil || !e.Offender.IsValid() {
		return nil
	}
	return icmpFailure(e, dst, phase, s.isLocal(e.Offender), err)
}
