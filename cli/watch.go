package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/gate"
	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

func watchCommand(s *streams) *cli.Command {
	flags := append(commonFlags(nil), pacingFlags()...)
	for _, f := range flags {
		if b, ok := f.(*envBoolFlag); ok {
			switch b.Name {
			case "json":
				b.Usage = "print each transition as one line of JSON on stdout"
			case "quiet":
				b.Usage = "print no transitions and log nothing but errors (metrics, /ready and --on-change go on)"
			}
		}
	}
	flags = append(flags,
		&cli.DurationFlag{Name: "recheck", Value: defaultRecheck,
			Usage: "while ready, probe every target again after this long (and at once on a network change)", EnvVars: []string{"NETREADY_RECHECK"}},
		&cli.StringFlag{Name: "metrics-listen",
			Usage:   "serve Prometheus metrics on /metrics and a health endpoint, /ready, on `ADDRESS:PORT`, an IP address (empty: all) and port, e.g. 127.0.0.1:10213; empty: none",
			EnvVars: []string{"NETREADY_METRICS_LISTEN"}},
		&cli.StringFlag{Name: "web-config-file",
			Usage:   "serve /metrics and /ready with the TLS, client certificates and basic auth (bcrypt) of `FILE`, a web configuration as every Prometheus exporter takes (prometheus/exporter-toolkit), read again for every connection; empty: plain HTTP",
			EnvVars: []string{"NETREADY_WEB_CONFIG_FILE"}},
		&cli.StringFlag{Name: "textfile",
			Usage:   "write the metrics to `FILE` (name it *.prom) for node_exporter's textfile collector, atomically, after every round that changes them; empty: none",
			EnvVars: []string{"NETREADY_TEXTFILE"}},
		&cli.StringFlag{Name: "on-change",
			Usage:   "after every transition watch prints, run `CMD`, a program and its arguments separated by spaces (no shell), with NETREADY_READY, NETREADY_FAILING and NETREADY_CAUSES in its environment; one run at a time, the latest state waiting; empty: none",
			EnvVars: []string{"NETREADY_ON_CHANGE"}},
	)
	return &cli.Command{
		Name:      cmdWatch,
		Usage:     "run until stopped, printing every change of readiness or of what fails",
		ArgsUsage: "[TARGET...]",
		Description: "Waits like wait, prints a line (with --json, a JSON document) each time the network " +
			"becomes ready or stops being ready and, while not ready, each time the failing targets " +
			"or their causes change, and goes on until SIGINT or SIGTERM. Under systemd it sends " +
			"READY=1 the first time it is ready.\n\n" +
			"For monitoring: --metrics-listen serves /metrics (netready_ready, netready_target_up, " +
			"netready_target_latency_seconds, netready_target_cause, netready_transitions_total, " +
			"netready_last_transition_timestamp_seconds, netready_network_changes_total, and the Go " +
			"and process metrics) and /ready (200 while ready; 503 naming each failing target and its " +
			"cause while not), with TLS and authentication if --web-config-file says so, to 64 clients " +
			"at once. --textfile writes the same metrics, without the Go and process ones, for " +
			"node_exporter, and removes the file when watch stops. --on-change runs a command after " +
			"every transition (the first verdict included), never more than one at a time: while it " +
			"runs, only the latest state waits. NETREADY_READY is 1 or 0, NETREADY_FAILING lists the " +
			"failing targets as written, NETREADY_CAUSES has one TARGET=CAUSE per failing target (split " +
			"at the last =), all separated by spaces.",
		Flags: flags,
		Action: action("watch", false, s, func(ctx context.Context, o *options, log *slog.Logger) error {
			return watch(ctx, o, log, s)
		}),
	}
}

// transition is one line of watch's output.
type transition struct {
	Time    time.Time         `json:"time"`
	Ready   bool              `json:"ready"`
	Failing []string          `json:"failing,omitempty"` // "target: cause: error"
	Causes  map[string]string `json:"causes,omitempty"`  // target → cause
}

// watch runs gate.Watch and prints each transition; a signal ends it with
// exit 0, which is how a watch is meant to end.
func watch(ctx context.Context, o *options, log *slog.Logger, s *streams) error {
	oneProc()
	f, err := startFleet(ctx, o, log, s.stderr)
	if err != nil {
		return err
	}
	defer f.stop()
	w, pr, stop := watching(o, log, 0)
	defer stop()
	notify := newNotifier(log, false, o.probeTimeout)
	notify.start(len(o.targets))
	prog := newProgress(s.stderr, o, log, nil, false)
	defer prog.done()
	pr.Started = prog.roundStarted
	color := colorOn(o.color, s.stdout)
	readyOnce := false
	emit := func(tr probegate.Transition) error {
		f.transition(tr)
		t := transition{Time: time.Now().UTC(), Ready: tr.Ready}
		for i, gr := range tr.Results {
			if r := gr.Value; gr.Probed && !r.OK {
				t.Failing = append(t.Failing, o.names[i]+": "+string(r.Cause)+": "+r.Err.Error())
				if t.Causes == nil {
					t.Causes = map[string]string{}
				}
				t.Causes[o.names[i]] = string(r.Cause)
			}
		}
		switch {
		case tr.Ready && !readyOnce:
			readyOnce = true
			notify.ready("ready", false)
		case tr.Ready:
			notify.progress("ready", 0)
		default:
			notify.progress("not ready: "+strings.Join(t.Failing, "; "), 0)
		}
		if o.json {
			return json.NewEncoder(s.stdout).Encode(t)
		}
		if o.quiet {
			return nil
		}
		line := t.Time.Format(time.RFC3339) + " " + paint(color, report.ReadyColor, "ready")
		if !tr.Ready {
			var failing []string
			for i, gr := range tr.Results {
				if r := gr.Value; gr.Probed && !r.OK {
					failing = append(failing, o.names[i]+": "+paint(color, report.CauseColor, string(r.Cause))+": "+r.Err.Error())
				}
			}
			line = t.Time.Format(time.RFC3339) + " " + paint(color, report.NotReadyColor, "not ready") + ": " + strings.Join(failing, "; ")
		}
		var err error
		prog.above(func() { _, err = fmt.Fprintln(s.stdout, line) })
		return err
	}
	err = gate.Watch(ctx, gateConfig(o, log, w, pr, func(p probegate.Progress) {
		f.round(p)
		prog.update(p)
	}), emit)
	if _, ok := stoppedBy(ctx); ok {
		return nil
	}
	return err
}
