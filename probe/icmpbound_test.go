package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/internal/netnstest"
)

// icmpFloodLab is a namespace whose loopback answers no echo request
// (net.ipv4.icmp_echo_ignore_all), with an echo socket of a ping to
// 127.0.0.1 opened in it (unprivileged if unpriv, else raw) and a raw
// socket to flood it from.
type icmpFloodLab struct {
	e     *echoSocket
	flood int // a raw ICMP socket's fd, in the namespace
}

func newICMPFloodLab(t *testing.T, unpriv bool) *icmpFloodLab {
	ns := netnstest.New(t)
	ns.Sysctl(t, "net.ipv4.icmp_echo_ignore_all", "1")
	if unpriv {
		ns.Sysctl(t, "net.ipv4.ping_group_range", "0 2147483647")
	} else {
		ns.Sysctl(t, "net.ipv4.ping_group_range", "1 0")
	}
	l := &icmpFloodLab{flood: -1}
	var err error
	ns.Do(t, func() {
		if l.e, err = openEcho(sockets{}, netip.MustParseAddr("127.0.0.1")); err != nil {
			return
		}
		l.flood, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	})
	if err != nil {
		t.Fatalf("sockets in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { l.e.c.Close(); unix.Close(l.flood) })
	if l.e.raw == unpriv {
		t.Fatalf("opened a socket raw=%v, want raw=%v: the premise of this test", l.e.raw, !unpriv)
	}
	return l
}

// ident is the echo id the kernel gave the unprivileged socket (its
// "port"), 0 until its first request is sent.
func (l *icmpFloodLab) ident() int {
	rc, err := l.e.c.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0
	}
	var id int
	rc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			if in4, ok := sa.(*unix.SockaddrInet4); ok {
				id = in4.Port
			}
		}
	})
	return id
}

// start sends the messages of next to 127.0.0.1, one after another as fast
// as the socket takes them, until stop is called; stop returns how many
// were sent.
func (l *icmpFloodLab) start(next func(i int) []byte) (stop func() int) {
	var (
		sent atomic.Int64
		quit atomic.Bool
		wg   sync.WaitGroup
	)
	to := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	wg.Go(func() {
		for i := 0; !quit.Load(); i++ {
			b := next(i)
			if b == nil {
				time.Sleep(time.Millisecond)
				continue
			}
			if err := unix.Sendto(l.flood, b, 0, to); err == nil {
				sent.Add(1)
			}
		}
	})
	return func() int {
		quit.Store(true)
		wg.Wait()
		return int(sent.Load())
	}
}

func echoMessage(typ icmp.Type, id, seq int) []byte {
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("flood")}}).Marshal(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// TestIntegrationICMPFlood: a ping flooded with ICMP messages that are no
// reply to its requests reads maxEchoExamined of them, then fails with
// response-too-large naming the bound, long before its deadline: what a
// flood costs it is bounded by the constant, not by the probe's time. A
// raw socket reads every ICMP message of the host (here echo requests,
// not parsed, and echo replies of another ping); an unprivileged one only
// echo replies with its own id, here to requests it never sent.
func TestIntegrationICMPFlood(t *testing.T) {
	for _, tt := range []struct {
		name   string
		unpriv bool
		what   string
	}{
		{"raw socket", false, "none a reply to ours (a raw socket reads every ICMP message of the host)"},
		{"unprivileged socket", true, "echo replies to requests it did not send, or malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newICMPFloodLab(t, tt.unpriv)
			var next func(i int) []byte
			if tt.unpriv {
				otherSeq := 0xfff0 // far beyond the few requests a probe sends
				next = func(i int) []byte {
					id := l.ident()
					if id == 0 {
						return nil // no request sent yet: no id to reply to
					}
					return echoMessage(ipv4.ICMPTypeEchoReply, id, otherSeq)
				}
			} else {
				request := echoMessage(ipv4.ICMPTypeEcho, l.e.id+1, 1)
				reply := echoMessage(ipv4.ICMPTypeEchoReply, l.e.id+1, 0)
				next = func(i int) []byte {
					if i%2 == 0 {
						return request
					}
					return reply
				}
			}
			stop := l.start(next)
			// A deadline far beyond what the flood takes to reach the
			// bound: the probe must not wait for it.
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			_, err := l.e.run(ctx, netip.MustParseAddr("127.0.0.1"))
			deadlineLeft := ctx.Err() == nil
			sent := stop()
			if sent < maxEchoExamined {
				t.Fatalf("the flood sent %d messages, fewer than the bound %d: the premise of this test", sent, maxEchoExamined)
			}
			var f *Failure
			if !errors.As(err, &f) || f.Cause != CauseResponseTooLarge || f.Phase != PhaseEcho || f.Hop != "127.0.0.1" {
				t.Fatalf("flooded by %d messages: got %v (%#v), want response-too-large at echo for 127.0.0.1", sent, err, f)
			}
			want := fmt.Sprintf("ping 127.0.0.1: %d ICMP messages, %s: netready examines %d per probe at most", maxEchoExamined, tt.what, maxEchoExamined)
			if err.Error() != want {
				t.Errorf("got %q, want %q", err, want)
			}
			if !deadlineLeft {
				t.Errorf("the probe ran until its deadline (60s) under a flood of %d messages, want it to stop at the bound", sent)
			}
			if h := f.Hint(); !strings.Contains(h, "tcpdump") {
				t.Errorf("hint %q, want one that says how to find the flood's source", h)
			}
		})
	}
}
