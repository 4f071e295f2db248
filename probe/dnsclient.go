package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the EDNS0 UDP payload size we advertise: the 2020 DNS flag
// day's 1232 bytes, which avoids IP fragmentation on any sane path.
const ednsSize = 1232

// What an exchange with a resolver reads, whatever the resolver sends: a
// reply over a bound fails with response-too-large, naming it. The bounds
// hold for every exchange of a query: over UDP, over TCP after a truncated
// reply, and the path-MTU retry's (mtu.go).
const (
	// maxDNSMessage is the largest DNS message read, over UDP (the
	// buffer of every datagram) and over TCP (where the 16-bit length
	// before a message cannot say more; a stream that goes on after the
	// message is not read).
	maxDNSMessage = dns.MaxMsgSize
	// maxReplies is how many datagrams are examined for the answer to one
	// query over UDP, its retransmissions included: a resolver sends
	// one per query sent. More, none of them the answer, is a flood.
	maxReplies = 64
	// tcpReplyTime is how long a reply over TCP may take to arrive whole
	// once connected, whatever is left of the probe's time: a resolver
	// sends its 64 KiB at most at once; slower, it is trickling.
	tcpReplyTime = 5 * time.Second
)

// exchangeStats counts the datagrams a UDP exchange read and threw away, so a
// timeout can say what it saw instead of a bare "i/o timeout".
type exchangeStats struct {
	wrongID, wrongQuestion, malformed int
}

// examined is how many datagrams were thrown away.
func (s exchangeStats) examined() int { return s.wrongID + s.wrongQuestion + s.malformed }

func (s exchangeStats) String() string {
	var parts []string
	if s.wrongID > 0 {
		parts = append(parts, plural(s.wrongID, "reply", "replies")+" with a wrong id")
	}
	if s.wrongQuestion > 0 {
		parts = append(parts, plural(s.wrongQuestion, "reply", "replies")+" to another question")
	}
	if s.malformed > 0 {
		parts = append(parts, plural(s.malformed, "malformed reply", "malformed replies"))
	}
	if len(parts) == 0 {
		return ""
	}
	return "ignored " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// exchange sends the query q to server and returns the reply that matches
// it by id and question. Over UDP it uses a connected socket, so the kernel
// drops datagrams from any other address or port; replies with a wrong id or
// question and malformed ones are ignored, and the query is sent again every
// retransmit (at most attempts times) until ctx ends. A truncated UDP reply
// is retried over TCP. It returns the transport that gave the reply ("udp" or
// "tcp").
func exchange(ctx context.Context, s sockets, server netip.AddrPort, q dns.Question, retransmit time.Duration, attempts int) (*dns.Msg, string, error) {
	m := newQuery(q)
	var h udpHedge // see mtu.go
	h.watch(ctx, s, server, m, retransmit, attempts)
	r, err := exchangeUDP(ctx, s, server, m, retransmit, attempts, &h)
	if err = h.settle(err); err != nil {
		return nil, "udp", err
	}
	if !r.Truncated {
		return r, "udp", nil
	}
	m.Id = dns.Id()
	r, err = exchangeTCP(ctx, s, server, m)
	if err != nil {
		return nil, "tcp", fmt.Errorf("truncated over udp, then over tcp: %w", cleanNetError(ctx, err))
	}
	return r, "tcp", nil
}

func newQuery(q dns.Question) *dns.Msg {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.Question = []dns.Question{q}
	m.SetEdns0(ednsSize, false)
	return m
}

func exchangeUDP(ctx context.Context, s sockets, server netip.AddrPort, m *dns.Msg, retransmit time.Duration, attempts int, h *udpHedge) (*dns.Msg, error) {
	if f := s.clear(server.Addr()); f != nil {
		return nil, f
	}
	c, err := s.dialer("udp", server.Addr()).DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, cleanNetError(ctx, err)
	}
	defer c.Close()
	stop := abortOnDone(ctx, c)
	defer stop()

	query, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	ctxDeadline, _ := ctx.Deadline()
	var stats exchangeStats
	buf := make([]byte, maxDNSMessage)
	sent, resent := 0, false
	var sentAt time.Time
	for {
		sentAt = time.Now()
		if _, err := c.Write(query); err != nil {
			return nil, s.icmpOr(c, server, sentAt, cleanNetError(ctx, ctxErr(ctx, err)))
		}
		sent++
		// Wait for the reply until the next retransmission is due or ctx
		// ends. Checking ctx after setting the deadline closes the race
		// with abortOnDone's deadline in the past.
		readDL, retry := ctxDeadline, false
		if next := time.Now().Add(retransmit); sent < attempts && retransmit > 0 && (readDL.IsZero() || next.Before(readDL)) {
			readDL, retry = next, true
		}
		c.SetReadDeadline(h.before(readDL))
		if ctx.Err() != nil {
			return nil, ctxErr(ctx, context.DeadlineExceeded)
		}
		r, err := readMatching(c, m, buf, &stats)
		if err != nil && h.passSplit(c, err, stats, readDL, query) {
			r, err = readMatching(c, m, buf, &stats) // with a retry beside, maybe: see udpHedge
		}
		if err == nil {
			return r, nil
		}
		if errors.Is(err, errTooManyReplies) {
			return nil, fail(CauseResponseTooLarge, PhaseQuery, server.String(),
				fmt.Errorf("%s, none the answer: netready examines %d per query at most", stats, maxReplies))
		}
		if retry && errTimeout(err) && ctx.Err() == nil {
			continue // retransmit
		}
		err = cleanNetError(ctx, err)
		if !errTimeout(err) {
			err = s.icmpOr(c, server, sentAt, err)
			if hostUnreachable(err) && !isFailure(err) && !resent && ctx.Err() == nil {
				// Dropped behind a neighbour entry that failed (the
				// local stack said so, no router did): a new one asks
				// at once.
				resent = true
				continue
			}
		}
		if s := stats.String(); s != "" {
			err = fmt.Errorf("%w (%s)", err, s)
		}
		return nil, err
	}
}

