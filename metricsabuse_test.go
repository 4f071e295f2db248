package main

// watch --metrics-listen under abuse: slow clients and a scrape flood at
// once never delay a transition, never hold more connections than the
// server's limit, and a normal scrape is still answered.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

// metricsMaxConns is the metrics server's connection limit (metrics.maxConns).
const metricsMaxConns = 64

// openFDs counts the open file descriptors of process pid; -1 if it
// cannot (the process is gone).
func openFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// scrapeAtOnce gets /metrics from addr on a connection of its own, writing
// the request whole as soon as it is connected; its status is 0 if there
// is no response.
func scrapeAtOnce(dial func(context.Context, string, string) (net.Conn, error), addr string) (int, string) {
	c, err := dial(context.Background(), "tcp", addr)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err.Error()
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return statusBody(http.ReadResponse(bufio.NewReader(c), nil))
}

// TestIntegrationMetricsAbuse: 500 slowloris clients (each sends the start
// of a request and a header line every half second, and connects again as
// soon as it is dropped) and 16 clients scraping /metrics and /ready as
// fast as they are answered, all at once against watch --metrics-listen.
// Meanwhile route breaks and repairs are reported as fast as without them
// (within 2s; the figures are logged), netready's open files stay under
// its connection limit (and reach it: the premise), and a scrape on a
// connection of its own, its request sent whole at once as Prometheus
// sends it, is answered each second: the server never closes a connection
// whose request has arrived whole to make room (see metrics.connLimit).
// Once the clients are gone, the files return to what they were.
func TestIntegrationMetricsAbuse(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	p := startNetready(t, l.client, nil, "watch", "--json", "--metrics-listen", metricsAddr, "route:default4")
	pid := p.cmd.Process.Pid
	dial := l.client.HTTPClient().Transport.(*http.Transport).DialContext
	poll(t, "the first transition", 5*time.Millisecond, func() bool { return len(transitions(t, p)) == 1 })

	// flap deletes the default route and adds it back, and returns how
	// long netready took to print each transition.
	flap := func() (broken, repaired time.Duration) {
		t.Helper()
		n := len(transitions(t, p))
		start := time.Now()
		l.client.IP(t, "route", "del", "default")
		poll(t, "not ready", 5*time.Millisecond, func() bool { return len(transitions(t, p)) == n+1 })
		broken = time.Since(start)
		start = time.Now()
		l.client.IP(t, "route", "add", "default", "via", serverIP4)
		poll(t, "ready", 5*time.Millisecond, func() bool { return len(transitions(t, p)) == n+2 })
		return broken, time.Since(start)
	}
	var usual []string
	for range 2 {
		b, r := flap()
		usual = append(usual, fmt.Sprintf("%s/%s", b.Round(time.Millisecond), r.Round(time.Millisecond)))
	}
	baseline := openFDs(pid)

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg                 sync.WaitGroup
		slowConns, scrapes atomic.Int64
		scrapeErrs         atomic.Int64
	)
	for range 500 {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := dial(ctx, "tcp", metricsAddr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				slowConns.Add(1)
				stopClose := context.AfterFunc(ctx, func() { c.Close() })
				_, err = io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: "+metricsAddr+"\r\n")
				for err == nil && ctx.Err() == nil {
					time.Sleep(500 * time.Millisecond)
					_, err = io.WriteString(c, "X-Slow: 1\r\n")
				}
				stopClose()
				c.Close()
			}
		})
	}
	for i := range 16 {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial}}
			defer c.CloseIdleConnections()
			path := []string{"/metrics", "/ready"}[i%2]
			for ctx.Err() == nil {
				code, _ := get(c, "http://"+metricsAddr+path)
				switch {
				case code == 200 || code == 503:
					scrapes.Add(1)
				case ctx.Err() == nil:
					scrapeErrs.Add(1)
				}
			}
		})
	}
	maxFDs := baseline
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			maxFDs = max(maxFDs, openFDs(pid))
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// The attack under way: its connections fill the server's places.
	poll(t, "the slow clients holding the connection limit", 5*time.Millisecond, func() bool {
		return openFDs(pid) >= baseline+metricsMaxConns-4
	})
	var (
		during, normal []string
		answered       int
	)
	for i := range 3 {
		b, r := flap()
		during = append(during, fmt.Sprintf("%s/%s", b.Round(time.Millisecond), r.Round(time.Millisecond)))
		if b > 2*time.Second || r > 2*time.Second {
			t.Errorf("flap %d under attack: transitions after %s and %s, want each within 2s (without the attack: %s)", i, b, r, usual)
		}
		start := time.Now()
		code, body := scrapeAtOnce(dial, metricsAddr)
		normal = append(normal, fmt.Sprintf("%d in %s", code, time.Since(start).Round(time.Millisecond)))
		if code == 200 && strings.Contains(body, "\nnetready_ready 1\n") {
			answered++
		} else if code != 503 {
			t.Errorf("a normal scrape under attack: got %d %.200q, want 200 (or 503 from the in-flight limit)", code, body)
		}
		time.Sleep(time.Second)
	}
	if answered == 0 {
		t.Errorf("no normal scrape answered with the metrics under attack: %s", normal)
	}
	stop()
	wg.Wait()
	<-sampled
	t.Logf("route break/repair to transition: %s without the attack, %s under it; normal scrapes: %s", usual, during, normal)
	t.Logf("open files: %d before, %d at most during (limit %d connections); slow connections made: %d; flood scrapes answered: %d, failed: %d",
		baseline, maxFDs, metricsMaxConns, slowConns.Load(), scrapes.Load(), scrapeErrs.Load())
	if maxFDs > baseline+metricsMaxConns+8 {
		t.Errorf("open files: got %d at most, want at most %d (%d before, %d connections, a few closing)", maxFDs, baseline+metricsMaxConns+8, baseline, metricsMaxConns)
	}
	if slowConns.Load() <= 500 {
		t.Errorf("slow connections made: %d, want more than 500: the server drops them to make room", slowConns.Load())
	}
	poll(t, "the open files back to before", 5*time.Millisecond, func() bool { return openFDs(pid) <= baseline+2 })
	if code, body := get(l.client.HTTPClient(), "http://"+metricsAddr+"/metrics"); code != 200 || !strings.Contains(body, "\nnetready_ready 1\n") {
		t.Errorf("a scrape after the attack: got %d %.200q, want 200 ready", code, body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
}
