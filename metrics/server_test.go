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
