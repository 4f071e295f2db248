package dnstest

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ForgeLead is how long a Spoofer waits between sending its forged replies
// and its own reply, so that the forged ones reach the client first.
const ForgeLead = 50 * time.Millisecond

// Spoofer is a DNS server over UDP that has accomplices: for every query,
// each forger (a UDP socket bound to another address, or to another port of
// the server's address) first sends the client a reply with the query's id
// and question, to the very address and port the query came from; then,
// ForgeLead later, the Spoofer answers from its own socket, or stays silent.
// A client that reads replies on a socket connected to the server's address
// and port never sees the forged ones: the kernel drops them.
type Spoofer struct {
	// Addr is the address the Spoofer's own socket listens on.
	Addr netip.AddrPort

	zone          *Server // answers; its sockets are not used
	forgers       []net.PacketConn
	forged, truth Behavior
	queries, sent atomic.Int64
}

// Spoof serves on pc, which the caller made (in a network namespace, say),
// with forgers sending replies that say what forged says (Answer: the zone's
// answer, NXDomain, ServFail or Refused), and then its own reply saying what
// truth says (Answer, an rcode, or Silent for none). It stops when the test
// ends.
func Spoof(t testing.TB, pc net.PacketConn, forgers []net.PacketConn, forged, truth Behavior, zone ...string) *Spoofer {
	t.Helper()
	z := &Server{zone: map[string][]dns.RR{}}
	z.AddRecords(t, zone...)
	s := &Spoofer{
		Addr:    netip.MustParseAddrPort(pc.LocalAddr().String()),
		zone:    z,
		forgers: forgers,
		forged:  forged,
		truth:   truth,
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

// Queries returns how many queries arrived.
func (s *Spoofer) Queries() int64 { return s.queries.Load() }

// Forged returns how many forged replies were sent.
func (s *Spoofer) Forged() int64 { return s.sent.Load() }

// String is the Spoofer's address, for resolv.conf or a dns:// target.
func (s *Spoofer) String() string { return s.Addr.String() }

// ServeDNS implements dns.Handler.
func (s *Spoofer) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	s.queries.Add(1)
	if b, err := s.zone.reply(q, s.forged).Pack(); err == nil {
		for _, f := range s.forgers {
			if _, err := f.WriteTo(b, w.RemoteAddr()); err == nil {
				s.sent.Add(1)
			}
		}
	}
	time.Sleep(ForgeLead)
	if s.truth == Silent {
		return
	}
	w.WriteMsg(s.zone.reply(q, s.truth))
}
