// Package dnstest runs a real DNS server, over UDP and TCP on one port, that
// answers from a zone given as text and can be told to misbehave the ways a
// resolver does at boot: wrong ids, truncation, SERVFAIL, silence, garbage.
// It is for tests only.
package dnstest

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behavior is how the server treats every query, until changed.
type Behavior int32

const (
	// Answer replies from the zone: NOERROR with the records, or NXDOMAIN
	// for a name the zone does not have. Over UDP, a reply larger than
	// the query's EDNS buffer (512 bytes without EDNS) is truncated, with
	// TC set, as a real server's is.
	Answer Behavior = iota
	// WrongIDFirst sends a reply with a wrong id, then the right reply.
	WrongIDFirst
	// OnlyWrongID sends only replies with a wrong id.
	OnlyWrongID
	// WrongQuestionFirst sends a reply with the right id to another
	// question, then the right reply.
	WrongQuestionFirst
	// MalformedFirst sends a datagram with the right id that does not
	// parse, then the right reply.
	MalformedFirst
	// OnlyMalformed sends only a malformed datagram.
	OnlyMalformed
	// Truncate answers UDP with TC set and no records; TCP answers fully.
	Truncate
	// ServFail, Refused and NXDomain answer with that rcode.
	ServFail
	Refused
	NXDomain
	// Silent never answers.
	Silent
)

// Server is a running DNS server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the address both the UDP and the TCP server listen on.
	Addr netip.AddrPort

	behavior atomic.Int32
	delay    atomic.Int64 // time.Duration before each reply
	udpQ     atomic.Int64
	tcpQ     atomic.Int64

	hookMu sync.Mutex // held while onQuery runs: one query at a time
	mu     sync.Mutex
	zone   map[string][]dns.RR // by lower-case owner name
	rcodes map[string]int      // names answered with an rcode, whatever the zone says
	types  map[uint16]Behavior // behaviour for queries of a type, instead of behavior
	// after[t] is closed once a query of type t was handled (see
	// HoldUntil), sent[t] says it is; held[t] is the type whose reply a
	// query of type t waits for.
	after  map[uint16]chan struct{}
	sent   map[uint16]bool
	held   map[uint16]uint16
	edes   []*dns.EDNS0_EDE // extended errors added to every reply
	signed bool             // answer as a signed zone's authoritative server
	// onQuery, if set, sees each query before it is answered.
	onQuery func(q *dns.Msg)
}

// Start listens on addr ("127.0.0.1:0", "[::1]:0") for UDP and TCP and
// serves until the test ends. zone is records in master-file syntax, one
// per line ("ready.test. 60 IN A 10.213.1.1").
func Start(t testing.TB, addr string, zone ...string) *Server {
	t.Helper()
	// Retry a few times: the UDP port chosen by the kernel may be taken
	// for TCP.
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("dnstest: listen udp %s: %v", addr, err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		return Serve(t, pc, l, zone...)
	}
	t.Fatalf("dnstest: no port free for both udp and tcp on %s", addr)
	return nil
}

// Serve serves on sockets the caller made (in a network namespace, say),
// which must be bound to the same address and port; either may be nil to
// leave that transport out. The server stops when the test ends.
func Serve(t testing.TB, pc net.PacketConn, l net.Listener, zone ...string) *Server {
	t.Helper()
	s := &Server{zone: map[string][]dns.RR{}, rcodes: map[string]int{}, types: map[uint16]Behavior{},
		after: map[uint16]chan struct{}{}, sent: map[uint16]bool{}, held: map[uint16]uint16{}}
	s.AddRecords(t, zone...)
	var servers []*dns.Server
	start := func(srv *dns.Server) {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		srv.Handler = s
		servers = append(servers, srv)
		go srv.ActivateAndServe()
		<-started
	}
	if pc != nil {
		s.Addr = netip.MustParseAddrPort(pc.LocalAddr().String())
		start(&dns.Server{PacketConn: pc})
	}
	if l != nil {
		s.Addr = netip.MustParseAddrPort(l.Addr().String())
		start(&dns.Server{Listener: l})
	}
	t.Cleanup(func() {
		for _, srv := range servers {
			srv.Shutdown()
		}
	})
	return s
}

