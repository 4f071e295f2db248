package probe

// Every read from the network is bounded: a server (or a proxy, or a
// resolver) that sends more than a bound allows fails the target with
// response-too-large, naming the bound, and what is under a bound passes.
// Each case sits on either side of its bound, so that the bound proven is
// the one named, not merely "some".

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rawHTTP serves every connection on 127.0.0.1 by reading the request's
// headers and then writing what respond writes, and returns host:port.
// seen gets the requests' headers, if not nil.
func rawHTTP(t testing.TB, seen chan<- http.Header, respond func(w *bufio.Writer) error) string {
	t.Helper()
	l := serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if seen != nil {
			select {
			case seen <- req.Header:
			default:
			}
		}
		w := bufio.NewWriter(c)
		if respond(w) == nil {
			w.Flush()
		}
	})
	return l.Addr().String()
}

// headerOf writes a header line "X-Fill-N: aaa..." until size bytes of
// header lines are written.
func headerOf(w *bufio.Writer, size int) error {
	line := 0
	for size > 0 {
		n := min(size, 1000)
		name := fmt.Sprintf("X-Fill-%d: ", line)
		if n < len(name)+3 {
			n = len(name) + 3
		}
		if _, err := fmt.Fprintf(w, "%s%s\r\n", name, strings.Repeat("a", n-len(name)-2)); err != nil {
			return err
		}
		size -= n
		line++
	}
	return nil
}

// endless writes chunk until the client hangs up.
func endless(w *bufio.Writer, chunk string) error {
	for {
		if _, err := w.WriteString(chunk); err != nil {
			return err
		}
	}
}

func TestHTTPBounds(t *testing.T) {
	t.Parallel()
	below := maxResponseHeader - 4<<10 // room for the status line and the rest
	// A gzip bomb: 64 members of a MiB of "z" each (a gzip stream may
	// have several), 64 MiB inflated from a few KiB.
	var member bytes.Buffer
	zw := gzip.NewWriter(&member)
	zw.Write(bytes.Repeat([]byte("z"), 1<<20))
	zw.Close()
	bomb := bytes.Repeat(member.Bytes(), 64)
	tests := []struct {
		name    string
		respond func(w *bufio.Writer) error
		query   string // after the URL
		want    want
	}{
		{
			name: "headers under the bound",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\n")
				headerOf(w, below)
				_, err := w.WriteString("Content-Length: 0\r\n\r\n")
				return err
			},
			want: want{ok: true, detail: "HTTP 200 OK"},
		},
		{
			name: "headers over the bound",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\n")
				headerOf(w, maxResponseHeader+4<<10)
				_, err := w.WriteString("Content-Length: 0\r\n\r\n")
				return err
			},
			want: want{err: []string{"response headers larger than 100 KiB, the most netready reads"}, cause: CauseResponseTooLarge, hint: "no sane answer is that large"},
		},
		{
			name: "20 MB of headers",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\n")
				return headerOf(w, 20<<20)
			},
			want: want{err: []string{"response headers larger than 100 KiB"}, cause: CauseResponseTooLarge},
		},
		{
			name: "endless header line",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\nX-Endless: ")
				return endless(w, strings.Repeat("b", 4096))
			},
			want: want{err: []string{"response headers larger than 100 KiB"}, cause: CauseResponseTooLarge},
		},
		{
			name: "as many informational responses as allowed",
			respond: func(w *bufio.Writer) error {
				w.WriteString(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", maxInformational))
				_, err := w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
				return err
			},
			want: want{ok: true, detail: "HTTP 204 No Content"},
		},
		{
			name: "one informational response too many",
			respond: func(w *bufio.Writer) error {
				w.WriteString(strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", maxInformational+1))
				_, err := w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
				return err
			},
			want: want{err: []string{"more than 5 informational responses (the last 100) before the response"}, cause: CauseResponseTooLarge},
		},
		{
			name: "a storm of 100 Continue",
			respond: func(w *bufio.Writer) error {
				return endless(w, "HTTP/1.1 100 Continue\r\n\r\n")
			},
			want: want{err: []string{"more than 5 informational responses"}, cause: CauseResponseTooLarge},
		},
		{
			name: "informational responses larger than the bound together",
			respond: func(w *bufio.Writer) error {
				for range 3 {
					w.WriteString("HTTP/1.1 103 Early Hints\r\n")
					headerOf(w, maxResponseHeader/2)
					w.WriteString("\r\n")
				}
				_, err := w.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
				return err
			},
			want: want{err: []string{"informational responses larger than 100 KiB"}, cause: CauseResponseTooLarge},
		},
		{
			// Only the first 64 KiB are read: a pattern beyond them
			// does not match, and the message says how much was read.
			name:  "endless body",
			query: "?body=beyond",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
				w.WriteString(strings.Repeat("x", maxBody))
				return endless(w, "beyond")
			},
			want: want{err: []string{"the body (65536 bytes) does not match \"beyond\""}, cause: CauseHTTPBody},
		},
		{
			name: "endless body, no body=",
			respond: func(w *bufio.Writer) error {
				w.WriteString("HTTP/1.1 200 OK\r\n\r\n")
				return endless(w, strings.Repeat("x", 4096))
			},
			want: want{ok: true, detail: "HTTP 200 OK"},
		},
		{
			// A body compressed though nobody asked is never
			// inflated: body= sees the compressed bytes.
			name:  "gzip bomb",
			query: "?body=zzzz",
			respond: func(w *bufio.Writer) error {
				fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(bomb))
				_, err := w.Write(bomb)
				return err
			},
			want: want{err: []string{"does not match \"zzzz\""}, cause: CauseHTTPBody},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan http.Header, 1)
			addr := rawHTTP(t, seen, tc.respond)
			start := time.Now()
			r := probeWithin(t, loopbackEnv(t, noResolvers, ""), "http://"+addr+"/"+tc.query, 10*time.Second)
			tc.want.check(t, r)
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %s: the bound, not the probe timeout (10s), should end it", d)
			}
			select {
			case h := <-seen:
				if ae := h.Get("Accept-Encoding"); ae != "" {
					t.Errorf("request had Accept-Encoding %q, want none: compression is never asked for", ae)
				}
			default:
				t.Errorf("the server saw no request")
			}
		})
	}
}

