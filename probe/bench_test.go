package probe

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
)

// benchListeners is how many loopback listeners the round benchmark spreads
// its targets over: the N targets of a round are tcp:// targets for these
// listeners in turn, so a listener appears N/benchListeners times in one
// round. More than one spreads the 4-tuples of the connections, whose
// TIME_WAIT sockets would otherwise exhaust the ephemeral ports of a single
// destination within a few seconds of 1000-target rounds.
const benchListeners = 16

// BenchmarkRound measures a round of N tcp:// targets on loopback: N
// concurrent connects, each accepted and closed by the listener.
func BenchmarkRound(b *testing.B) {
	raiseNoFile(b, 8192)
	var addrs []string
	for range benchListeners {
		// Close only after the probe has: a TIME_WAIT socket on the
		// listener's side, which a close before the probe's leaves, makes
		// the kernel drop a later SYN that reuses its 4-tuple
		// ("PAWSTimewait" in nstat), and that connect then waits for a SYN
		// retransmission.
		l := serve(b, func(c net.Conn) {
			c.Read(make([]byte, 1))
			c.Close()
		})
		addrs = append(addrs, l.Addr().String())
	}
	rc := loopbackEnv(b, noResolvers, "").ResolvConf
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			targets := make([]Target, n)
			for i := range targets {
				targets[i] = mustParse(b, "tcp://"+addrs[i%len(addrs)])
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				// A new Env per round, as the gate makes one.
				for i, r := range Round(ctx, NewEnv(rc, "", nil), targets, 5*time.Second) {
					if !r.OK {
						b.Fatalf("target %d: %v", i, r.Err)
					}
				}
			}
		})
	}
}

// raiseNoFile raises the soft limit on open files to at least n (within
// the hard limit): a 1000-target round holds a client and a server socket
// per target.
func raiseNoFile(b *testing.B, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundDNS measures a round of N dns:// targets on loopback that
// pass: N concurrent queries to one in-process server, whose replies (with
// an OPT record, as a resolver's are) each go through the answer checks,
// Extended DNS Errors included.
func BenchmarkRoundDNS(b *testing.B) {
	srv := dnstest.Start(b, "127.0.0.1:0", testZone...)
	// Replies carry an OPT record, as a resolver's do (SetSigned echoes
	// the query's), so the pass path reads its options.
	srv.SetSigned(true)
	rc := loopbackEnv(b, noResolvers, "").ResolvConf
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			targets := make([]Target, n)
			for i := range targets {
				targets[i] = mustParse(b, "dns://"+srv.String()+"/ready.test")
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for i, r := range Round(ctx, NewEnv(rc, "", nil), targets, 5*time.Second) {
					if !r.OK {
						b.Fatalf("target %d: %v", i, r.Err)
					}
				}
			}
		})
	}
}
