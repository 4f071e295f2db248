package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

var icmpKind = KindDef{
	Schemes:  []Kind{KindICMP},
	Usage:    []Usage{{"icmp://HOST", "an echo reply comes back"}},
	ManTitle: "icmp://HOST",
	Man: `An echo reply comes back, over an unprivileged ICMP socket when
net.ipv4.ping_group_range allows the process's group, else a raw socket (CAP_NET_RAW).
Parameters: **via=**, **src=**, **family=**. An ICMP error that comes back instead (a router with no
route onward, a firewall that rejects) is the failure, naming who sent it. The request is sent
again every 500 ms until a reply comes; more than 1024 ICMP messages that are not a reply to
one (a raw socket reads every ICMP message of the host) are **response-too-large**.`,
	Authority: true,
	Complete:  []string{"icmp://"},
	parse:     parseICMP,
	format: func(t Target) string {
		if strings.Contains(t.Host, ":") {
			return withParams("icmp://["+t.Host+"]", t)
		}
		return withParams("icmp://"+t.Host, t)
	},
	probe: probeICMP,
}

func parseICMP(raw, rest string) (Target, error) {
	auth, query, err := authority(raw, rest, KindICMP)
	if err != nil {
		return Target{}, err
	}
	host := auth
	if end := strings.IndexByte(auth, ']'); strings.HasPrefix(auth, "[") && end >= 0 && strings.HasPrefix(auth[end+1:], ":") {
		return Target{}, &ParseError{raw, "an icmp target has no port"}
	}
	if strings.HasPrefix(auth, "[") && strings.HasSuffix(auth, "]") {
		host = auth[1 : len(auth)-1]
		if !strings.Contains(host, ":") {
			return Target{}, &ParseError{raw, fmt.Sprintf("%q is not a valid IPv6 address", host)}
		}
	} else if strings.Count(auth, ":") == 1 {
		return Target{}, &ParseError{raw, "an icmp target has no port"}
	}
	if err := checkHost(host); err != nil {
		return Target{}, &ParseError{raw, err.Error()}
	}
	t := Target{Host: host}
	if err := setParams(raw, &t, KindICMP, query); err != nil {
		return Target{}, err
	}
	if err := checkFamilies(raw, t, host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// icmpInterval is how often an echo request is sent again while no reply
// has come: the first one is often lost to ARP or neighbour discovery.
const icmpInterval = 500 * time.Millisecond

// maxEchoExamined is how many ICMP messages that are not a reply to its
// requests one ping reads before it gives up with response-too-large. An
// unprivileged socket gets only echo replies with its own id, so those are
// replies to requests it never sent; a raw socket reads every ICMP message
// the host receives (other pings' replies, echo requests, errors), so a
// busy host's own traffic counts too: 1024 in a probe's few seconds is
// far more than a host sees unless a flood reaches it.
const maxEchoExamined = 1024

// probeICMP resolves the host and passes when an echo reply comes back from
// any of its addresses. It uses an unprivileged ICMP socket where
// net.ipv4.ping_group_range allows the process's group, and a raw socket
// (CAP_NET_RAW) otherwise.
func probeICMP(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	addrs, local, err := env.resolveHost(ctx, t, t.Host, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: env.resolverAddrs()}
	}
	res := Result{Local: local, Dests: withPort(addrs, "0")}
	type reply struct {
		addr netip.Addr
		rtt  time.Duration
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan reply, len(addrs))
	for _, a := range addrs {
		pool.Go(func() {
			rtt, err := ping(ctx, env.socketsFor(t), a)
			ch <- reply{a, rtt, err}
		})
	}
	var errs []error
	for range addrs {
		r := <-ch
		if r.err == nil {
			cancel()
			res.Phases = tm.done(PhaseEcho)
			res.Detail = fmt.Sprintf("echo reply from %s in %s%s", r.addr, r.rtt.Round(time.Microsecond), socketsOf(t).pathNote(r.addr))
			return res
		}
		err := fmt.Errorf("ping %s: %w", r.addr, r.err)
		var pe *icmpPermissionError
		if f := socketsOf(t).localFailure(err); f != nil {
			err = f
		} else if errors.As(err, &pe) {
			err = fail(CauseICMPNotPermitted, PhaseEcho, "", err)
		} else {
			err = classify(err, PhaseEcho, netip.AddrPortFrom(r.addr, 0))
		}
		errs = append(errs, err)
	}
	res.Phases = tm.done(PhaseEcho)
	res.Err = joinFailures(errs)
	return res
}

// icmpPermissionError is a host where neither an unprivileged ICMP socket
// nor a raw one may be opened.
type icmpPermissionError struct{ unpriv, raw error }

func (e *icmpPermissionError) Error() string {
	return fmt.Sprintf("cannot open an ICMP socket: unprivileged ping is not allowed for this group by net.ipv4.ping_group_range (%v) and a raw socket needs CAP_NET_RAW (%v)", e.unpriv, e.raw)
}

// ping sends echo requests to a, one every icmpInterval, until one is
// answered or ctx ends, from a socket bound as s says (via=:
// SO_BINDTODEVICE; src= of a's family). It returns the round-trip time of
// the first reply; maxEchoExamined messages that are no reply end it with
// response-too-large. The socket keeps the ICMP errors that come back for
// its requests (IP_RECVERR): a router that has no route onward, a firewall
// that rejects, are the attempt's failure, read from its error queue. So
// the socket is netready's own, options set before anything is sent, with
// golang.org/x/net/icmp for the messages only.
func ping(ctx context.Context, s sockets, a netip.Addr) (time.Duration, error) {
	if f := s.clear(a); f != nil {
		return 0, f
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return 0, errIOTimeout
	}
	e, err := openEcho(s, a)
	if err != nil {
		return 0, err
	}
	defer e.c.Close()
	stop := abortOnDone(ctx, e.c)
	defer stop()
	return e.run(ctx, a)
}

// echoSocket is one ping's socket: an unprivileged ICMP socket (the
// kernel sets the echo id and delivers only our replies), or a raw one
// (we set the id, and read every ICMP message of the host).
type echoSocket struct {
	c   net.PacketConn
	raw bool
	v6  bool
	id  int
}

// openEcho opens the socket of a ping to a: unprivileged where
// net.ipv4.ping_group_range allows the process's group, else raw
// (CAP_NET_RAW).
func openEcho(s sockets, a netip.Addr) (*echoSocket, error) {
	v6 := !a.Unmap().Is4()
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	var unprivErr error
	for _, raw := range []bool{false, true} {
		typ := unix.SOCK_DGRAM
		if raw {
			typ = unix.SOCK_RAW
		}
		fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			if !raw {
				unprivErr = os.NewSyscallError("socket", err)
				continue
			}
			return nil, &icmpPermissionError{unpriv: unprivErr, raw: os.NewSyscallError("socket", err)}
		}
		if err != nil {
			return nil, os.NewSyscallError("socket", err)
		}
		if err := setupEcho(fd, s, a); err != nil {
			unix.Close(fd)
			return nil, err
		}
		f := os.NewFile(uintptr(fd), "icmp")
		c, err := net.FilePacketConn(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		return &echoSocket{c: c, raw: raw, v6: v6, id: os.Getpid() & 0xffff}, nil
	}
	panic("unreachable")
}

// setupEcho sets fd's options before anything is sent: the ICMP errors
// kept, the interface, the source address.
func setupEcho(fd int, s sockets, a netip.Addr) error {
	if err := recvErr(fd, a, true); err != nil {
		return os.NewSyscallError("setsockopt IP_RECVERR", err)
	}
	if s.via != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, s.via); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE "+s.via, err)
		}
	}
	if s.src.IsValid() && s.src.Is4() == a.Unmap().Is4() {
		var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: s.src.As4()}
		if s.src.Is6() {
			sa = &unix.SockaddrInet6{Addr: s.src.As16()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return os.NewSyscallError("bind", err)
		}
	}
	return nil
}

