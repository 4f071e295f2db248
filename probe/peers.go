package probe

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// A resolver host whose DNS port is closed answers each query with an ICMP
// port unreachable, and its kernel rate-limits those per peer: a burst of
// six, then about one a second (net.ipv4.icmp_ratelimit). Queries beyond
// the limit meet silence, which would read as a resolver that does not
// answer and put the target back on the slow schedule, while the host is
// up and its resolver only starting. So:
//
//   - within a round, once one query to a host is refused, the other
//     queries to it still waiting for a reply are refused too (their own
//     ICMP errors were likely the ones the limit swallowed);
//   - across rounds, a host that refused in the last round is sent one
//     query per round: the others wait for its outcome, and are sent only
//     if it was answered.

// Peers remembers, across rounds, which resolvers refused queries in the
// last one. Its methods are safe for concurrent use; a nil *Peers
// remembers nothing.
type Peers struct {
	mu       sync.Mutex
	refusing map[peer]bool
}

// peer is a resolver as a probe reaches it: its address and port, and how
// the probe's sockets are bound (via=, src=). Queries to one resolver
// through two interfaces take two paths: one's refusal says nothing of
// the other's.
type peer struct {
	server netip.AddrPort
	via    string
	src    netip.Addr
}

// NewPeers returns an empty memory, for the rounds of one wait or watch.
func NewPeers() *Peers { return &Peers{refusing: map[peer]bool{}} }

func (p *Peers) refused(a peer) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refusing[a]
}

// note records what an exchange with a showed: refused, or not.
func (p *Peers) note(a peer, refused bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if refused {
		p.refusing[a] = true
	} else {
		delete(p.refusing, a)
	}
}

// serverRound is what the exchanges of one round know of one resolver
// (an address and port: another port of the same host may well answer).
type serverRound struct {
	refused context.Context // done once a query to it was refused
	refuse  context.CancelFunc
	// leading is set once an exchange took the lead; leader is closed when
	// it is over, and leaderRefused says, from then on, how it ended.
	leading       bool
	leader        chan struct{}
	leaderRefused bool
}

// server returns the round's record of resolver a.
func (e *Env) server(a peer) *serverRound {
	e.serversMu.Lock()
	defer e.serversMu.Unlock()
	if e.servers == nil {
		e.servers = map[peer]*serverRound{}
	}
	s := e.servers[a]
	if s == nil {
		s = &serverRound{leader: make(chan struct{})}
		s.refused, s.refuse = context.WithCancel(context.Background())
		e.servers[a] = s
	}
	return s
}

// lead makes the caller the round's one exchange with s if there is none
// yet; it reports whether it did.
func (e *Env) lead(s *serverRound) bool {
	e.serversMu.Lock()
	defer e.serversMu.Unlock()
	if s.leading {
		return false
	}
	s.leading = true
	return true
}

// errRefusedMeanwhile is the cause of an exchange cut short because
// another query of the round to the same resolver was refused.
var errRefusedMeanwhile = errors.New("another query was refused")

// exchange is the package's exchange with a resolver, within the round of
// e: see the comment at the top of this file.
func (e *Env) exchange(ctx context.Context, sk sockets, server netip.AddrPort, q dns.Question, retransmit time.Duration, attempts int) (*dns.Msg, string, error) {
	key := peer{server, sk.via, sk.src}
	s := e.server(key)
	leader := false
	if e.Peers.refused(key) {
		if leader = e.lead(s); !leader {
			// It refused last round, and this round's one query to it
			// is out: wait for its outcome.
			select {
			case <-s.leader:
			case <-ctx.Done():
				return nil, "udp", ctxErr(ctx, context.DeadlineExceeded)
			}
			if s.leaderRefused {
				// Its refusal is this query's too.
				return nil, "udp", syscall.ECONNREFUSED
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(s.refused, func() { cancel(errRefusedMeanwhile) })
	defer stop()
	m, tr, err := exchange(ctx, sk, server, q, retransmit, attempts)
	refused := errors.Is(err, syscall.ECONNREFUSED)
	switch {
	case refused:
		s.refuse()
	case err != nil && errors.Is(context.Cause(ctx), errRefusedMeanwhile):
		// Cut short: another query to it was refused meanwhile; this
		// one's ICMP error was likely rate-limited away.
		err, refused = syscall.ECONNREFUSED, true
	}
	if leader {
		s.leaderRefused = refused
		close(s.leader) // publishes leaderRefused
	}
	e.Peers.note(key, refused)
	return m, tr, err
}
