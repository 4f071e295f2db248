package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/gate"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/report"
)

// prober runs the rounds of wait and watch for the gate: a fresh
// probe.Env each round, so that resolv.conf and the hosts file are read
// again, and one netlink handle for the process. Its round is safe for
// concurrent use.
type prober struct {
	o     *options
	nl    *netlink.Handle
	peers *probe.Peers // which resolvers refused in the last round
	// failed, if set, is called for each failed attempt of a target
	// that reads the resolver configuration.
	failed func()
	// started, if set, is called when a round begins.
	started func()
}

// round is a gate.Prober. Each gate.Result's Value is the probe.Result.
func (p *prober) round(ctx context.Context, due []int, last []gate.Result) []gate.Result {
	if p.started != nil {
		p.started()
	}
	env := probe.NewEnv(p.o.resolvConf, p.o.hostsFile, p.nl)
	env.Peers = p.peers
	ts := make([]probe.Target, len(due))
	for j, i := range due {
		ts[j] = p.o.targets[i]
	}
	rs := probe.Round(ctx, env, ts, p.o.probeTimeout)
	// The deadline, not ctx.Err(): an attempt can end on it a moment
	// before ctx's own timer fires.
	dl, hasDL := ctx.Deadline()
	cut := hasDL && !time.Now().Before(dl)
	out := make([]gate.Result, len(rs))
	for j, r := range rs {
		if prev, ok := last[j].Value.(probe.Result); ok && cut && !r.OK && prev.Err != nil && prev.Err.Error() != r.Err.Error() {
			// --timeout cut this attempt short, maybe a moment after it
			// began: the attempt before may name the real cause.
			r.Err = probe.FailureOf(prev.Err).With(fmt.Errorf("%w (cut short by --timeout; the attempt before: %v)", r.Err, prev.Err))
			r.Cause, r.Hint = prev.Cause, prev.Hint
		}
		if !r.OK && p.failed != nil && ts[j].UsesResolvConf() {
			p.failed()
		}
		out[j] = gate.Result{OK: r.OK, Local: r.Local, Cause: string(r.Cause), Value: r}
		if f, ok := r.Err.(*probe.Failure); ok {
			out[j].Refused = f.Refusal()
			out[j].Announced = f.Cause.Announced()
		}
	}
	return out
}

// netlinkHandle opens one netlink socket for all the link and route probes
// of the process, instead of one per request. If that fails, the zero
// handle still works, a socket per request.
func netlinkHandle(log *slog.Logger) *netlink.Handle {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		log.Debug("netlink handle", "error", err)
		return &netlink.Handle{}
	}
	return h
}

// logResult logs an attempt at debug level (-v), with its phases.
func logResult(log *slog.Logger, name string, r probe.Result) {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"target", name, "ok", r.OK, "latency", r.Latency, "local", r.Local}
	for _, p := range r.Phases {
		attrs = append(attrs, p.Name, p.Duration)
	}
	if r.Err != nil {
		attrs = append(attrs, "cause", r.Cause, "error", r.Err)
	}
	log.Debug("probe", attrs...)
}

// logRound logs the attempts of a round the gate accepted.
func logRound(log *slog.Logger, o *options, due []int, results []gate.Result) {
	for _, i := range due {
		if r, ok := results[i].Value.(probe.Result); ok {
			logResult(log, o.names[i], r)
		}
	}
}

// reportTarget is the report's row for target name, whose last attempt
// was r.
func reportTarget(name string, r probe.Result, attempts int) report.Target {
	t := report.Target{Name: name, OK: r.OK, Latency: r.Latency, Detail: r.Detail, Err: r.Err, Cause: string(r.Cause), Hint: r.Hint, Attempts: attempts}
	for _, p := range r.Phases {
		t.Phases = append(t.Phases, report.Phase{Name: p.Name, Duration: p.Duration})
	}
	for _, p := range r.Paths {
		rp := report.Path{Dest: p.Dest.String(), Role: p.Role}
		if p.Dest.Port() == 0 {
			rp.Dest = p.Dest.Addr().String()
		}
		for _, h := range p.Hops {
			rp.Hops = append(rp.Hops, report.Hop{Kind: h.Kind, Name: h.Name, OK: h.OK, Detail: h.Detail, Cause: string(h.Cause), Took: h.Took})
		}
		t.Paths = append(t.Paths, rp)
	}
	return t
}

// outcome is the report of the gate's last results.
func outcome(o *options, results []gate.Result, ready bool, rounds int, attempts []int, elapsed time.Duration) report.Outcome {
	rep := report.Outcome{Ready: ready, Elapsed: elapsed, Rounds: rounds, Targets: make([]report.Target, len(results))}
	for i, gr := range results {
		r, ok := gr.Value.(probe.Result)
		if !ok { // no attempt has finished
			rep.Targets[i] = report.Target{Name: o.names[i], Err: errors.New("not probed"), Attempts: attempts[i]}
			continue
		}
		rep.Targets[i] = reportTarget(o.names[i], r, attempts[i])
	}
	return rep
}