// TestHTTPBoundsProxy: a proxy that answers CONNECT with endless headers
// fails the target at maxResponseHeader, naming the proxy.
func TestHTTPBoundsProxy(t *testing.T) {
	t.Parallel()
	proxy := rawHTTP(t, nil, func(w *bufio.Writer) error {
		w.WriteString("HTTP/1.1 200 Connection established\r\n")
		return headerOf(w, 20<<20)
	})
	r := probeWithin(t, loopbackEnv(t, noResolvers, ""), "https://web.test/?proxy=http://"+proxy, 10*time.Second)
	want{
		err:   []string{"proxy http://" + proxy + ": its answer to CONNECT is larger than 100 KiB"},
		cause: CauseResponseTooLarge,
	}.check(t, r)
	if f := FailureOf(r.Err); f.Hop != proxy || f.Phase != "proxy" {
		t.Errorf("hop %q, phase %q: want %q, proxy", f.Hop, f.Phase, proxy)
	}
}

// TestHTTPBoundsHTTP2: a server that offers HTTP/2 is asked over
// HTTP/1.1, where every bound above holds (net/http reports HTTP/2's own
// header bound as a bare PROTOCOL_ERROR): its headers over the bound fail
// with response-too-large, under it they pass, an endless body is cut at
// maxBody.
func TestHTTPBoundsHTTP2(t *testing.T) {
	t.Parallel()
	var proto atomic.Value
	mux := http.NewServeMux()
	fill := func(w http.ResponseWriter, size int) {
		for i := 0; size > 0; i++ {
			v := fmt.Sprintf("%d-%s", i, strings.Repeat("h", 990))
			w.Header().Set(fmt.Sprintf("X-Fill-%d", i), v)
			size -= len(v) + 14
		}
	}
	mux.HandleFunc("/under", func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		fill(w, maxResponseHeader-8<<10)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/over", func(w http.ResponseWriter, r *http.Request) {
		fill(w, 2*maxResponseHeader)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 16<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	s := httptest.NewUnstartedServer(mux)
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	if !slices.Contains(s.TLS.NextProtos, "h2") {
		t.Fatalf("the server offers %q, want h2 among them: the premise of this test", s.TLS.NextProtos)
	}
	env := loopbackEnv(t, noResolvers, "")
	env.RootCAs = s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	base := "https://" + s.Listener.Addr().String()

	want{ok: true}.check(t, probeWithin(t, env, base+"/under", 10*time.Second))
	if p, _ := proto.Load().(string); p != "HTTP/1.1" {
		t.Errorf("the server saw %q, want HTTP/1.1", p)
	}
	want{err: []string{"response headers larger than 100 KiB"}, cause: CauseResponseTooLarge}.check(t, probeWithin(t, env, base+"/over", 10*time.Second))
	want{err: []string{"the body (65536 bytes) does not match"}, cause: CauseHTTPBody}.check(t, probeWithin(t, env, base+"/endless?body=y", 10*time.Second))
}

// dnsServer answers queries over UDP on 127.0.0.1 with what udp sends for
// each (q, the query as received), and serves TCP on the same port with
// tcp; either may be nil. It returns host:port.
func dnsServer(t testing.TB, udp func(pc net.PacketConn, to net.Addr, q *dns.Msg), tcp func(c net.Conn, q *dns.Msg)) string {
	t.Helper()
	// The UDP port the kernel picks may be taken for TCP: try another.
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("no port free for both udp and tcp on 127.0.0.1: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) == nil && udp != nil {
				go udp(pc, from, q)
			}
		}
	}()
	serveOn(t, l, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		q, err := (&dns.Conn{Conn: c}).ReadMsg()
		if err == nil && tcp != nil {
			tcp(c, q)
		}
	})
	return pc.LocalAddr().String()
}