// run sends the requests and reads until a reply to one of them comes.
func (e *echoSocket) run(ctx context.Context, a netip.Addr) (time.Duration, error) {
	dst := net.Addr(&net.UDPAddr{IP: a.AsSlice(), Zone: a.Zone()})
	if e.raw {
		dst = &net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()}
	}
	var (
		sent     []time.Time // by sequence number
		buf      [1500]byte
		sentAt   time.Time
		examined int // messages read that were no reply to ours
	)
	deadline, _ := ctx.Deadline()
	for {
		sentAt = time.Now()
		if _, err := e.c.WriteTo(e.request(len(sent)), dst); err != nil {
			return 0, e.icmpOr(a, sentAt, cleanNetError(ctx, err))
		}
		sent = append(sent, sentAt)
		next := sentAt.Add(icmpInterval)
		if !deadline.IsZero() && deadline.Before(next) {
			next = deadline
		}
		e.c.SetReadDeadline(next)
		for {
			n, _, err := e.c.ReadFrom(buf[:])
			if err != nil {
				if errTimeout(err) && ctx.Err() == nil && !ctxDone(ctx) {
					break // send the next request
				}
				err = cleanNetError(ctx, err)
				if errTimeout(err) {
					return 0, fmt.Errorf("no echo reply (%s sent): %w", plural(len(sent), "request", "requests"), err)
				}
				return 0, e.icmpOr(a, sentAt, err)
			}
			if seq, ok := e.reply(buf[:n]); ok && seq < len(sent) {
				return time.Since(sent[seq]), nil
			}
			if examined++; examined >= maxEchoExamined {
				what := "echo replies to requests it did not send, or malformed"
				if e.raw {
					what = "none a reply to ours (a raw socket reads every ICMP message of the host)"
				}
				return 0, fail(CauseResponseTooLarge, PhaseEcho, a.String(), fmt.Errorf("ping %s: %d ICMP messages, %s: netready examines %d per probe at most", a, examined, what, maxEchoExamined))
			}
		}
	}
}

