package probe

// Path MTU blackholes. A link on the way that carries smaller packets than
// this host's own link (a tunnel, PPPoE, a VPN) makes its router answer a
// packet too large for it with an ICMP "fragmentation needed" (ICMPv6
// "packet too big"), and the sender sends smaller ones from then on. When a
// firewall drops that ICMP error, the sender never learns: a TCP handshake
// passes (its packets are small), and the exchange after it stalls, since
// the answer's full-size segments vanish; a DNS reply larger than the link
// vanishes the same way. The socket sees nothing but a timeout.
//
// So an exchange that stalls is tried once more, beside it, with packets
// that every path carries: a TCP connection whose segments are clamped
// (TCP_MAXSEG before connect: the MSS it announces in its SYN, which the
// other end then respects, and its own), and a DNS query with a 512-byte
// EDNS buffer, then over TCP with small segments. If the small attempt gets
// the answer while the normal one stalls, the cause is mtu-blackhole, naming
// the sizes that vanished and that passed.
//
// The budget. The retry starts at the middle of the time left when the
// exchange begins (mtuSplit), if no answer has come by then, and the normal
// exchange goes on beside it until its own deadline: a server that is slow
// but reachable still passes as it did, and a passing exchange costs
// nothing but a read deadline. Half is what the retry can be given without
// taking anything from the normal attempt, and it is as long as the normal
// one was given to show its stall: enough for a new connection and the same
// exchange, unless the server is slow anyway. The verdict is taken when the
// normal exchange has failed, at its deadline, as a timeout was.
//
// Not retried: a loopback destination (no link, no router on the way), an
// exchange that sent nothing, failed to connect or was reset (not a stall),
// a DNS query that got replies it had to ignore (the server's packets come),
// and a connection whose segments are no larger than the small ones.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The sizes every path carries.
const (
	// smallMSS4 is TCP's default MSS (RFC 879, RFC 9293): 576-byte IPv4
	// packets, which every IPv4 host must accept.
	smallMSS4 = 536
	// smallMSS6 fills IPv6's minimum link MTU, 1280 bytes (RFC 8200),
	// less the IPv6 and TCP headers: every IPv6 link carries it.
	smallMSS6 = 1220
	// smallEDNS is DNS's original limit of a reply over UDP (RFC 1035).
	smallEDNS = 512
)

// smallMSS is the MSS of a retry's connection to dst.
func smallMSS(dst netip.Addr) int {
	if dst.Unmap().Is4() {
		return smallMSS4
	}
	return smallMSS6
}

// ipHeader is the size of the IP header of a packet to dst (no options).
func ipHeader(dst netip.Addr) int {
	if dst.Unmap().Is4() {
		return 20
	}
	return 40
}

// tooBig names the ICMP error that says a packet to dst was too large.
func tooBig(dst netip.Addr) string {
	if dst.Unmap().Is4() {
		return `ICMP "fragmentation needed"`
	}
	return `ICMPv6 "packet too big"`
}

// Values of TCP_INFO: the state TCP_ESTABLISHED (linux/tcp_states.h),
// and the option TCPI_OPT_TIMESTAMPS (linux/tcp.h).
const (
	tcpEstablished    = 1
	tcpiOptTimestamps = 1
)

// mtuSplit is when the retry of an exchange that begins now starts, if no
// answer has come by then: the middle of the time left (see the top of this
// file). It is zero when ctx has no deadline.
func mtuSplit(ctx context.Context, now time.Time) time.Time {
	d, ok := ctx.Deadline()
	if !ok || !d.After(now) {
		return time.Time{}
	}
	return now.Add(d.Sub(now) / 2)
}

// mtuRetry marks the context of a retry with small segments: its TCP
// connections are made small (sockets.inAttempt), and what their exchange
// reads is counted, for the verdict.
type mtuRetry struct{ received atomic.Int64 }

type mtuRetryKey struct{}

// mtuRetryOf is the retry ctx belongs to, or nil.
func mtuRetryOf(ctx context.Context) *mtuRetry {
	r, _ := ctx.Value(mtuRetryKey{}).(*mtuRetry)
	return r
}