// AddRecords adds records in master-file syntax to the zone.
func (s *Server) AddRecords(t testing.TB, zone ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range zone {
		rr, err := dns.NewRR(z)
		if err != nil || rr == nil {
			t.Fatalf("dnstest: bad record %q: %v", z, err)
		}
		k := strings.ToLower(rr.Header().Name)
		s.zone[k] = append(s.zone[k], rr)
	}
}

// SetRcode makes the server answer every later query for one of names
// (fully qualified) with rcode and no records, whatever the zone has.
func (s *Server) SetRcode(rcode int, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.rcodes[strings.ToLower(n)] = rcode
	}
}

// SetTypeBehavior makes queries of type qtype treated as b, whatever
// SetBehavior says: a resolver that drops AAAA queries is
// SetTypeBehavior(dns.TypeAAAA, Silent).
func (s *Server) SetTypeBehavior(qtype uint16, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.types[qtype] = b
}

// HoldUntil makes the server hold its replies to queries of type qtype
// until it has handled a query of type first (10 s at most): a test
// that needs the answer of one family to arrive before the other's makes
// it so, instead of hoping. It must be called before the queries arrive.
func (s *Server) HoldUntil(qtype, first uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[qtype] = first
	if s.after[first] == nil {
		s.after[first] = make(chan struct{})
	}
}

// SetExtendedError makes every later reply carry an Extended DNS Error
// option (RFC 8914) with code and text, in an OPT record, after those set
// before (ClearExtendedErrors removes them all). The rcode and the answer
// stay the behaviour's.
func (s *Server) SetExtendedError(code uint16, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edes = append(s.edes, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
}

// ClearExtendedErrors makes later replies carry no Extended DNS Error.
func (s *Server) ClearExtendedErrors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.edes = nil
}

// SetSigned makes the server answer as the authoritative server of a
// signed zone, for a validating resolver: replies are authoritative (AA),
// echo the query's EDNS0 OPT record with its DO bit, and, to a query with
// DO set, carry the RRSIG records of the zone that cover each answer's
// name and type. The zone's records (DNSKEY, RRSIG) are the caller's:
// Sign makes them.
func (s *Server) SetSigned(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signed = on
}

// SetBehavior changes how every later query is treated.
func (s *Server) SetBehavior(b Behavior) { s.behavior.Store(int32(b)) }

// SetDelay makes the server wait d before each reply.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// OnQuery makes f see each later query before it is answered, one at a
// time: f may change the server's behaviour or zone (not through OnQuery),
// and the change applies to the reply to that query. A test can so change
// what the server says at an exact query, not at a moment.
func (s *Server) OnQuery(f func(q *dns.Msg)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onQuery = f
}

// Queries returns how many queries arrived over UDP and over TCP.
func (s *Server) Queries() (udp, tcp int64) { return s.udpQ.Load(), s.tcpQ.Load() }

