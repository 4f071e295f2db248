package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/netready/netready/hook"
	"github.com/netready/netready/metrics"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

// fleet is what watch does for a fleet's monitoring, beside printing
// transitions: serve metrics and /ready (--metrics-listen), write them to
// a textfile (--textfile), run a command on each transition
// (--on-change). Each part is off, and costs nothing, unless asked for.
// Its methods are called from watch's loop, one at a time.
type fleet struct {
	names    []string
	log      *slog.Logger
	exp      *metrics.Exporter // nil: neither metrics nor textfile
	serving  func()            // stops the metrics server; nil: none
	textfile *metrics.Textfile
	hooks    *hook.Runner
	// textfileErr is the last textfile error logged, to log each once.
	textfileErr string
}

// startFleet starts what o asks for: the metrics listener first (a port
// in use or an address that cannot be bound ends watch before any
// probing, exit 1), then the textfile's first version (not ready, no
// target probed: a directory that cannot be written ends watch too). The
// hook's program is not looked up yet: it may be installed later.
func startFleet(ctx context.Context, o *options, log *slog.Logger, hookOut io.Writer) (*fleet, error) {
	f := &fleet{names: o.names, log: log}
	if o.metricsListen == "" && o.textfile == "" && len(o.onChange) == 0 {
		return f, nil
	}
	if o.metricsListen != "" || o.textfile != "" {
		f.exp = metrics.New(o.names, time.Now())
	}
	if o.metricsListen != "" {
		ln, present, err := metrics.Listen(ctx, o.metricsListen)
		if err != nil {
			return nil, fmt.Errorf("--metrics-listen %s: %w", o.metricsListen, err)
		}
		if !present {
			log.Warn("the metrics address is not one of this host's (yet): /metrics and /ready answer once it is", "address", ln.Addr().String())
		}
		log.Info("serving metrics", "address", ln.Addr().String())
		f.serving = metrics.Serve(ln, metrics.Handler(f.exp, log), o.webConfig, log)
	}
	if o.textfile != "" {
		if !strings.HasSuffix(o.textfile, ".prom") {
			log.Warn("node_exporter's textfile collector reads only files named *.prom", "textfile", o.textfile)
		}
		f.textfile = metrics.NewTextfile(f.exp, o.textfile)
		if err := f.textfile.Write(time.Now()); err != nil {
			if f.serving != nil {
				f.serving()
			}
			return nil, fmt.Errorf("--textfile %s: %w", o.textfile, err)
		}
	}
	if len(o.onChange) > 0 {
		f.hooks = hook.New(hook.Command(o.onChange, hookOut, log))
	}
	return f, nil
}

// round takes the picture after a round the gate accepted.
func (f *fleet) round(p probegate.Progress) {
	if f.exp == nil {
		return
	}
	now := time.Now()
	changed := f.exp.Update(f.state(p), now)
	if f.textfile == nil {
		return
	}
	wrote, err := f.textfile.AfterRound(changed, now)
	switch {
	case err != nil && err.Error() != f.textfileErr:
		f.textfileErr = err.Error()
		f.log.Warn("textfile not written; trying again after each round", "textfile", f.textfile.Path(), "error", err)
	case err == nil && wrote && f.textfileErr != "":
		f.textfileErr = ""
		f.log.Info("textfile written again", "textfile", f.textfile.Path())
	}
}

// state is the metrics' view of a round's progress.
func (f *fleet) state(p probegate.Progress) metrics.State {
	s := metrics.State{Ready: p.Ready && !p.Settling, Settling: p.Settling, Events: p.Events, Targets: make([]metrics.Target, len(p.Results))}
	for i, gr := range p.Results {
		t := metrics.Target{Name: f.names[i]}
		if gr.Probed {
			r := gr.Value
			t.Probed, t.OK, t.Latency = true, r.OK, r.Latency
			if !r.OK {
				t.Cause = causeWord(r)
				if r.Err != nil {
					t.Err = r.Err.Error()
				}
			}
		}
		s.Targets[i] = t
	}
	return s
}

// causeWord is a failing result's cause, "other" if it has none.
func causeWord(r probe.Result) string {
	if r.Cause == probe.CauseNone {
		return string(probe.CauseOther)
	}
	return string(r.Cause)
}

// transition runs the hook, if any, with the transition's state. It does
// not wait for the hook.
func (f *fleet) transition(tr probegate.Transition) {
	if f.hooks == nil {
		return
	}
	var failing []hook.Failure
	for i, gr := range tr.Results {
		if gr.OK {
			continue
		}
		cause := report.NotProbedCause
		if gr.Probed {
			cause = causeWord(gr.Value)
		}
		failing = append(failing, hook.Failure{Target: f.names[i], Cause: cause})
	}
	f.hooks.Trigger(hook.Environ(os.Environ(), tr.Ready, failing))
}

// stop ends it all: no more hook runs (one in progress goes on by
// itself), the metrics server down, and the textfile removed, so that
// node_exporter does not go on serving the last state of a netready that
// has stopped.
func (f *fleet) stop() {
	if f.hooks != nil {
		f.hooks.Close()
	}
	if f.serving != nil {
		f.serving()
	}
	if f.textfile != nil {
		if err := os.Remove(f.textfile.Path()); err != nil && !errors.Is(err, os.ErrNotExist) {
			f.log.Warn("textfile not removed", "textfile", f.textfile.Path(), "error", err)
		}
	}
}