// icmpOr is err, the error of a send or receive on the UDP socket c to
// server, or the failure that the ICMP error behind it names (read from
// c's error queue): a router that has no route onward, a firewall that
// rejects. sentAt is when the last query left.
func (s sockets) icmpOr(c net.Conn, server netip.AddrPort, sentAt time.Time, err error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return err
	}
	rc, rerr := sc.SyscallConn()
	if rerr != nil {
		return err
	}
	var e *icmpError
	rc.Control(func(fd uintptr) { e = readErrQueue(int(fd)) })
	if e == nil {
		return err
	}
	e.After = time.Since(sentAt)
	if f := s.fromICMP(e, server, PhaseQuery, err); f != nil {
		return f
	}
	return err
}

// errTooManyReplies is readMatching's when it has examined maxReplies.
var errTooManyReplies = errors.New("too many replies")

// readMatching reads datagrams from c until one answers m, counting the
// others in stats, maxReplies of them at most.
func readMatching(c net.Conn, m *dns.Msg, buf []byte, stats *exchangeStats) (*dns.Msg, error) {
	for {
		if stats.examined() >= maxReplies {
			return nil, errTooManyReplies
		}
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		var h dns.Msg
		if n < 12 {
			stats.malformed++
			continue
		}
		if id := uint16(buf[0])<<8 | uint16(buf[1]); id != m.Id {
			stats.wrongID++
			continue
		}
		if err := h.Unpack(buf[:n]); err != nil {
			stats.malformed++
			continue
		}
		if !h.Response || !sameQuestion(h.Question, m.Question[0]) {
			stats.wrongQuestion++
			continue
		}
		return &h, nil
	}
}

func sameQuestion(got []dns.Question, want dns.Question) bool {
	return len(got) == 1 && got[0].Qtype == want.Qtype && got[0].Qclass == want.Qclass &&
		strings.EqualFold(got[0].Name, want.Name)
}

func exchangeTCP(ctx context.Context, s sockets, server netip.AddrPort, m *dns.Msg) (*dns.Msg, error) {
	c, err := s.dialer("tcp", server.Addr()).DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// The reply's time (tcpReplyTime) is the exchange's: its read
	// deadline, and the budget of its path-MTU retry.
	bound := time.Now().Add(tcpReplyTime)
	rctx, cancel := context.WithDeadline(ctx, bound)
	defer cancel()
	stop := abortOnDone(rctx, c)
	defer stop()
	w := watchQuery(rctx, c, s, server, m) // see mtu.go
	co := &dns.Conn{Conn: w}
	if err := co.WriteMsg(m); err != nil {
		return nil, settleMTU(w, ctxErr(ctx, err), "")
	}
	r, got, want, err := readTCPMsg(w)
	if err = settleMTU(w, err, "over tcp, after a truncated reply over udp"); err != nil {
		if got > 0 && errTimeout(err) && !ctxDone(ctx) && !time.Now().Before(bound) {
			return nil, fail(CauseResponseTooLarge, PhaseQuery, server.String(),
				fmt.Errorf("reply over tcp: %d of %d bytes after %s, the most netready waits for one", got, want, tcpReplyTime))
		}
		return nil, ctxErr(ctx, err)
	}
	if r.Id != m.Id {
		return nil, fmt.Errorf("reply has id %d, want %d", r.Id, m.Id)
	}
	if !r.Response || !sameQuestion(r.Question, m.Question[0]) {
		return nil, errors.New("reply is not for the question asked")
	}
	return r, nil
}

// readTCPMsg reads one DNS message from c, a TCP connection: its length,
// then that many bytes (maxDNSMessage at most), and nothing after it. got
// is how many bytes came, whole message or not, of want (the length and
// the message; 2 until the length is known).
func readTCPMsg(c net.Conn) (r *dns.Msg, got, want int, err error) {
	var length [2]byte
	want = len(length)
	got, err = io.ReadFull(c, length[:])
	if err != nil {
		return nil, got, want, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(length[:]))
	want += len(msg)
	n, err := io.ReadFull(c, msg)
	got += n
	if err != nil {
		return nil, got, want, err
	}
	r = new(dns.Msg)
	if err := r.Unpack(msg); err != nil {
		return nil, got, want, fmt.Errorf("malformed reply over tcp: %w", err)
	}
	return r, got, want, nil
}

