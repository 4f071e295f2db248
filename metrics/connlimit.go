package metrics

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimit is a listener that keeps at most max of its connections open.
// A connection over the limit takes the place of the one that has waited
// longest without a request in progress (one whose request has not arrived
// whole, or an idle keep-alive), which is closed; when every one is in a
// request, the new one is closed at once. A queue, as x/net/netutil's
// LimitListener keeps, would let clients that never finish a request hold
// every place for the read-header timeout while scrapes wait behind them.
//
// Its track method must be the http.Server's ConnState, which tells it
// when a request starts and ends and when a connection closes.
type connLimit struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[net.Conn]*connState // open and not evicted
}

type connState struct {
	busy  bool      // a request is being served
	since time.Time // when it last began waiting for a request
}

func newConnLimit(l net.Listener, max int) *connLimit {
	return &connLimit{Listener: l, max: max, conns: make(map[net.Conn]*connState)}
}

// Accept returns the next connection it admits.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit(c) {
			return c, nil
		}
		c.Close()
	}
}

// admit makes room for c, evicting a waiting connection if it must, and
// reports whether it did.
func (l *connLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var (
			oldest net.Conn
			since  time.Time
		)
		for oc, s := range l.conns {
			if !s.busy && (oldest == nil || s.since.Before(since)) {
				oldest, since = oc, s.since
			}
		}
		if oldest == nil {
			return false
		}
		delete(l.conns, oldest)
		oldest.Close() // its server goroutine sees the error and ends
	}
	l.conns[c] = &connState{since: time.Now()}
	return true
}

// track is the server's ConnState hook.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
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
	case http.StateIdle:
		s.busy, s.since = false, time.Now()
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
