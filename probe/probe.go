// Package probe parses netready's target URIs and probes them: one file per
// kind (link, route, dns, tcp, http, tls, icmp). A probe makes one attempt
// and returns a Result that says what happened; it never logs, retries or
// sleeps. Deciding when to probe again, and whether the network is ready,
// is the business of the callers (package gate and main), not of this one.
package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// Phase is the time one step of an attempt took, such as "resolve",
// "connect", "tls" or "request".
type Phase struct {
	Name     string
	Duration time.Duration
}

// Result is the outcome of one attempt at one target.
type Result struct {
	Target  Target
	OK      bool
	Latency time.Duration // whole attempt, wall clock
	Phases  []Phase
	// Detail says what a passing probe found ("default via 10.213.1.1 dev
	// veth0", "10.213.1.1:53 answered 1 A record"); empty on failure.
	Detail string
	// Err says why the attempt failed; nil when OK. Probe makes it a
	// *Failure.
	Err error
	// Cause is Err's cause; empty when OK.
	Cause Cause
	// Hint is a likely remedy for Err, for a person; may be empty.
	Hint string
	// Local reports that the attempt's traffic stayed on this host (link and
	// route lookups, loopback endpoints), so repeating it is cheap.
	Local bool
	// Dests are the addresses the attempt needed: the endpoint's (port 0
	// for ICMP), or the resolvers it asked for a name it could not
	// resolve. The path explanation starts from them.
	Dests []netip.AddrPort
	// Paths are the hops to each of Dests, when Env.Explain asks for them.
	Paths []Path
}

// Env is what the probes of one round share: where the resolver
// configuration is, which netlink handle to use, and that configuration read
// at most once per round. Its methods are safe for concurrent use.
type Env struct {
	// ResolvConf is the path of the resolver configuration file.
	ResolvConf string
	// Netlink is the handle used by link and route probes; nil means the
	// network namespace of the process.
	Netlink *netlink.Handle
	// HostsFile is consulted before DNS when a tcp/http/tls/icmp host name
	// is resolved; empty means no hosts file.
	HostsFile string
	// RootCAs verifies the certificates of tls and https targets; nil means
	// the system's roots (which honour SSL_CERT_FILE and SSL_CERT_DIR).
	RootCAs *x509.CertPool
	// Peers remembers across rounds which resolvers refused; nil for none
	// (one round, as check makes).
	Peers *Peers
	// Explain asks for the path of every target, passing or not
	// (Result.Paths); a failing target's cause is explained by its path
	// either way.
	Explain bool

	guardOnce sync.Once
	grd       *guard // see guard.go

	serversMu sync.Mutex
	servers   map[peer]*serverRound // this round's resolvers

	// clock reads the kernel's clock state; nil for readClock. Tests
	// replace it.
	clock func() (clockState, error)

	resolvOnce func() (*ResolvConf, error)
	hostsOnce  func() (map[string][]netip.Addr, error)
}

// DefaultResolvConf and DefaultHostsFile are the system's files.
const (
	DefaultResolvConf = "/etc/resolv.conf"
	DefaultHostsFile  = "/etc/hosts"
)

// NewEnv returns an Env for one round. resolvConf and hostsFile are read on
// first use, at most once: a new round must use a new Env so that changed
// files are seen.
func NewEnv(resolvConf, hostsFile string, nl *netlink.Handle) *Env {
	e := &Env{ResolvConf: resolvConf, HostsFile: hostsFile, Netlink: nl}
	e.resolvOnce = sync.OnceValues(func() (*ResolvConf, error) { return ReadResolvConf(e.ResolvConf) })
	e.hostsOnce = sync.OnceValues(func() (map[string][]netip.Addr, error) { return readHosts(e.HostsFile) })
	return e
}

// clockState is what the kernel says of the system clock.
func (e *Env) clockState() (clockState, error) {
	if e.clock != nil {
		return e.clock()
	}
	return readClock()
}

// Resolvers returns the round's resolver configuration.
func (e *Env) Resolvers() (*ResolvConf, error) { return e.resolvOnce() }

func (e *Env) netlinkHandle() *netlink.Handle {
	if e.Netlink != nil {
		return e.Netlink
	}
	return &netlink.Handle{} // the zero Handle uses the process's namespace
}

// Probe makes one attempt at t within ctx and returns its result. It blocks
// until the attempt is over; the caller bounds it with ctx's deadline.
func Probe(ctx context.Context, env *Env, t Target) Result {
	start := time.Now()
	r := kindOf(t.Kind).probe(ctx, env, t)
	r.Target = t
	r.Latency = time.Since(start)
	r.OK = r.Err == nil
	if f := FailureOf(r.Err); f != nil {
		if g := env.explainFailure(f, t, r.Dests); g != nil {
			f = g
		} else if g := env.explainNoResolver(f, t); g != nil {
			f = g
		}
		r.Err, r.Cause, r.Hint = f, f.Cause, f.Hint()
	}
	if env.Explain {
		r.Paths = env.paths(r)
	}
	return r
}

// Round probes every target once, all concurrently, each attempt bounded by
// perProbe (and by ctx). It returns when every attempt is over; results[i]
// belongs to targets[i].
func Round(ctx context.Context, env *Env, targets []Target, perProbe time.Duration) []Result {
	results := make([]Result, len(targets))
	var wg sync.WaitGroup
	wg.Add(len(targets))
	for i, t := range targets {
		pool.Go(func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, perProbe)
			defer cancel()
			results[i] = Probe(pctx, env, t)
		})
	}
	wg.Wait()
	return results
}

// timing records the phases of an attempt. It is safe for concurrent use,
// since net/http calls its trace hooks from its own goroutines.
type timing struct {
	mu     sync.Mutex
	phases []Phase
	last   time.Time
}

func newTiming() *timing { return &timing{last: time.Now()} }

// mark ends the current phase, naming it.
func (tm *timing) mark(name string) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	now := time.Now()
	tm.phases = append(tm.phases, Phase{name, now.Sub(tm.last)})
	tm.last = now
}

// snapshot returns a copy of the phases marked so far.
func (tm *timing) snapshot() []Phase {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]Phase(nil), tm.phases...)
}

// has reports whether a phase of that name was marked.
func (tm *timing) has(name string) bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for _, p := range tm.phases {
		if p.Name == name {
			return true
		}
	}
	return false
}

// errTimeout reports whether err is a deadline or timeout.
func errTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
