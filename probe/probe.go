// Package probe parses netready's target URIs and probes them: one file per
// kind (link, route, dns, tcp, http, tls, icmp, clock; kinds.go is their
// table). A probe makes one attempt and returns a Result that says what
// happened, its failure's cause from one table (cause.go), explained by
// the path to the destination (path.go, reading the kernel through
// kernel.go); it never logs, retries or sleeps. Deciding when to probe
// again, and whether the network is ready, is the business of the callers
// (packages gate and probegate, and cli), not of this one.
package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// Phase is the time one step of an attempt took.
type Phase struct {
	Name     PhaseName
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

	// kern reads the kernel's network state; nil for netlinkKernel with
	// Netlink. Tests replace it.
	kern kernel

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

// kernel is what the round reads the kernel's network state through.
func (e *Env) kernel() kernel {
	if e.kern != nil {
		return e.kern
	}
	if e.Netlink != nil {
		return netlinkKernel{e.Netlink}
	}
	return netlinkKernel{&netlink.Handle{}} // the zero Handle uses the process's namespace
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
		f = boundTo(f, t)
		r.Err, r.Cause, r.Hint = f, f.Cause, f.Hint()
		if h := boundHint(t); h != "" && !strings.Contains(r.Hint, t.Via) {
			if r.Hint == "" {
				r.Hint = h
			} else {
				r.Hint += " (" + h + ")"
			}
		}
	}
	if env.Explain {
		r.Paths = env.paths(r)
	}
	return r
}

// boundTo is f naming the interface or source address t's packets are
// bound to (via=, src=) when f does not name it already: "no answer
// through eth1" is another fault than "no answer".
func boundTo(f *Failure, t Target) *Failure {
	msg := f.Error()
	var notes []string
	if t.Via != "" && !strings.Contains(msg, t.Via) {
		notes = append(notes, "through "+t.Via+" (via="+t.Via+")")
	}
	if t.Src.IsValid() && !strings.Contains(msg, t.Src.String()) {
		notes = append(notes, "from "+t.Src.String()+" (src="+t.Src.String()+")")
	}
	if len(notes) == 0 {
		return f
	}
	n := strings.Join(notes, ", ")
	if errTimeout(f.Err) {
		return f.With(fmt.Errorf("%w: no answer %s", f.Err, n))
	}
	return f.With(fmt.Errorf("%w, %s", f.Err, n))
}

// boundHint is what a hint adds for a target bound to an interface.
func boundHint(t Target) string {
	if t.Via == "" {
		return ""
	}
	return "the probe leaves through " + t.Via + " only: is " + t.Via + " the link that reaches it?"
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
func (tm *timing) mark(name PhaseName) {
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
func (tm *timing) has(name PhaseName) bool {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	for _, p := range tm.phases {
		if p.Name == name {
			return true
		}
	}
	return false
}