// answer is the reply to q with one A record, 10.213.0.7.
func answer(q *dns.Msg) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 10.213.0.7")
	r.Answer = []dns.RR{rr}
	return r
}

// send packs m and sends it to to.
func send(pc net.PacketConn, to net.Addr, m *dns.Msg) {
	b, _ := m.Pack()
	pc.WriteTo(b, to)
}

// wrongIDs sends n replies to q with another id, paced so that none is
// lost to the client's receive buffer.
func wrongIDs(pc net.PacketConn, to net.Addr, q *dns.Msg, n int) {
	r := answer(q)
	r.Id = q.Id + 1
	for i := range n {
		send(pc, to, r)
		if i%8 == 7 {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestDNSBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		udp     func(pc net.PacketConn, to net.Addr, q *dns.Msg)
		tcp     func(c net.Conn, q *dns.Msg)
		timeout time.Duration
		want    want
		within  time.Duration // the probe ends that soon
	}{
		{
			name: "as many replies as allowed, the last the answer",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				wrongIDs(pc, to, q, maxReplies-1)
				send(pc, to, answer(q))
			},
			want:   want{ok: true, detail: "1 A record (10.213.0.7)"},
			within: 2 * time.Second,
		},
		{
			name: "one reply too many",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				wrongIDs(pc, to, q, maxReplies)
				send(pc, to, answer(q))
			},
			want: want{
				err:   []string{"ignored 64 replies with a wrong id, none the answer: netready examines 64 per query at most"},
				cause: CauseResponseTooLarge,
			},
			within: 2 * time.Second,
		},
		{
			name: "a flood of garbage",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				for i := range 2000 {
					pc.WriteTo([]byte{byte(q.Id >> 8), byte(q.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff}, to)
					if i%8 == 7 {
						time.Sleep(time.Millisecond)
					}
				}
			},
			want:   want{err: []string{"ignored 64 malformed replies, none the answer"}, cause: CauseResponseTooLarge},
			within: 2 * time.Second,
		},
		{
			// A truncated answer over UDP, then over TCP the answer
			// in a message of the largest length followed by an
			// endless stream: one message is read, the answer.
			name: "endless stream over tcp",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				r := answer(q)
				r.Answer, r.Truncated = nil, true
				send(pc, to, r)
			},
			tcp: func(c net.Conn, q *dns.Msg) {
				r, _ := answer(q).Pack()
				c.Write([]byte{0xff, 0xff})
				c.Write(r)
				junk := bytes.Repeat([]byte{0xff}, 4096)
				for {
					if _, err := c.Write(junk); err != nil {
						return
					}
				}
			},
			want:   want{ok: true, detail: "answered 1 A record (10.213.0.7) over tcp"},
			within: 2 * time.Second,
		},
		{
			name: "a reply trickling over tcp",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				r := answer(q)
				r.Answer, r.Truncated = nil, true
				send(pc, to, r)
			},
			tcp: func(c net.Conn, q *dns.Msg) {
				r, _ := answer(q).Pack()
				c.Write([]byte{byte(len(r) >> 8), byte(len(r))})
				for _, b := range r {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			},
			timeout: 8 * time.Second,
			want:    want{err: []string{"reply over tcp: ", "bytes after 5s, the most netready waits for one"}, cause: CauseResponseTooLarge},
			within:  7 * time.Second,
		},
		{
			name: "silence over tcp",
			udp: func(pc net.PacketConn, to net.Addr, q *dns.Msg) {
				r := answer(q)
				r.Answer, r.Truncated = nil, true
				send(pc, to, r)
			},
			tcp: func(c net.Conn, q *dns.Msg) {
				io.Copy(io.Discard, c)
			},
			timeout: 8 * time.Second,
			want:    want{err: []string{"i/o timeout"}, cause: CauseResolverTimeout},
			within:  7 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := dnsServer(t, tc.udp, tc.tcp)
			start := time.Now()
			r := probeWithin(t, loopbackEnv(t, noResolvers, ""), "dns://"+addr+"/ready.test", cmp.Or(tc.timeout, 5*time.Second))
			tc.want.check(t, r)
			if d := time.Since(start); d > tc.within {
				t.Errorf("took %s, want the bound to end it within %s", d, tc.within)
			}
		})
	}
}

