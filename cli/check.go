package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/gate"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/report"
)

func checkCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      cmdCheck,
		Usage:     "probe every target once, concurrently, and report",
		ArgsUsage: "[TARGET...]",
		Description: "One round: every target is probed once, all at once, and a row per target is printed: " +
			"for a failure, its cause — the first broken hop on its path — and a hint. With --explain, " +
			"every target's path follows, hop by hop.",
		Flags: append(commonFlags(&cli.DurationFlag{Usage: "give up after this long in all (0: no limit beyond --probe-timeout)"}),
			&cli.BoolFlag{Name: "explain", Usage: "under each target, its path hop by hop (route, link, address, gateway, resolver, endpoint) with each hop's state", EnvVars: []string{"NETREADY_EXPLAIN"}}),
		Action: action("check", false, s, func(ctx context.Context, o *options, log *slog.Logger) error {
			return check(ctx, o, log, s)
		}),
	}
}

// check runs one round and reports it.
func check(ctx context.Context, o *options, log *slog.Logger, s *streams) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	nl := netlinkHandle(log)
	defer nl.Close()
	start := time.Now()
	env := probe.NewEnv(o.resolvConf, o.hostsFile, nl)
	env.Explain = o.explain
	// On a terminal, a round that takes long says so meanwhile.
	prog := newProgress(s.stderr, o, log, nil, false)
	prog.roundStarted()
	results := probe.Round(ctx, env, o.targets, o.probeTimeout)
	prog.done()
	if sig, ok := stoppedBy(ctx); ok {
		return interrupted(sig)
	}
	out := report.Outcome{Elapsed: time.Since(start), Rounds: 1, Targets: make([]report.Target, len(results))}
	ok := make([]bool, len(results))
	for i, r := range results {
		ok[i] = r.OK
		out.Targets[i] = reportTarget(o.names[i], r, 1)
		logResult(log, o.names[i], r)
	}
	out.Ready = gate.Ready(ok, o.any)
	if err := write(s, o, out); err != nil {
		return err
	}
	if !out.Ready {
		return errNotReady
	}
	return nil
}

// write prints a check's report on stdout: JSON, a table, or nothing.
func write(s *streams, o *options, out report.Outcome) error {
	switch {
	case o.json:
		return report.JSON(s.stdout, out)
	case o.quiet:
		return nil
	}
	return style(o, s.stdout).Text(s.stdout, out)
}
