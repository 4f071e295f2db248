// Package probegate runs the gate's rounds with package probe: it probes
// the due targets, a fresh probe.Env each round, and translates each
// probe.Result into what the gate decides by — a failure the kernel
// announces the end of, a prompt refusal, the cause Watch compares — and
// keeps the cause an earlier attempt found when --timeout cuts one short.
// The gate never imports probe; the command line reads the probe.Result
// each gate.Result carries, typed.
package probegate

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netready/netready/gate"
	"github.com/netready/netready/probe"
)

// The gate's types over a probe.Result.
type (
	Result     = gate.Result[probe.Result]
	Config     = gate.Config[probe.Result]
	Progress   = gate.Progress[probe.Result]
	Transition = gate.Transition[probe.Result]
	Outcome    = gate.Outcome[probe.Result]
)

// Prober runs the rounds of wait and watch. Its Round is a gate.Prober,
// safe for concurrent use.
type Prober struct {
	Targets []probe.Target
	// ResolvConf and HostsFile are read again each round.
	ResolvConf, HostsFile string
	// ProbeTimeout bounds each attempt.
	ProbeTimeout time.Duration
	// Netlink is the handle of every round; nil for the process's
	// namespace, a socket per request.
	Netlink *netlink.Handle
	// Peers remembers across rounds which resolvers refused.
	Peers *probe.Peers
	// Failed, if set, is called for each failed attempt at a target that
	// reads the resolver configuration.
	Failed func()
	// Started, if set, is called when a round begins.
	Started func()
}

// Round probes the targets whose indexes are in due, all at once, and
// returns their results in the same order; last[j] is the result the gate
// last accepted for due[j].
func (p *Prober) Round(ctx context.Context, due []int, last []Result) []Result {
	if p.Started != nil {
		p.Started()
	}
	env := probe.NewEnv(p.ResolvConf, p.HostsFile, p.Netlink)
	env.Peers = p.Peers
	ts := make([]probe.Target, len(due))
	for j, i := range due {
		ts[j] = p.Targets[i]
	}
	rs := probe.Round(ctx, env, ts, p.ProbeTimeout)
	// The deadline, not ctx.Err(): an attempt can end on it a moment
	// before ctx's own timer fires.
	dl, hasDL := ctx.Deadline()
	cut := hasDL && !time.Now().Before(dl)
	out := make([]Result, len(rs))
	for j, r := range rs {
		if !r.OK && p.Failed != nil && ts[j].UsesResolvConf() {
			p.Failed()
		}
		out[j] = translate(r, last[j], cut)
	}
	return out
}

// translate is the gate's account of r, the attempt after prev; cut says
// that the deadline of the wait (--timeout) ended the round.
func translate(r probe.Result, prev Result, cut bool) Result {
	if cut && !r.OK && prev.Probed && prev.Value.Err != nil && prev.Value.Err.Error() != r.Err.Error() {
		// --timeout cut this attempt short, maybe a moment after it
		// began: the attempt before may name the real cause.
		r.Err = probe.FailureOf(prev.Value.Err).With(fmt.Errorf("%w (cut short by --timeout; the attempt before: %v)", r.Err, prev.Value.Err))
		r.Cause, r.Hint = prev.Value.Cause, prev.Value.Hint
	}
	g := Result{OK: r.OK, Local: r.Local, Cause: string(r.Cause), Value: r}
	if f, ok := r.Err.(*probe.Failure); ok {
		g.Refused = f.Refusal()
		g.Announced = f.Cause.Announced()
	}
	return g
}