// tcpAddrPort is the address of a TCP connection's end, without allocating.
func tcpAddrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// mtuConn is a TCP connection whose exchange (a TLS handshake, an HTTP
// request, a DNS query) is watched for a stall: if a read still waits at
// split, a retry with small segments starts beside it, once, and the
// exchange reads on. In a retry's own connection it counts what is
// read instead. Read is for one goroutine at a time, as a net.Conn's reads
// are; settleMTU is for the goroutine that owns the exchange.
type mtuConn struct {
	net.Conn
	ctx   context.Context
	dst   netip.AddrPort
	sk    sockets
	begun time.Time
	split time.Time // zero once passed
	end   time.Time // the read deadline after the split: ctx's
	count *mtuRetry // in a retry: what the exchange reads

	// What the retry makes again: t with env (tls, http), or again.
	env   *Env
	t     Target
	again func(ctx context.Context) error

	trial atomic.Pointer[mtuTrial]
}

// watch returns c, a connection for t's exchange, watched for a stall
// (see mtuConn), or c itself where there is nothing to watch. The caller
// passes what it returns to settleMTU when the exchange is over.
func (e *Env) watch(ctx context.Context, c net.Conn, t Target) net.Conn {
	if tcpAddrPort(c.RemoteAddr()).Addr().Unmap().IsLoopback() {
		return c
	}
	return e.watcher(ctx, t, nil).watch(c)
}

// watcher is what will watch the exchange of t over a connection to one
// of addrs, made before the connection is (net/http makes it); nil where
// there is nothing to watch: every address is a loopback one, or ctx has
// no deadline.
func (e *Env) watcher(ctx context.Context, t Target, addrs []netip.Addr) *mtuConn {
	if allLoopbackAddrs(addrs) {
		return nil
	}
	if r := mtuRetryOf(ctx); r != nil {
		return &mtuConn{count: r}
	}
	if _, ok := ctx.Deadline(); !ok {
		return nil
	}
	return &mtuConn{ctx: ctx, env: e, t: t, sk: socketsOf(t)}
}

// watch returns c watched by w, its exchange beginning now; c itself when
// w is nil or already watches another connection, or c is to a loopback
// address.
func (w *mtuConn) watch(c net.Conn) net.Conn {
	dst := tcpAddrPort(c.RemoteAddr())
	if w == nil || w.Conn != nil || !dst.IsValid() || dst.Addr().Unmap().IsLoopback() {
		return c
	}
	w.Conn, w.dst = c, dst
	if w.count != nil {
		return w
	}
	w.begun = time.Now()
	if w.split = mtuSplit(w.ctx, w.begun); w.split.IsZero() {
		return c
	}
	w.end, _ = w.ctx.Deadline()
	c.SetReadDeadline(w.split)
	return w
}

// inAttempt is s for the connections of an attempt within ctx: small in a
// retry.
func (s sockets) inAttempt(ctx context.Context) sockets {
	s.small = s.small || mtuRetryOf(ctx) != nil
	return s
}

func (w *mtuConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if err != nil && !w.split.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && w.passSplit() {
		n, err = w.Conn.Read(p)
	}
	if w.count != nil {
		w.count.received.Add(int64(n))
	}
	return n, err
}

// passSplit lifts the split's deadline and starts the retry if the stall
// is one an MTU can explain. It reports whether the exchange reads on:
// not when ctx ended meanwhile (the deadline it set in the past is gone).
func (w *mtuConn) passSplit() bool {
	w.split = time.Time{}
	w.Conn.SetReadDeadline(w.end)
	if w.ctx.Err() != nil {
		return false
	}
	info, pmtu, err := tcpState(w.Conn)
	if err != nil || info.State != tcpEstablished || info.Bytes_sent == 0 ||
		int(info.Advmss) <= smallMSS(w.dst.Addr()) {
		return true
	}
	ctx, cancel := context.WithCancel(w.ctx)
	tr := &mtuTrial{cancel: cancel, done: make(chan struct{}), stalled: *info, pmtu: pmtu, waited: time.Since(w.begun)}
	again := w.again
	if again == nil {
		env, t := w.env, w.t
		again = func(ctx context.Context) error { return kindOf(t.Kind).probe(ctx, env, t).Err }
	}
	w.trial.Store(tr)
	pool.Go(func() {
		defer close(tr.done)
		start := time.Now()
		tr.err = again(context.WithValue(ctx, mtuRetryKey{}, &tr.retry))
		tr.took = time.Since(start)
	})
	return true
}