// request is echo request seq.
func (e *echoSocket) request(seq int) []byte {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if e.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	b, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: e.id, Seq: seq, Data: []byte("netready")}}).Marshal(nil)
	return b
}

// reply reports whether b, a message the socket read, is an echo reply to
// one of our requests, and to which.
func (e *echoSocket) reply(b []byte) (seq int, ok bool) {
	proto, want := 1, icmp.Type(ipv4.ICMPTypeEchoReply)
	wantType := byte(ipv4.ICMPTypeEchoReply)
	if e.v6 {
		proto, want, wantType = 58, ipv6.ICMPTypeEchoReply, byte(ipv6.ICMPTypeEchoReply)
	}
	if e.raw && !e.v6 && len(b) > 0 {
		// A raw IPv4 socket reads the IP header too.
		if hl := int(b[0]&0x0f) * 4; len(b) >= hl {
			b = b[hl:]
		}
	}
	if len(b) == 0 || b[0] != wantType {
		return 0, false // not even parsed: most of what a raw socket reads
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil || m.Type != want {
		return 0, false
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || e.raw && echo.ID != e.id {
		return 0, false // a raw socket reads every ping's replies
	}
	return echo.Seq, true
}

// icmpOr is err, the error of a send or receive on the ping's socket, or
// the failure that the ICMP error behind it names. A raw socket receives
// the errors of every ICMP socket's requests: only one about a request of
// ours counts.
func (e *echoSocket) icmpOr(a netip.Addr, sentAt time.Time, err error) error {
	sc, ok := e.c.(syscall.Conn)
	if !ok {
		return err
	}
	rc, rerr := sc.SyscallConn()
	if rerr != nil {
		return err
	}
	var (
		ie   *icmpError
		data [8]byte
		n    int
	)
	rc.Control(func(fd uintptr) { ie, n = readErrQueueData(int(fd), data[:]) })
	if ie == nil || e.raw && (n < 6 || int(binary.BigEndian.Uint16(data[4:6])) != e.id) {
		return err
	}
	ie.After = time.Since(sentAt)
	if f := icmpFailure(ie, netip.AddrPortFrom(a, 0), PhaseEcho, (sockets{}).isLocal(ie.Offender), err); f != nil {
		return f
	}
	return err
}
