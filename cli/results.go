package cli

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/probe"
	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

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
		attrs = append(attrs, string(p.Name), p.Duration)
	}
	if r.Err != nil {
		attrs = append(attrs, "cause", r.Cause, "error", r.Err)
	}
	log.Debug("probe", attrs...)
}

// logRound logs the attempts of a round the gate accepted.
func logRound(log *slog.Logger, o *options, due []int, results []probegate.Result) {
	for _, i := range due {
		logResult(log, o.names[i], results[i].Value)
	}
}

// reportTarget is the report's row for target name, whose last attempt
// was r.
func reportTarget(name string, r probe.Result, attempts int) report.Target {
	t := report.Target{Name: name, OK: r.OK, Latency: r.Latency, Detail: r.Detail, Err: r.Err, Cause: string(r.Cause), Hint: r.Hint, Attempts: attempts}
	for _, p := range r.Phases {
		t.Phases = append(t.Phases, report.Phase{Name: string(p.Name), Duration: p.Duration})
	}
	for _, p := range r.Paths {
		rp := report.Path{Dest: p.Dest.String(), Role: string(p.Role)}
		if p.Dest.Port() == 0 {
			rp.Dest = p.Dest.Addr().String()
		}
		for _, h := range p.Hops {
			rp.Hops = append(rp.Hops, report.Hop{Kind: string(h.Kind), Name: h.Name, OK: h.OK, Detail: h.Detail, Cause: string(h.Cause), Took: h.Took})
		}
		t.Paths = append(t.Paths, rp)
	}
	return t
}

// outcome is the report of the gate's last results.
func outcome(o *options, results []probegate.Result, ready bool, rounds int, attempts []int, elapsed time.Duration) report.Outcome {
	rep := report.Outcome{Ready: ready, Elapsed: elapsed, Rounds: rounds, Targets: make([]report.Target, len(results))}
	for i, gr := range results {
		if !gr.Probed { // no attempt has finished
			rep.Targets[i] = report.Target{Name: o.names[i], Err: errors.New(report.NotProbed), Attempts: attempts[i]}
			continue
		}
		rep.Targets[i] = reportTarget(o.names[i], gr.Value, attempts[i])
	}
	return rep
}
