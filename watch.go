package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/gate"
)

// errStopped ends watch on SIGINT or SIGTERM: exit 0, it is how a watch
// is meant to end.
var errStopped = errors.New("stopped")

func watchCommand(stdout, stderr io.Writer) *cli.Command {
	flags := append(probeFlags(0, "ignored by watch, which runs until stopped"), pacingFlags()...)
	for _, f := range flags {
		if b, ok := f.(*cli.BoolFlag); ok && b.Name == "json" {
			b.Usage = "print each transition as one line of JSON on stdout"
		}
	}
	flags = append(flags, &cli.DurationFlag{Name: "recheck", Value: 30 * time.Second,
		Usage: "while ready, probe every target again after this long (and at once on a network change)", EnvVars: []string{"NETREADY_RECHECK"}})
	return &cli.Command{
		Name:      "watch",
		Usage:     "run until stopped, printing every readiness transition",
		ArgsUsage: "[TARGET...]",
		Description: "Waits like wait, prints a line (with --json, a JSON document) each time the network\n" +
			"becomes ready or stops being ready, and goes on. Under systemd it sends READY=1 the\n" +
			"first time it is ready. Exit 0 on SIGINT or SIGTERM.",
		Flags:        flags,
		OnUsageError: onUsageError,
		Action: probing("watch", false, stderr, func(c *cli.Context, o *options, log *slog.Logger) error {
			return watch(c.Context, c, o, log, stdout)
		}),
	}
}

// transition is one line of watch's output.
type transition struct {
	Time    time.Time `json:"time"`
	Ready   bool      `json:"ready"`
	Failing []string  `json:"failing,omitempty"` // "target: error"
}

func watch(ctx context.Context, c *cli.Context, o *options, log *slog.Logger, stdout io.Writer) error {
	sched, settle, local, err := pacing(c)
	if err != nil {
		return err
	}
	recheck := c.Duration("recheck")
	if recheck <= 0 {
		return &usageError{fmt.Errorf("%s must be positive", setting(c, "recheck"))}
	}
	w, pr, stop, err := watching(c, o, log)
	if err != nil {
		return err
	}
	defer stop()
	notify := newNotifier(log, false, o.probeTimeout)
	notify.start(len(o.targets))
	all := make([]int, len(o.targets))
	for i := range all {
		all[i] = i
	}
	attempts := make([]int, len(o.targets))
	var failing []string // of the last transition
	emit := func(ready bool) error {
		t := transition{Time: time.Now().UTC(), Ready: ready}
		defer func() { failing = t.Failing }()
		rep := pr.outcome(ready, 0, attempts, 0)
		for _, tg := range rep.Targets {
			if !tg.OK && tg.Err != nil {
				t.Failing = append(t.Failing, tg.Name+": "+tg.Err.Error())
			}
		}
		if o.json {
			return json.NewEncoder(stdout).Encode(t)
		}
		if o.quiet {
			return nil
		}
		line := t.Time.Format(time.RFC3339) + " ready"
		if !ready {
			line = t.Time.Format(time.RFC3339) + " not ready: " + strings.Join(t.Failing, "; ")
		}
		_, err := fmt.Fprintln(stdout, line)
		return err
	}

	first := true
	for {
		// Not ready (or not known yet): wait as wait does, with no timeout.
		sched.Reset()
		var emitErr error
		out, err := gate.Wait(ctx, gate.Config{
			Targets: len(o.targets), Probe: pr.round, Schedule: sched, Any: o.any,
			Settle: settle, LocalInterval: local, Events: w.Events(), EventGap: eventGap,
			Progress: func(p gate.Progress) {
				// The state after the very first round is a transition
				// too, from not knowing.
				if first && p.Round == 1 && !p.Ready {
					emitErr = emit(false)
				}
			},
		})
		if emitErr != nil {
			return emitErr
		}
		for i, n := range out.Attempts {
			attempts[i] += n
		}
		if err != nil {
			return errStopped // only a signal ends gate.Wait without a timeout
		}
		if err := emit(true); err != nil {
			return err
		}
		if first {
			notify.ready("ready", false)
			first = false
		} else {
			notify.progress("ready", 0)
		}
		// Ready: probe everything again on a change or every recheck,
		// until something fails. As in gate.Wait, rounds that changes
		// start are eventGap apart at least, so that a storm of them
		// cannot make watch probe back to back (changes meanwhile wait in
		// the events channel, folded into one), and a change during a
		// round abandons it — a probe stuck on a resolver that was just
		// replaced must not report an outage that is already over —
		// unless gate.MaxAbandonsInRow rounds in a row were.
		var (
			last     time.Time
			changed  bool
			abandons int
		)
		for ready := true; ready; {
			if !changed {
				t := time.NewTimer(recheck)
				select {
				case <-ctx.Done():
					t.Stop()
					return errStopped
				case <-w.Events():
					changed = true
				case <-t.C:
				}
				t.Stop()
			}
			if changed {
				t := time.NewTimer(time.Until(last.Add(eventGap)))
				select {
				case <-ctx.Done():
					t.Stop()
					return errStopped
				case <-t.C:
				}
				changed = false
			}
			last = time.Now()
			var res []gate.Result
			if abandons < gate.MaxAbandonsInRow {
				res, changed = gate.RoundUnlessChanged(ctx, pr.round, all, w.Events())
			} else {
				res = pr.round(ctx, all)
			}
			if ctx.Err() != nil {
				return errStopped
			}
			if changed {
				abandons++
				continue
			}
			abandons = 0
			ok := make([]bool, len(res))
			for i, r := range res {
				ok[i] = r.OK
				attempts[i]++
			}
			ready = gate.Ready(ok, o.any)
		}
		if err := emit(false); err != nil {
			return err
		}
		notify.progress("not ready: "+strings.Join(failing, "; "), 0)
	}
}
