package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/backoff"
	"github.com/netready/netready/gate"
	"github.com/netready/netready/netwatch"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

// eventGap and eventBurst bound how often network changes start a round:
// the first eventBurst changes after a quiet spell each start one at once
// — a network comes up as a few changes one after the other (carrier, an
// address, a route, an IPv6 link-local address done with duplicate address
// detection), and each may be the one that makes it usable — and a storm
// of 2,000 route changes in a second gives at most ~16 rounds.
const (
	eventGap   = 100 * time.Millisecond
	eventBurst = 6
)

// refusedInterval is how often a remote target that says no at once is
// probed again: one that actively refuses (a TCP reset, an ICMP port
// unreachable: its host is up and its service likely starting; a refusal
// costs it one packet, and one a second stays within the kernel's rate
// limit of ICMP errors per peer), or whose resolver answers that a name it
// needs is not there (NXDOMAIN, NODATA, SERVFAIL, REFUSED: the name is
// likely being registered, and the answer is as cheap).
const refusedInterval = time.Second

func waitCommand(s *streams) *cli.Command {
	flags := append(commonFlags(&cli.DurationFlag{Value: defaultWaitTimeout, Usage: "give up after this long (0: wait forever)"}), pacingFlags()...)
	flags = append(flags, boolFlag("extend-timeout", "under systemd, extend the unit's start timeout (EXTEND_TIMEOUT_USEC) after every round, so only --timeout ends a wait that is still probing", "NETREADY_EXTEND_TIMEOUT"))
	return &cli.Command{
		Name:      cmdWait,
		Usage:     "probe in rounds until every target passes, then exit 0 or run CMD",
		ArgsUsage: "[TARGET...] [-- CMD [ARGS...]]",
		Description: "Rounds of probes until every target passes (with --any: one does). Failing targets that " +
			"leave the host are retried on an exponential schedule (" + BackoffSchedule() + "), or every " +
			"second while their remote end actively refuses (a TCP reset, an ICMP port unreachable) " +
			"or their resolver answers that a name is not there (NXDOMAIN, NODATA, SERVFAIL, REFUSED); " +
			"those that stay on it every --local-interval. A link, address or route change, or a change of " +
			"resolv.conf, re-probes every target at once. When ready, CMD replaces netready.",
		Flags: flags,
		Action: action("wait", true, s, func(ctx context.Context, o *options, log *slog.Logger) error {
			return wait(ctx, o, log, s)
		}),
	}
}

// BackoffSchedule is the default schedule of rounds as help and the
// documents write it: "5s, 15s, 45s ... 15m".
func BackoffSchedule() string {
	var steps []string
	d := backoff.DefaultInitial
	for i := 0; i < 3 && d < backoff.DefaultMax; i++ {
		steps = append(steps, shortDuration(d))
		d = time.Duration(float64(d) * backoff.DefaultMultiplier)
	}
	return strings.Join(steps, ", ") + " ... " + shortDuration(backoff.DefaultMax)
}

// waitProcs is the number of OS threads that run Go code while waiting or
// watching. Both are I/O and timers; with one P, a round wakes fewer
// threads, which halves the CPU time and context switches of re-checking a
// failing local target every 250ms (measured by BenchmarkIdle). GOMAXPROCS
// in the environment overrides it.
const waitProcs = 1

// resolvConfDelay is how long wait leaves resolv.conf unwatched while no
// target that reads it has failed. Releasing an inotify instance that has
// watches costs the process an SRCU grace period in the kernel on its way
// out (5 ms typically, up to 20): a wait done within this delay does not
// pay it; a longer one pays it after at least this long. A change in the
// meantime is seen when the watch begins, so a first round stuck on a
// resolver that resolv.conf no longer names is abandoned at most this
// late.
const resolvConfDelay = 50 * time.Millisecond

// oneProc limits wait and watch to waitProcs, unless GOMAXPROCS says
// otherwise.
func oneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(waitProcs)
	}
}

