package probe

// Fuzzing the wire: any bytes a resolver or an HTTP server sends. No
// panic, a cause of the vocabulary, bounded time (and, when fuzzing,
// bounded memory), and a DNS reply accepted only when it answers the
// query asked.

import (
	"bufio"
	"context"
	"flag"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// vocabulary is every cause word.
var vocabulary = []Cause{
	CauseNoLink, CauseLinkDown, CauseNoCarrier, CauseNoAddress, CauseAddressTentative, CauseAddressDADFailed,
	CauseNoRoute, CauseGatewayUnreachable, CauseHostUnreachable, CauseNetlinkRefused, CauseRouteBlackhole,
	CauseRouteProhibited, CauseRouteUnreachable, CauseLocalFirewall, CauseRouterUnreachable, CauseRejected,
	CauseRoutingLoop, CauseMTUBlackhole, CauseNoResolver, CauseResolverUnreachable, CauseResolverRefused,
	CauseResolverDown, CauseResolverTimeout, CauseResolverServfail, CauseResolverError, CauseNXDomain,
	CauseNoRecords, CauseWrongAnswer, CauseResolverUpstream, CauseDNSSECFailed, CauseDNSBlocked,
	CausePortClosed, CauseFiltered, CauseReset, CauseTLSUntrusted, CauseTLSClock, CauseTLSExpired,
	CauseTLSNameMismatch, CauseTLSFailed, CauseHTTPStatus, CauseHTTPBody, CauseCaptivePortal,
	CauseProxyFailed, CauseICMPNotPermitted, CauseClockUnsynced, CauseResponseTooLarge, CauseTimeout, CauseOther,
}

// checkCause fails t unless r passes or fails with a cause of the
// vocabulary.
func checkCause(t *testing.T, r Result) {
	t.Helper()
	if r.OK {
		return
	}
	if r.Err == nil || !slices.Contains(vocabulary, r.Cause) {
		t.Fatalf("failure with cause %q (err %v), want one of the vocabulary", r.Cause, r.Err)
	}
}

// fuzzing reports whether the test binary runs a fuzz target (-test.fuzz):
// then its worker runs nothing else, and its allocations are the input's.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// allocated is how many bytes the process has allocated so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// FuzzHTTPResponse: whatever a server sends in answer to the HTTP probe's
// request — once, then closing; or over and over until the probe hangs
// up — the probe ends with a result (a cause of the vocabulary when it
// fails) within its timeout, and, when fuzzing, allocates a few MiB at
// most (net/http alone would read 10 MB of headers).
func FuzzHTTPResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: http://portal.example.net/\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><form action=x>",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
		"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 2000),
		"HTTP/1.0 500\r\n\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n",
		"\x16\x03\x01\x00\x05hello",
		"",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	var mu sync.Mutex
	var data []byte
	var repeat bool
	l := serve(f, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		mu.Lock()
		d, r := data, repeat
		mu.Unlock()
		for {
			if _, err := c.Write(d); err != nil || !r || len(d) == 0 {
				return
			}
		}
	})
	env := loopbackEnv(f, noResolvers, "")
	target := mustParse(f, "http://"+l.Addr().String()+"/?body=ok")
	f.Fuzz(func(t *testing.T, b []byte, rep bool) {
		mu.Lock()
		data, repeat = b, rep
		mu.Unlock()
		before := allocated()
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		r := Probe(ctx, env, target)
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the probe took %s, want it to end at its timeout (1s)", d)
		}
		checkCause(t, r)
		if a := allocated() - before; fuzzing() && a > 4<<20 {
			t.Errorf("the probe allocated %d bytes, want 4 MiB at most", a)
		}
	})
}

// FuzzDNSReply: whatever a resolver sends in reply to a real query (the
// bytes as they are, then with the query's id put in them; over TCP too,
// when a reply says it was truncated), the exchange accepts a reply only
// if it has the id of a query sent and the question asked, and is a
// response; and the probe ends within its timeout, passing or failing
// with a cause of the vocabulary. A well-formed answer follows the bytes,
// so that an input the client ignores costs no timeout.
func FuzzDNSReply(f *testing.F) {
	q := dns.Question{Name: "fuzz.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	good := new(dns.Msg)
	good.SetQuestion(q.Name, q.Qtype)
	reply := answer(good)
	for _, m := range []func(*dns.Msg){
		func(*dns.Msg) {},
		func(m *dns.Msg) { m.Truncated, m.Answer = true, nil },
		func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure },
		func(m *dns.Msg) { m.Question[0].Name = "other.test." },
		func(m *dns.Msg) { m.Response = false },
		func(m *dns.Msg) { m.Answer = append(m.Answer, m.Answer...) },
	} {
		r := reply.Copy()
		m(r)
		b, _ := r.Pack()
		f.Add(b)
	}
	f.Add([]byte{0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff})
	f.Add([]byte{})

	var (
		mu   sync.Mutex
		data []byte
		ids  = map[uint16]bool{}
	)
	patched := func(id uint16) []byte {
		mu.Lock()
		defer mu.Unlock()
		ids[id] = true
		b := slices.Clone(data)
		if len(b) >= 2 {
			b[0], b[1] = byte(id>>8), byte(id)
		}
		return b
	}
	raw := func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(data)
	}
	sentinel := func(qm *dns.Msg) []byte {
		r := new(dns.Msg)
		r.SetReply(qm)
		rr, _ := dns.NewRR(qm.Question[0].Name + " 60 IN A 10.213.0.99")
		r.Answer = []dns.RR{rr}
		b, _ := r.Pack()
		return b
	}
	addr := dnsServer(f, func(pc net.PacketConn, to net.Addr, qm *dns.Msg) {
		pc.WriteTo(raw(), to)
		pc.WriteTo(patched(qm.Id), to)
		pc.WriteTo(sentinel(qm), to)
	}, func(c net.Conn, qm *dns.Msg) {
		b := patched(qm.Id)
		c.Write(append([]byte{byte(len(b) >> 8), byte(len(b))}, b...))
	})
	server := netip.MustParseAddrPort(addr)
	env := loopbackEnv(f, noResolvers, "")
	target := mustParse(f, "dns://"+addr+"/fuzz.test")

	f.Fuzz(func(t *testing.T, b []byte) {
		mu.Lock()
		data, ids = b, map[uint16]bool{}
		mu.Unlock()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		r, _, err := exchange(ctx, sockets{}, server, q, time.Second, 1)
		if err == nil {
			mu.Lock()
			asked := ids[r.Id]
			mu.Unlock()
			if !asked || !r.Response || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.Name) ||
				r.Question[0].Qtype != q.Qtype || r.Question[0].Qclass != q.Qclass {
				t.Fatalf("accepted a reply with id %d (a query's: %v), response %v, question %v; want a response to %v with a query's id", r.Id, asked, r.Response, r.Question, q)
			}
		}
		res := Probe(ctx, env, target)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s, want the exchange and the probe to end within their timeout (1s)", d)
		}
		checkCause(t, res)
	})
}