// mtuTrial is the retry of a stalled TCP exchange with small segments.
type mtuTrial struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when it is over
	retry  mtuRetry

	// The stalled connection at the split: its TCP_INFO, the path MTU
	// the kernel had for it (IP_MTU), and how long it had waited.
	stalled unix.TCPInfo
	pmtu    int
	waited  time.Duration

	// Its outcome, written before done is closed.
	err  error
	took time.Duration
}

// answered reports whether the retry got the answer: it passed, or failed
// on what the answer said (a certificate, a status), not for want of one.
func (tr *mtuTrial) answered() bool {
	if tr.err == nil {
		return true
	}
	switch FailureOf(tr.err).Cause {
	case CauseTLSUntrusted, CauseTLSClock, CauseTLSExpired, CauseTLSNameMismatch, CauseTLSFailed,
		CauseHTTPStatus, CauseHTTPBody, CauseCaptivePortal, CauseResponseTooLarge:
		return true
	}
	return false
}

// settleMTU ends the retry that the exchange over c may have started and
// returns the exchange's error: err, unless err is a stall (a timeout)
// and the retry got, in small segments, an answer larger than one of
// them: then the mtu-blackhole that proves, for step ("tls handshake").
// It waits for the retry, whose deadline is the exchange's own.
func settleMTU(c net.Conn, err error, step string) error {
	w, ok := c.(*mtuConn)
	if !ok {
		return err
	}
	tr := w.trial.Load()
	if tr == nil {
		return err
	}
	if err == nil || !errTimeout(err) {
		tr.cancel()
		<-tr.done
		return err
	}
	<-tr.done
	tr.cancel()
	received := tr.retry.received.Load()
	if !tr.answered() || received <= int64(smallMSS(w.dst.Addr())) {
		// Nothing came in small segments either, or so little that the
		// answer fits in one: its size cannot explain the stall.
		return err
	}
	return tr.failure(w, err, step, received)
}

// failure is the mtu-blackhole that tr proves for the exchange over w:
// packets of full size that vanish on the way to the other end (ours are
// not acknowledged) or from it (its answer does not come).
func (tr *mtuTrial) failure(w *mtuConn, err error, step string, received int64) *Failure {
	st, a := &tr.stalled, w.dst.Addr()
	hdr := ipHeader(a) + 20
	if st.Options&tcpiOptTimestamps != 0 {
		hdr += 12 // the MSS of both ends is net of the option
	}
	var what string
	if st.Unacked > 0 {
		size := int(st.Snd_mss) + hdr
		what = fmt.Sprintf("packets of %d bytes to %s vanish (%s of ours unacknowledged after %s", size, w.dst,
			plural(int(st.Unacked), "segment", "segments"), roundMS(tr.waited))
		if tr.pmtu >= size {
			// The kernel would have lowered the socket's path MTU.
			what += fmt.Sprintf("; no %s came back", tooBig(a))
		}
	} else {
		what = fmt.Sprintf("packets of %d bytes from %s vanish (%s of its answer came in %s", int(st.Advmss)+hdr, w.dst,
			plural(int(st.Bytes_received), "byte", "bytes"), roundMS(tr.waited))
		if n := st.Rcv_ooopack; n > 0 {
			what += fmt.Sprintf(", and %s after a gap", plural(int(n), "packet", "packets"))
		}
		what += fmt.Sprintf("; no %s made it send smaller", tooBig(a))
	}
	msg := fmt.Sprintf("%s: %s); in %d-byte packets the answer came (%s in %s): path MTU blackhole%s",
		step, what, smallMSS(a)+ipHeader(a)+20, plural(int(received), "byte", "bytes"), roundMS(tr.took), linkNote(w.env, a, w.sk, tr.pmtu))
	if tr.err != nil {
		// The answer that came in small segments fails on its own
		// account: say so, it is next once the path is mended.
		msg += fmt.Sprintf("; and then %v", tr.err)
	}
	return fail(CauseMTUBlackhole, FailureOf(err).Phase, w.dst.String(), errors.New(msg))
}

