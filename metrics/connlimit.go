package metrics

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// connLimit is a listener that keeps at most max of its connections open.
// A connection over the limit takes the place of the one that has waited
// longest for a request (one that has not sent its request headers whole,
// or an idle keep-alive), which is closed; when every one is in a request
// or has one waiting, the new one is closed at once. A queue, as
// x/net/netutil's LimitListener keeps, would let clients that never finish
// a request hold every place for the read-header timeout while scrapes
// wait behind them.
//
// A request has arrived whole when its headers' blank line has been read
// by the server or waits in the socket's receive queue (looked at with
// MSG_PEEK): a scrape whose request came at once keeps its place however
// many connections arrive before the server reads it. Over TLS the bytes
// are sealed, and only the server's state counts.
//
// Its track method must be the http.Server's ConnState, which tells it
// when a request starts and ends and when a connection closes.
type connLimit struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[*limitedConn]*connState // open and not evicted
	peek  [4096]byte                  // for whole, under mu
}

type connState struct {
	busy  bool      // a request is being served
	since time.Time // when it last began waiting for a request
}

// limitedConn is a connection connLimit admitted. Its Read notes the end of
// a request's headers (a blank line) in the bytes the server reads.
type limitedConn struct {
	net.Conn
	last   atomic.Uint32 // the last four bytes read, the newest lowest
	headed atomic.Bool   // a blank line read since the last request began
}

// crlfcrlf is "\r\n\r\n" as limitedConn.last holds it.
const crlfcrlf = 0x0d0a0d0a

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	last := c.last.Load()
	for _, b := range p[:n] {
		last = last<<8 | uint32(b)
		if last == crlfcrlf {
			c.headed.Store(true)
		}
	}
	c.last.Store(last)
	return n, err
}

// CloseWrite shuts down the writing side, as net/http asks of a TCP
// connection before it closes one on an error.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func newConnLimit(l net.Listener, max int) *connLimit {
	return &connLimit{Listener: l, max: max, conns: make(map[*limitedConn]*connState)}
}

// Accept returns the next connection it admits.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c}
		if l.admit(lc) {
			return lc, nil
		}
		c.Close()
	}
}

// admit makes room for c, evicting a waiting connection if it must, and
// reports whether it did.
func (l *connLimit) admit(c *limitedConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		type waiting struct {
			c     *limitedConn
			since time.Time
		}
		var ws []waiting
		for oc, s := range l.conns {
			if !s.busy {
				ws = append(ws, waiting{oc, s.since})
			}
		}
		slices.SortFunc(ws, func(a, b waiting) int { return a.since.Compare(b.since) })
		i := slices.IndexFunc(ws, func(w waiting) bool { return !l.whole(w.c) })
		if i < 0 {
			return false
		}
		delete(l.conns, ws[i].c)
		ws[i].c.Close() // its server goroutine sees the error and ends
	}
	l.conns[c] = &connState{since: time.Now()}
	return true
}

// whole reports whether c has a request's headers whole, read by the
// server or waiting in its receive queue. Called with mu held.
func (l *connLimit) whole(c *limitedConn) bool {
	if c.headed.Load() {
		return true
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// The last bytes the server read, then what waits unread.
	buf := l.peek[:]
	last := c.last.Load()
	buf[0], buf[1], buf[2] = byte(last>>16), byte(last>>8), byte(last)
	n := 0
	// Control, not Read: a server goroutine blocked reading c holds its
	// read lock.
	cerr := rc.Control(func(fd uintptr) {
		n, _, err = syscall.Recvfrom(int(fd), buf[3:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	if cerr != nil || err != nil || n <= 0 {
		return false
	}
	return bytes.Contains(buf[:3+n], []byte("\r\n\r\n"))
}

// track is the server's ConnState hook.
func (l *connLimit) track(nc net.Conn, state http.ConnState) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.conns[c]
	if !ok {
		return // evicted, or refused
	}
	switch state {
	case http.StateActive:
		s.busy = true
		c.headed.Store(false) // the next request's blank line is to come
	case http.StateIdle:
		s.busy, s.since = false, time.Now()
		// A blank line in a body read since (the server discards what a
		// handler left) is no request.
		c.headed.Store(false)
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	}
}

// open is how many connections are open and not evicted.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
