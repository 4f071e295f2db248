package main

// --settle: ready only once the network has kept still.

import (
	"testing"
	"time"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// flapper takes a link down and up again every period, through a netlink
// handle in its namespace (an "ip" command per change would take longer
// than the period), until stopped.
type flapper struct {
	stop   chan struct{}
	done   chan struct{}
	lastUp time.Time // when the link was last set up (the call began)
	flaps  int
	// maxUp is the longest the link stayed up at once: the premise of a
	// test that it never settles is that this stays well below --settle.
	maxUp time.Duration
	err   error
}

func flap(t *testing.T, ns *netnstest.NS, dev string, period time.Duration) *flapper {
	t.Helper()
	h := ns.Handle(t)
	link, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	f := &flapper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tick := time.NewTicker(period / 2)
		defer tick.Stop()
		for {
			if f.err = h.LinkSetDown(link); f.err != nil {
				return
			}
			<-tick.C
			f.lastUp = time.Now()
			if f.err = h.LinkSetUp(link); f.err != nil {
				return
			}
			f.flaps++
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
			f.maxUp = max(f.maxUp, time.Since(f.lastUp))
		}
	}()
	return f
}

// end stops the flapping, with the link left up.
func (f *flapper) end(t *testing.T) {
	t.Helper()
	select {
	case <-f.done:
	default:
		close(f.stop)
		<-f.done
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
}

// TestIntegrationSettleFlapping: a link that goes down and up every 20ms, far faster
// than --settle, never makes wait ready; once it stays up, it does, but
// not before it has stayed up for --settle.
func TestIntegrationSettleFlapping(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	const settle = time.Second
	t.Run("flapping until the timeout", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		f := flap(t, l.client, "veth0", 20*time.Millisecond)
		defer f.end(t)
		p := startNetready(t, l.client, nil, "wait", "--json", "-v", "--settle", "1s", "--timeout", "3s", "link:veth0")
		code := p.wait(t)
		f.end(t)
		t.Logf("%d flaps, up %s at most at once; %s", f.flaps, f.maxUp, waitOverLine(p))
		if f.maxUp >= settle/2 {
			t.Fatalf("the premise does not hold: the link stayed up %s at once, too close to --settle %s for flapping to explain not ready", f.maxUp, settle)
		}
		if code != 1 {
			t.Fatalf("exit code: got %d, want 1 (never ready while the link flaps)\n%s", code, p)
		}
		if d := p.doc(t); d.Ready {
			t.Errorf("JSON says ready\n%s", p)
		}
		if ev := waitOverInt(t, p, "events"); ev < 2 {
			t.Errorf("got %d change events from %d flaps, want many", ev, f.flaps)
		}
	})
	t.Run("flapping, then stable", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		f := flap(t, l.client, "veth0", 20*time.Millisecond)
		defer f.end(t)
		p := startNetready(t, l.client, nil, "wait", "--json", "-v", "--settle", "1s", "--timeout", "20s", "link:veth0")
		time.Sleep(2 * time.Second)
		f.end(t)
		code := p.wait(t)
		t.Logf("%d flaps; ready %s after the last one; %s", f.flaps, p.exited.Sub(f.lastUp), waitOverLine(p))
		if code != 0 {
			t.Fatalf("exit code: got %d, want 0 once the link stays up\n%s", code, p)
		}
		if d := p.doc(t); !d.Ready {
			t.Errorf("JSON does not say ready\n%s", p)
		}
		// The last flap's events come after f.lastUp, and settling
		// starts again at each: ready any earlier would have been
		// declared while the link was still flapping.
		if since := p.exited.Sub(f.lastUp); since < settle {
			t.Errorf("ready %s after the link stopped flapping, want at least --settle %s", since, settle)
		}
	})
}