// BenchmarkHTTPHostile: one probe of a server that sends endless headers,
// an endless body, or an endless storm of 100 Continue (the server itself
// allocates nothing per byte); B/op is what the bounds leave of it
// (net/http alone would read 10 MB of headers).
func BenchmarkHTTPHostile(b *testing.B) {
	for _, bc := range []struct {
		name    string
		respond func(w *bufio.Writer) error
	}{
		{"endless-headers", func(w *bufio.Writer) error {
			w.WriteString("HTTP/1.1 200 OK\r\n")
			return endless(w, "X-Fill: "+strings.Repeat("a", 4000)+"\r\n")
		}},
		{"endless-body", func(w *bufio.Writer) error {
			w.WriteString("HTTP/1.1 200 OK\r\n\r\n")
			return endless(w, strings.Repeat("x", 4096))
		}},
		{"100-continue-storm", func(w *bufio.Writer) error {
			return endless(w, "HTTP/1.1 100 Continue\r\n\r\n")
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := rawHTTP(b, nil, bc.respond)
			env := loopbackEnv(b, noResolvers, "")
			target := mustParse(b, "http://"+addr+"/")
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
				Probe(ctx, env, target)
				cancel()
			}
		})
	}
}

// TestBoundsDocumented: the man page's sections of the kinds and README
// give the bounds as the constants set them.
func TestBoundsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, c := range []struct{ where, text, want string }{
		{"http's man text", httpKind.Man, fmt.Sprintf("Headers over %d KiB", maxResponseHeader>>10)},
		{"http's man text", httpKind.Man, "more than five informational responses"},
		{"http's man text", httpKind.Man, "first 64 KiB match"},
		{"dns's man text", dnsKind.Man, fmt.Sprintf("ignored, %d at most per query", maxReplies)},
		{"dns's man text", dnsKind.Man, fmt.Sprintf("whole within %d s of connecting", int(tcpReplyTime.Seconds()))},
		{"icmp's man text", icmpKind.Man, fmt.Sprintf("again every %d ms", icmpInterval.Milliseconds())},
		{"icmp's man text", icmpKind.Man, fmt.Sprintf("more than %d ICMP messages", maxEchoExamined)},
		{"README", string(readme), fmt.Sprintf("headers take %d KiB at most", maxResponseHeader>>10)},
		{"README", string(readme), "five informational (1xx) responses"},
		{"README", string(readme), fmt.Sprintf("a body is read to %d KiB", maxBody>>10)},
		{"README", string(readme), fmt.Sprintf("A DNS query examines %d datagrams", maxReplies)},
		{"README", string(readme), fmt.Sprintf("whole within %s of connecting", strings.TrimSuffix(tcpReplyTime.String(), "s")+" s")},
		{"README", string(readme), fmt.Sprintf("reads %d messages at most", maxEchoExamined)},
		{"README", string(readme), fmt.Sprintf("one every %d ms", icmpInterval.Milliseconds())},
	} {
		if !strings.Contains(flat(c.text), c.want) {
			t.Errorf("%s does not say %q", c.where, c.want)
		}
	}
	if maxInformational != 5 || maxDNSMessage != 64<<10-1 {
		t.Errorf("maxInformational %d, maxDNSMessage %d: the documents say five and 64 KiB", maxInformational, maxDNSMessage)
	}
}