// String is the server's address, for resolv.conf or a dns:// target.
func (s *Server) String() string { return s.Addr.String() }

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp {
		s.udpQ.Add(1)
	} else {
		s.tcpQ.Add(1)
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	s.hookMu.Lock()
	s.mu.Lock()
	f := s.onQuery
	s.mu.Unlock()
	if f != nil {
		f(q)
	}
	s.hookMu.Unlock()
	b := Behavior(s.behavior.Load())
	var wait <-chan struct{}
	if len(q.Question) == 1 {
		qt := q.Question[0].Qtype
		s.mu.Lock()
		if tb, ok := s.types[qt]; ok {
			b = tb
		}
		if first, ok := s.held[qt]; ok {
			wait = s.after[first]
		}
		s.mu.Unlock()
		defer s.handled(qt)
	}
	if wait != nil {
		select {
		case <-wait:
		case <-time.After(10 * time.Second):
		}
	}
	r := s.reply(q, b)
	s.addOPT(q, r)
	switch b {
	case Silent:
		return
	case WrongIDFirst, OnlyWrongID:
		bad := r.Copy()
		bad.Id = q.Id + 1
		w.WriteMsg(bad)
		if b == OnlyWrongID {
			return
		}
	case WrongQuestionFirst:
		bad := r.Copy()
		bad.Question = []dns.Question{{Name: "other.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
		bad.Answer = nil
		w.WriteMsg(bad)
	case MalformedFirst, OnlyMalformed:
		// A header with the right id that claims one answer, and no
		// answer: it cannot be unpacked.
		w.Write([]byte{byte(q.Id >> 8), byte(q.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff})
		if b == OnlyMalformed {
			return
		}
	case Truncate:
		if udp {
			r.Answer, r.Ns, r.Extra = nil, nil, nil
			r.Truncated = true
		}
	default:
		if udp {
			// As every real server: a reply over UDP larger than the
			// client's EDNS buffer (512 bytes without EDNS) is cut
			// short, with TC set.
			size := dns.MinMsgSize
			if o := q.IsEdns0(); o != nil {
				size = int(o.UDPSize())
			}
			r.Truncate(size)
		}
	}
	w.WriteMsg(r)
}

// handled records that a query of type qtype was handled (answered, or
// dropped as its behaviour says), releasing the replies HoldUntil holds
// for it.
func (s *Server) handled(qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.after[qtype]; c != nil && !s.sent[qtype] {
		s.sent[qtype] = true
		close(c)
	}
}

// addOPT gives r the OPT record that the extended errors or the signed
// zone need.
func (s *Server) addOPT(q, r *dns.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	qopt := q.IsEdns0()
	if len(s.edes) == 0 && (!s.signed || qopt == nil) {
		return
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(dns.DefaultMsgSize)
	if qopt != nil && qopt.Do() {
		opt.SetDo()
	}
	for _, e := range s.edes {
		opt.Option = append(opt.Option, e)
	}
	r.Extra = append(r.Extra, opt)
}

func (s *Server) reply(q *dns.Msg, b Behavior) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.RecursionAvailable = true
	switch b {
	case ServFail:
		r.Rcode = dns.RcodeServerFailure
		return r
	case Refused:
		r.Rcode = dns.RcodeRefused
		return r
	case NXDomain:
		r.Rcode = dns.RcodeNameError
		return r
	}
	if len(q.Question) != 1 {
		r.Rcode = dns.RcodeFormatError
		return r
	}
	qq := q.Question[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Authoritative = s.signed
	dnssecOK := s.signed && q.IsEdns0() != nil && q.IsEdns0().Do()
	name := strings.ToLower(qq.Name)
	if rc, ok := s.rcodes[name]; ok {
		r.Rcode = rc
		return r
	}
	rrs, ok := s.zone[name]
	if !ok {
		r.Rcode = dns.RcodeNameError
		return r
	}
	// Follow CNAMEs within the zone, as a recursive resolver would.
	for range 8 {
		var next string
		for _, rr := range rrs {
			if rr.Header().Rrtype == qq.Qtype || qq.Qtype == dns.TypeANY {
				r.Answer = append(r.Answer, rr)
			} else if cn, ok := rr.(*dns.CNAME); ok {
				r.Answer = append(r.Answer, rr)
				next = strings.ToLower(cn.Target)
			}
		}
		if dnssecOK {
			r.Answer = append(r.Answer, signatures(rrs, r.Answer)...)
		}
		if next == "" {
			break
		}
		rrs = s.zone[next]
	}
	return r
}

// signatures are the RRSIG records among rrs, the records at one name,
// that cover a type of that name in answer.
func signatures(rrs, answer []dns.RR) []dns.RR {
	var sigs []dns.RR
	for _, rr := range rrs {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		for _, a := range answer {
			if a.Header().Rrtype == sig.TypeCovered && strings.EqualFold(a.Header().Name, sig.Header().Name) {
				sigs = append(sigs, sig)
				break
			}
		}
	}
	return sigs
}

// ResolvConf returns resolv.conf contents naming the servers.
func ResolvConf(servers ...fmt.Stringer) string {
	var b strings.Builder
	for _, s := range servers {
		ap := netip.MustParseAddrPort(s.String())
		fmt.Fprintf(&b, "nameserver %s\n", ap.Addr())
	}
	return b.String()
}
