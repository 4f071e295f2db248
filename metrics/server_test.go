package metrics

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serveTest serves a handler that answers "ok" on 127.0.0.1 through Serve
// and returns its address; block, if not nil, holds each request of
// /block until it is closed, counting them in blocked.
func serveTest(t *testing.T, block chan struct{}, blocked *atomic.Int32) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/block", func(w http.ResponseWriter, _ *http.Request) {
		blocked.Add(1)
		<-block
	})
	stop := Serve(ln, mux, "", slog.New(slog.DiscardHandler))
	t.Cleanup(stop)
	return ln.Addr().String()
}

// partial opens a connection to addr and sends the start of a request,
// never its end: a slow client.
func partial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// closed reports whether the server has closed c (within 2s).
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// get does one GET of path on a connection of its own (a minute at
// most: the machine may be loaded).
func get(addr, path string) (int, string, error) {
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestServeConnLimit: with maxConns slow clients holding every place, a
// scrape takes the place of the one that waited longest, and is
// answered; connections in the middle of a request keep theirs, and once
// every place is in a request, a new connection is closed at once.
func TestServeConnLimit(t *testing.T) {
	block := make(chan struct{})
	var blocked atomic.Int32
	addr := serveTest(t, block, &blocked)
	slow := make([]net.Conn, maxConns)
	for i := range slow {
		slow[i] = partial(t, addr)
		time.Sleep(time.Millisecond) // an order of arrival
	}
	if code, body, err := get(addr, "/"); code != 200 || body != "ok" {
		t.Fatalf("a scrape beside %d slow clients: got %d %q %v, want 200 ok", maxConns, code, body, err)
	}
	if !closed(slow[0]) {
		t.Errorf("the slow client that came first is still connected, want it closed to make room")
	}
	// The others wait on (within readHeaderTimeout of their start: the
	// last has most of it left).
	last := slow[maxConns-1]
	last.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := last.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the last slow client: got %v, want it still connected", err)
	}

	// Every place in a request: /block holds them.
	for _, c := range slow {
		c.Close()
	}
	busy := make(chan error, maxConns)
	for range maxConns {
		go func() {
			_, _, err := get(addr, "/block")
			busy <- err
		}()
	}
	// The test's own premise, on a machine that may be loaded: 30s.
	deadline := time.Now().Add(30 * time.Second)
	for blocked.Load() < maxConns {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests in progress after 30s", blocked.Load(), maxConns)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil || isTimeout(err) {
		t.Errorf("a connection beside %d requests in progress: got %v %v, want it closed at once", maxConns, resp, err)
	}
	c.Close()
	close(block)
	for range maxConns {
		if err := <-busy; err != nil {
			t.Errorf("a request in progress: %v, want it answered", err)
		}
	}
}

// TestServeLimits: request headers over maxHeaderBytes are refused (431),
// and a client that does not finish its request headers is closed after
// readHeaderTimeout.
func TestServeLimits(t *testing.T) {
	addr := serveTest(t, nil, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", maxHeaderBytes+8<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers of %d KiB: got %v %v, want 431", (maxHeaderBytes+8<<10)>>10, resp, err)
	}

	slow := partial(t, addr)
	start := time.Now()
	slow.SetReadDeadline(time.Now().Add(readHeaderTimeout + 5*time.Second))
	_, err = slow.Read(make([]byte, 1))
	if took := time.Since(start); err == nil || isTimeout(err) || took < readHeaderTimeout-time.Second {
		t.Errorf("a request never finished: got %v after %s, want the connection closed after %s", err, took, readHeaderTimeout)
	}
}

// queued is how many bytes wait unread in the receive queue of c, the
// server's end of a connection (SIOCINQ).
func queued(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*limitedConn).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConnLimitWholeRequests: a connection whose request has arrived whole
// keeps its place while the server has not yet read it (it waits in the
// receive queue) and after it has read it, before the request begins; the
// slow ones are closed in its stead, oldest first; with none left to
// close, the new connection is.
func TestConnLimitWholeRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lim := newConnLimit(ln, 3)
	// conn dials, sends what, and returns the client's and the server's
	// ends once the server's receive queue holds all of it.
	conn := func(what string) (client, server net.Conn) {
		t.Helper()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		if _, err := io.WriteString(client, what); err != nil {
			t.Fatal(err)
		}
		ch := make(chan net.Conn, 1)
		go func() {
			c, err := lim.Accept()
			if err != nil {
				c = nil
			}
			ch <- c
		}()
		select {
		case server = <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: not admitted within 5s", what)
		}
		if server == nil {
			t.Fatalf("%q: Accept failed", what)
		}
		deadline := time.Now().Add(5 * time.Second)
		for queued(t, server) < len(what) {
			if time.Now().After(deadline) {
				t.Fatalf("%q: %d bytes queued after 5s, want %d", what, queued(t, server), len(what))
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Millisecond) // an order of arrival
		return client, server
	}
	const whole, start = "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n"
	wholeC, wholeS := conn(whole)
	slow1, _ := conn(start)
	slow2, _ := conn(start)

	conn(start)
	if !closed(slow1) {
		t.Errorf("the oldest slow connection is open, want it closed for the new one")
	}
	// The server reads the request whole; it has not begun (no StateActive).
	if _, err := wholeS.Read(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	conn(start)
	if !closed(slow2) {
		t.Errorf("the second slow connection is open, want it closed for the next one")
	}
	wholeC.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := wholeC.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the connection with a whole request: %v, want it open", err)
	}
	if n := lim.open(); n != 3 {
		t.Errorf("open connections: %d, want 3", n)
	}
}

// TestConnLimitSplitBlankLine: a request whose blank line is split, its
// first bytes read by the server and the last waiting in the queue, has
// arrived whole; once every place holds a whole request, a new connection
// is closed at once.
func TestConnLimitSplitBlankLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lim := newConnLimit(ln, 1)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := lim.Accept()
	if err != nil {
		t.Fatal(err)
	}
	const first = "GET / HTTP/1.1\r\nHost: x\r\n\r"
	io.WriteString(client, first)
	buf := make([]byte, 64)
	n := 0
	for n < len(first) {
		m, err := server.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	io.WriteString(client, "\n")
	deadline := time.Now().Add(5 * time.Second)
	for queued(t, server) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the last byte not queued after 5s")
		}
		time.Sleep(time.Millisecond)
	}
	lim.mu.Lock()
	got := lim.whole(server.(*limitedConn))
	lim.mu.Unlock()
	if !got {
		t.Fatalf("a request with \"\\r\\n\\r\" read and \"\\n\" queued: not whole, want whole")
	}

	other, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	accepted := make(chan struct{})
	go func() {
		lim.Accept() // returns once the listener closes: nothing admitted
		close(accepted)
	}()
	if !closed(other) {
		t.Errorf("a new connection beside one whole request (limit 1): open, want it closed at once")
	}
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := client.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the connection with a whole request: %v, want it open", err)
	}
	ln.Close()
	<-accepted
}