// tcpState reads c's TCP_INFO and the path MTU the kernel has for it
// (IP_MTU, IPV6_MTU: the link's, or what an ICMP error taught it).
func tcpState(c net.Conn) (*unix.TCPInfo, int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, 0, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	var (
		info *unix.TCPInfo
		pmtu int
		ierr error
	)
	err = rc.Control(func(fd uintptr) {
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr != nil {
			return
		}
		if pmtu, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU); pmtu == 0 {
			pmtu, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU)
		}
	})
	if err == nil {
		err = ierr
	}
	return info, pmtu, err
}

// linkNote names the link packets to dst leave through and its MTU, and
// the path MTU the kernel has learned for dst if it is smaller: " (eth0
// MTU 1500)", " (eth0 MTU 1500, path MTU 1400 learned)". pmtu is what
// the socket said, for when netlink cannot be asked.
func linkNote(e *Env, dst netip.Addr, s sockets, pmtu int) string {
	var k kernel = netlinkKernel{&netlink.Handle{}} // the process's namespace, as Env's default
	if e != nil {
		k = e.kernel()
	}
	dst = dst.Unmap()
	opts := &netlink.RouteGetOptions{Oif: s.via}
	if s.src.IsValid() && s.src.Is4() == dst.Is4() {
		opts.SrcAddr = s.src.AsSlice()
	}
	routes, err := k.RouteGet(dst, opts)
	if err != nil || len(routes) == 0 {
		if pmtu > 0 {
			return fmt.Sprintf(" (path MTU %d as the kernel knows it)", pmtu)
		}
		return ""
	}
	l, err := k.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return ""
	}
	n := fmt.Sprintf(" (%s MTU %d", l.Attrs().Name, l.Attrs().MTU)
	if m := routes[0].MTU; m > 0 && m < l.Attrs().MTU {
		n += fmt.Sprintf(", path MTU %d learned", m)
	}
	return n + ")"
}