// serverReply is one server's outcome in askAll.
type serverReply struct {
	server    netip.AddrPort
	msg       *dns.Msg
	transport string
	err       error // exchange error, or the verdict of accept
}

// askAll asks every server the question at once and returns as soon as one
// reply passes accept (first), or when all have failed, with every server's
// outcome in the order of servers. Queries still in flight when one passes
// are cancelled. Their sockets are made as sk.forResolver says.
func (e *Env) askAll(ctx context.Context, rc *ResolvConf, sk sockets, servers []netip.AddrPort, q dns.Question, accept func(*dns.Msg) error) (ok *serverReply, all []serverReply) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	all = make([]serverReply, len(servers))
	done := make(chan int, len(servers))
	for i, s := range servers {
		pool.Go(func() {
			ss := sk.forResolver(s.Addr())
			msg, tr, err := e.exchange(ctx, ss, s, q, rc.Timeout, rc.Attempts)
			if err == nil {
				err = accept(msg)
			}
			if err == nil {
				err = checkBlocked(msg)
			}
			if f := ss.localFailure(err); f != nil {
				err = f
			} else if err != nil {
				err = e.withEDEs(serverFailure(s, err), msg)
			}
			all[i] = serverReply{server: s, msg: msg, transport: tr, err: err}
			done <- i
		})
	}
	for range servers {
		i := <-done
		if all[i].err == nil && ok == nil {
			ok = &all[i]
			cancel()
		}
	}
	return ok, all
}

// joinServerErrors names every failing server: "10.0.0.1:53: rcode
// SERVFAIL; [::1]:53: connection refused". Its cause is that of the server
// that got furthest (an answer says more than silence).
func joinServerErrors(all []serverReply) *Failure {
	var (
		parts []string
		fs    []*Failure
	)
	for _, r := range all {
		if r.err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", r.server, r.err))
			fs = append(fs, FailureOf(r.err))
		}
	}
	se := &serversError{all: all, msg: strings.Join(parts, "; ")}
	if len(fs) == 0 {
		return fail(CauseOther, PhaseQuery, "", se)
	}
	return furthest(fs).With(se)
}

// serverFailure classifies what went wrong with one server: the exchange
// (PhaseQuery) or its reply (PhaseAnswer).
func serverFailure(server netip.AddrPort, err error) *Failure {
	var (
		rc *rcodeError
		nd *noDataError
		wa *wrongAnswerError
		be *blockedError
	)
	switch {
	case errors.As(err, &be):
		return fail(CauseDNSBlocked, PhaseAnswer, server.String(), err)
	case errors.As(err, &wa):
		return fail(CauseWrongAnswer, PhaseAnswer, server.String(), err)
	case errors.As(err, &rc):
		// A resolver's answer that the name is not there, or that it
		// will not or cannot say, is a prompt "no" (see Refusal).
		f := fail(rcodeCause(rc.rcode), PhaseAnswer, server.String(), err)
		f.refused = f.Cause != CauseResolverError
		return f
	case errors.As(err, &nd):
		f := fail(CauseNoRecords, PhaseAnswer, server.String(), err)
		f.refused = true
		return f
	}
	return classify(err, PhaseQuery, server)
}

// serversError keeps the per-server errors.
type serversError struct {
	all []serverReply
	msg string
}

func (e *serversError) Error() string { return e.msg }

// Unwrap exposes every server's error to errors.Is and errors.As.
func (e *serversError) Unwrap() []error {
	var errs []error
	for _, r := range e.all {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errs
}

// rcodeError is a reply whose rcode is not NOERROR.
type rcodeError struct{ rcode int }

func (e *rcodeError) Error() string {
	if s, ok := dns.RcodeToString[e.rcode]; ok {
		return "rcode " + s
	}
	return fmt.Sprintf("rcode %d", e.rcode)
}

// noDataError is NOERROR without an answer of the asked type.
type noDataError struct {
	qtype uint16
	cname string // where a CNAME chain ended, if it did
}

func (e *noDataError) Error() string {
	s := "no " + qtypeString(e.qtype) + " records"
	if e.cname != "" {
		s += " (CNAME chain ends at " + e.cname + ")"
	}
	return s
}

// answers follows the CNAME chain from q.Name through the answer section and
// returns the records of q's type at its end. A query for CNAME or ANY is
// answered by any record at the name.
func answers(r *dns.Msg, q dns.Question) ([]dns.RR, error) {
	name := q.Name
	for hops := 0; hops <= 16; hops++ {
		var found []dns.RR
		next := ""
		for _, rr := range r.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) || h.Class != q.Qclass {
				continue
			}
			if h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				found = append(found, rr)
			} else if cn, ok := rr.(*dns.CNAME); ok {
				next = cn.Target
			}
		}
		if len(found) > 0 {
			return found, nil
		}
		if next == "" {
			ne := &noDataError{qtype: q.Qtype}
			if hops > 0 {
				ne.cname = name
			}
			return nil, ne
		}
		name = next
	}
	return nil, errors.New("CNAME chain longer than 16")
}