func wait(ctx context.Context, o *options, log *slog.Logger, s *streams) error {
	var cmdPath string
	if len(o.cmd) > 0 {
		// Find the command before waiting: a typo should not cost the
		// whole timeout.
		var err error
		if cmdPath, err = exec.LookPath(o.cmd[0]); err != nil {
			code := exitNotFound
			// A shell says 126 for a file it may not execute and for a
			// directory (exec.LookPath reports EISDIR for that).
			if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EISDIR) {
				code = exitCannot
			}
			return &exitError{code, fmt.Errorf("%s: %w", o.cmd[0], err)}
		}
	}
	oneProc()
	// The resolver configuration is watched from the first failure of a
	// target that reads it, or from resolvConfDelay on: a wait over at the
	// first look never pays for an inotify instance. With --settle,
	// changes matter while the targets pass: at once.
	delay := resolvConfDelay
	if o.settle > 0 {
		delay = 0
	}
	w, pr, stop := watching(o, log, delay)
	defer stop()
	notify := newNotifier(log, o.extendTimeout, o.probeTimeout)
	notify.start(len(o.targets))
	prog := newProgress(s.stderr, o, log, notify, true)
	pr.Started = prog.roundStarted
	start := time.Now()
	out, err := gate.Wait(ctx, gateConfig(o, log, w, pr, prog.update))
	prog.done()
	rep := outcome(o, out.Results, out.Ready, out.Rounds, out.Attempts, time.Since(start))
	log.Debug("wait over", "ready", out.Ready, "rounds", out.Rounds, "abandoned", out.Abandons, "events", out.Events, "netlink", w.Netlink(), "resolv_conf_watched", w.ResolvConf(), "overruns", w.Overruns())

	if sig, ok := stoppedBy(ctx); ok {
		// A signal came, maybe as the wait ended: it was asked to stop,
		// so it neither says ready nor runs the command; it says what
		// still failed.
		if !o.quiet && !o.json {
			rep.Ready = false
			fmt.Fprintf(s.stderr, "netready: interrupted by %s after %.1fs\n", signalName(sig), rep.Elapsed.Seconds())
			style(o, s.stderr).Text(s.stderr, rep)
		}
		return interrupted(sig)
	}
	if err != nil && !errors.Is(err, gate.ErrTimeout) {
		return err
	}
	if o.json {
		if err := report.JSON(s.stdout, rep); err != nil {
			return err
		}
	}
	if !out.Ready {
		if !o.quiet && !o.json {
			fmt.Fprintf(s.stderr, "netready: not ready after %s\n", o.timeout)
			style(o, s.stderr).Text(s.stderr, rep)
		}
		return errNotReady
	}
	if !o.quiet && !o.json {
		fmt.Fprintln(s.stderr, paint(colorOn(o.color, s.stderr), report.ReadyColor, "ready")+strings.TrimPrefix(report.Summary(rep), "ready"))
	}
	notify.ready(report.Summary(rep), cmdPath != "")
	if cmdPath == "" {
		return nil
	}
	stop()
	// From here a signal has its default effect, as it will in the
	// command; one caught before it cancels ctx, and the command does not
	// run.
	s.signals.release()
	if sig, ok := stoppedBy(ctx); ok {
		return interrupted(sig)
	}
	err = syscall.Exec(cmdPath, o.cmd, os.Environ())
	return &exitError{exitCannot, fmt.Errorf("exec %s: %w", o.cmd[0], err)}
}

// gateConfig is the gate's configuration for wait and watch (each ignores
// the other's own: Timeout, Recheck). After each round the gate accepted,
// its attempts are logged and progress is called.
func gateConfig(o *options, log *slog.Logger, w *netwatch.Watcher, pr *probegate.Prober, progress func(probegate.Progress)) probegate.Config {
	return probegate.Config{
		Targets:         len(o.targets),
		Probe:           pr.Round,
		Schedule:        o.schedule,
		Any:             o.any,
		Timeout:         o.timeout,
		Settle:          o.settle,
		LocalInterval:   o.localInterval,
		RefusedInterval: refusedInterval,
		Announced:       w.Netlink(),
		Recheck:         o.recheck,
		Events:          w.Events(),
		EventGap:        eventGap,
		EventBurst:      eventBurst,
		Progress: func(p probegate.Progress) {
			logRound(log, o, p.Due, p.Results)
			progress(p)
		},
	}
}

// watching starts what wait and watch share: the change watcher, subscribed
// before the first round so that no change between the first look and the
// subscription is lost, and the prober with its netlink handle. The
// resolver configuration is watched only if a target reads it; with a
// positive fileDelay, from the first failure of such a target or after
// fileDelay (the watcher then reports a change since it started at once).
// stop ends both; calling it twice is harmless.
func watching(o *options, log *slog.Logger, fileDelay time.Duration) (w *netwatch.Watcher, pr *probegate.Prober, stop func()) {
	var conf string
	if slices.ContainsFunc(o.targets, probe.Target.UsesResolvConf) {
		conf = o.resolvConf
	}
	w = netwatch.Start(netwatch.Options{Netlink: !o.noNetlink, ResolvConf: conf, ResolvConfDelay: fileDelay, Logger: log})
	nl := netlinkHandle(log)
	log.Debug("started", "targets", strings.Join(o.names, " "), "netlink", w.Netlink(), "resolv_conf", conf)
	pr = &probegate.Prober{
		Targets: o.targets, ResolvConf: o.resolvConf, HostsFile: o.hostsFile, ProbeTimeout: o.probeTimeout,
		Netlink: nl, Peers: probe.NewPeers(), Failed: w.WatchResolvConf,
	}
	return w, pr, func() { w.Close(); nl.Close() }
}