// roundMS rounds d to the millisecond, for a message.
func roundMS(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// watchQuery is c, a connection for the DNS query m over TCP to server
// made as s says, watched for a stall (see mtuConn): the retry asks the
// same over a connection with small segments.
func watchQuery(ctx context.Context, c net.Conn, s sockets, server netip.AddrPort, m *dns.Msg) net.Conn {
	if server.Addr().Unmap().IsLoopback() {
		return c
	}
	if r := mtuRetryOf(ctx); r != nil {
		return (&mtuConn{count: r}).watch(c)
	}
	return (&mtuConn{ctx: ctx, sk: s, again: func(ctx context.Context) error {
		small, q := s, m.Copy()
		small.small, q.Id = true, dns.Id()
		_, err := exchangeTCP(ctx, small, server, q)
		return err
	}}).watch(c)
}

// udpHedge watches a DNS query over UDP for a reply too large for the path:
// if nothing at all came back by the split (see the top of this file), a
// retry asks the same with a 512-byte EDNS buffer. If its reply comes
// truncated, the answer is larger than that, and it asks once more as at
// first, on the query's own socket (whose reply the query takes), and over
// TCP with small segments. The query sent again is for a path whose MTU the
// server has just learned from an ICMP error: the first reply, too large,
// was lost, but the next one passes (fragmented); such a path is no
// blackhole. A resolver that is merely silent gets one query more. The zero
// udpHedge watches nothing; its methods may be called on a nil one.
type udpHedge struct {
	ctx    context.Context
	at     time.Time // the split; zero once passed
	begun  time.Time
	s      sockets
	server netip.AddrPort
	m      *dns.Msg
	tries  int
	every  time.Duration
	trial  *udpTrial
}

// watch sets h to watch the query m to server, made as s says, which
// begins now within ctx.
func (h *udpHedge) watch(ctx context.Context, s sockets, server netip.AddrPort, m *dns.Msg, retransmit time.Duration, attempts int) {
	if server.Addr().Unmap().IsLoopback() {
		return
	}
	now := time.Now()
	*h = udpHedge{ctx: ctx, at: mtuSplit(ctx, now), begun: now, s: s, server: server, m: m, tries: attempts, every: retransmit}
}

// before is the read deadline dl, or the split if it comes first.
func (h *udpHedge) before(dl time.Time) time.Time {
	if h != nil && !h.at.IsZero() && (dl.IsZero() || h.at.Before(dl)) {
		return h.at
	}
	return dl
}

// passSplit reports whether err, from a read on c, is the split's
// timeout: then c's read deadline is dl again and the query reads on,
// and, if nothing came back so far (stats), the retry starts, which may
// send query on c again.
func (h *udpHedge) passSplit(c net.Conn, err error, stats exchangeStats, dl time.Time, query []byte) bool {
	if h == nil || h.at.IsZero() || !errTimeout(err) || time.Now().Before(h.at) {
		return false
	}
	h.at = time.Time{}
	c.SetReadDeadline(dl)
	if h.ctx.Err() != nil {
		return false
	}
	if stats != (exchangeStats{}) {
		return true
	}
	ctx, cancel := context.WithCancel(h.ctx)
	tr := &udpTrial{cancel: cancel, done: make(chan struct{})}
	h.trial = tr
	s, server, m, every, tries := h.s, h.server, h.m.Copy(), h.every, h.tries
	pool.Go(func() {
		defer close(tr.done)
		tr.ask(ctx, s, server, m, every, tries, c, query)
	})
	return true
}

// udpTrial is the retry of a DNS query over UDP that met silence.
type udpTrial struct {
	cancel context.CancelFunc
	done   chan struct{}

	// Its outcome, written before done is closed.
	truncated bool  // a truncated reply came to the small buffer: the answer is larger
	whole     int   // the size of the whole answer over TCP in small segments; 0 if it did not come
	tcpErr    error // why it did not
	took      time.Duration
}

// ask sends m with a small EDNS buffer and, if the reply is truncated,
// query again on c (the query's own socket) and m over TCP with small
// segments.
func (tr *udpTrial) ask(ctx context.Context, s sockets, server netip.AddrPort, m *dns.Msg, retransmit time.Duration, attempts int, c net.Conn, query []byte) {
	start := time.Now()
	defer func() { tr.took = time.Since(start) }()
	m.Id = dns.Id()
	m.IsEdns0().SetUDPSize(smallEDNS)
	r, err := exchangeUDP(ctx, s, server, m, retransmit, attempts, nil)
	if err != nil || !r.Truncated {
		return
	}
	tr.truncated = true
	c.Write(query) // c may be closed already: the query is over
	m.Id = dns.Id()
	s.small = true
	r, err = exchangeTCP(context.WithValue(ctx, mtuRetryKey{}, &mtuRetry{}), s, server, m)
	if err != nil {
		tr.tcpErr = cleanNetError(ctx, err)
		return
	}
	tr.whole = r.Len()
}

// settle ends the retry, if one started, and returns the query's error:
// err, unless err is a timeout and a truncated reply came to the small
// buffer: then the mtu-blackhole that proves. It waits for the retry,
// whose deadline is the query's own.
func (h *udpHedge) settle(err error) error {
	if h == nil || h.trial == nil {
		return err
	}
	tr := h.trial
	if err == nil || !errTimeout(err) {
		tr.cancel()
		<-tr.done
		return err
	}
	<-tr.done
	tr.cancel()
	if !tr.truncated {
		// No reply to the small buffer either, or one that fits in it
		// whole: the answer's size cannot explain the silence.
		return err
	}
	a := h.server.Addr()
	small := smallMSS(a) + ipHeader(a) + 20
	tcp := fmt.Sprintf("over TCP in %d-byte packets the whole answer came (%s)", small, plural(tr.whole, "byte", "bytes"))
	if tr.whole == 0 {
		tcp = fmt.Sprintf("over TCP in %d-byte packets: %v", small, tr.tcpErr)
	}
	msg := fmt.Sprintf("replies of more than %d bytes from %s vanish (none came in %s to a %d-byte EDNS buffer, asked twice, and no %s made it send smaller); to a %d-byte buffer a truncated reply came, and %s in %s: path MTU blackhole%s",
		smallEDNS, h.server, roundMS(time.Since(h.begun)), ednsSize, tooBig(a), smallEDNS, tcp, roundMS(tr.took), linkNote(nil, a, h.s, 0))
	return fail(CauseMTUBlackhole, PhaseQuery, h.server.String(), errors.New(msg))
}

// stop ends the retry, if one started, and waits for it.
func (h *udpHedge) stop() { h.settle(nil) }
