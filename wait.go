package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/urfave/cli/v2"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/backoff"
	"github.com/netready/netready/gate"
	"github.com/netready/netready/netwatch"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/report"
)

// eventGap bounds how often network changes start a round: a storm of
// 2,000 route changes in a second gives at most ~10 rounds, while the first
// change after a quiet spell is acted on at once.
const eventGap = 100 * time.Millisecond

// cmdError is a command after "--" that cannot be run: exit 127 when it is
// not found, 126 when it cannot be executed, as a shell does.
type cmdError struct {
	code int
	err  error
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

func waitCommand(stdout, stderr io.Writer) *cli.Command {
	flags := append(append(probeFlags(2*time.Minute, "give up after this long (0: wait forever)"), pacingFlags()...),
		&cli.BoolFlag{Name: "extend-timeout", Usage: "under systemd, extend the unit's start timeout (EXTEND_TIMEOUT_USEC) after every round, so only --timeout ends a wait that is still probing", EnvVars: []string{"NETREADY_EXTEND_TIMEOUT"}},
	)
	return &cli.Command{
		Name:      "wait",
		Usage:     "probe in rounds until every target passes, then exit 0 or run CMD",
		ArgsUsage: "[TARGET...] [-- CMD [ARGS...]]",
		Description: "Rounds of probes until every target passes (with --any: one does). Failing targets that\n" +
			"leave the host are retried on an exponential schedule (5s, 15s, 45s ... 15m); those that\n" +
			"stay on it every --local-interval. A link, address or route change, or a change of\n" +
			"resolv.conf, re-probes every target at once. When ready, CMD replaces netready.\n" +
			"Exit 0 ready, 1 not ready at --timeout, 2 usage error, 126/127 CMD cannot be run,\n" +
			"130/143 on SIGINT/SIGTERM.",
		Flags:        flags,
		OnUsageError: onUsageError,
		Action: probing("wait", true, stderr, func(c *cli.Context, o *options, log *slog.Logger) error {
			return wait(c.Context, c, o, log, stdout, stderr)
		}),
	}
}

// waitProcs is the number of OS threads that run Go code while waiting.
// Waiting is I/O and timers; with one P, a round wakes fewer threads, which
// halves the CPU time and context switches of re-checking a failing local
// target every 250ms (measured by BenchmarkIdle). GOMAXPROCS overrides it.
const waitProcs = 1

// pacingFlags are wait's and watch's: when to probe again.
func pacingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "settle", Usage: "ready only once every target has kept passing, with no network change, for this long", EnvVars: []string{"NETREADY_SETTLE"}},
		&cli.DurationFlag{Name: "backoff-initial", Value: backoff.DefaultInitial, Usage: "first interval between rounds for targets that leave the host", EnvVars: []string{"NETREADY_BACKOFF_INITIAL"}},
		&cli.DurationFlag{Name: "backoff-max", Value: backoff.DefaultMax, Usage: "longest interval between rounds", EnvVars: []string{"NETREADY_BACKOFF_MAX"}},
		&cli.Float64Flag{Name: "backoff-multiplier", Value: backoff.DefaultMultiplier, Usage: "growth of the interval after each failed round", EnvVars: []string{"NETREADY_BACKOFF_MULTIPLIER"}},
		&cli.DurationFlag{Name: "local-interval", Value: 250 * time.Millisecond, Usage: "interval between re-checks of failing targets that stay on this host (link, route, loopback)", EnvVars: []string{"NETREADY_LOCAL_INTERVAL"}},
		&cli.BoolFlag{Name: "no-netlink", Usage: "do not re-probe on kernel network changes; poll on the schedule only", EnvVars: []string{"NETREADY_NO_NETLINK"}},
	}
}

// pacing reads the pacing flags into a schedule and intervals.
//
// A backoff interval the user set (flag or NETREADY_* variable) wins over
// a default: --backoff-initial alone above the default cap raises the cap
// to it, --backoff-max alone below the default initial interval lowers
// that to it. Only two settings that contradict each other are an error.
func pacing(c *cli.Context) (sched *backoff.Schedule, settle, local time.Duration, err error) {
	initial, max, mult := c.Duration("backoff-initial"), c.Duration("backoff-max"), c.Float64("backoff-multiplier")
	switch {
	case initial <= 0:
		return nil, 0, 0, &usageError{fmt.Errorf("%s must be positive", setting(c, "backoff-initial"))}
	case max <= 0:
		return nil, 0, 0, &usageError{fmt.Errorf("%s must be positive", setting(c, "backoff-max"))}
	case !(mult >= 1): // NaN too
		return nil, 0, 0, &usageError{fmt.Errorf("%s must be at least 1", setting(c, "backoff-multiplier"))}
	case max >= initial:
	case c.IsSet("backoff-initial") && c.IsSet("backoff-max"):
		return nil, 0, 0, &usageError{fmt.Errorf("%s is below %s", setting(c, "backoff-max"), setting(c, "backoff-initial"))}
	case c.IsSet("backoff-max"):
		initial = max
	default:
		max = initial
	}
	sched, err = backoff.New(initial, max, mult, backoff.DefaultJitter)
	if err != nil {
		return nil, 0, 0, &usageError{fmt.Errorf("%s %s %s: %w", setting(c, "backoff-initial"), setting(c, "backoff-max"), setting(c, "backoff-multiplier"), err)}
	}
	settle, local = c.Duration("settle"), c.Duration("local-interval")
	if settle < 0 {
		return nil, 0, 0, &usageError{fmt.Errorf("%s is negative", setting(c, "settle"))}
	}
	if local <= 0 {
		return nil, 0, 0, &usageError{fmt.Errorf("%s must be positive", setting(c, "local-interval"))}
	}
	return sched, settle, local, nil
}

func wait(ctx context.Context, c *cli.Context, o *options, log *slog.Logger, stdout, stderr io.Writer) error {
	sched, settle, local, err := pacing(c)
	if err != nil {
		return err
	}
	var cmdPath string
	if len(o.cmd) > 0 {
		// Find the command before waiting: a typo should not cost the
		// whole timeout.
		if cmdPath, err = exec.LookPath(o.cmd[0]); err != nil {
			code := 127
			// A shell says 126 for a file it may not execute and for a
			// directory (exec.LookPath reports EISDIR for that).
			if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EISDIR) {
				code = 126
			}
			return &cmdError{code, fmt.Errorf("%s: %w", o.cmd[0], err)}
		}
	}

	w, pr, stop, err := watching(c, o, log)
	if err != nil {
		return err
	}
	defer stop()
	notify := newNotifier(log, c.Bool("extend-timeout"), o.probeTimeout)
	notify.start(len(o.targets))
	prog := newProgress(stderr, o, pr.last, &pr.mu, log)
	prog.notify = notify
	start := time.Now()
	out, err := gate.Wait(ctx, gate.Config{
		Targets:       len(o.targets),
		Probe:         pr.round,
		Schedule:      sched,
		Any:           o.any,
		Timeout:       o.timeout,
		Settle:        settle,
		LocalInterval: local,
		Events:        w.Events(),
		EventGap:      eventGap,
		Progress:      prog.update,
	})
	prog.done()
	rep := pr.outcome(out.Ready, out.Rounds, out.Attempts, time.Since(start))
	log.Debug("wait over", "ready", out.Ready, "rounds", out.Rounds, "abandoned", out.Abandons, "events", out.Events, "netlink", w.Netlink(), "overruns", w.Overruns())

	if err != nil && !errors.Is(err, gate.ErrTimeout) {
		return err // a signal: run picks the exit code
	}
	if ctx.Err() != nil {
		// A signal came as the wait ended: it was asked to stop, so it
		// neither says ready nor runs the command.
		return context.Cause(ctx)
	}
	if o.json {
		if err := report.JSON(stdout, rep); err != nil {
			return err
		}
	}
	if !out.Ready {
		if !o.quiet && !o.json {
			fmt.Fprintf(stderr, "netready: not ready after %s\n", o.timeout)
			report.Text(stderr, rep)
		}
		return errNotReady
	}
	if !o.quiet && !o.json {
		fmt.Fprintln(stderr, report.Summary(rep))
	}
	notify.ready(report.Summary(rep), cmdPath != "")
	if cmdPath != "" {
		stop()
		// From here a signal has its default effect, as it will in the
		// command; one caught before it cancels ctx, and the command does
		// not run.
		releaseSignals(ctx)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		err := syscall.Exec(cmdPath, o.cmd, os.Environ())
		return &cmdError{126, fmt.Errorf("exec %s: %w", o.cmd[0], err)}
	}
	return nil
}

// watching starts what wait and watch share: the change watcher, subscribed
// before the first round so that no change between the first look and the
// subscription is lost, and the prober with its netlink handle. stop ends
// both; calling it twice is harmless.
func watching(c *cli.Context, o *options, log *slog.Logger) (w *netwatch.Watcher, pr *prober, stop func(), err error) {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(waitProcs)
	}
	w, err = netwatch.Start(netwatch.Options{Netlink: !c.Bool("no-netlink"), ResolvConf: o.resolvConf, Logger: log})
	if err != nil {
		return nil, nil, nil, err
	}
	nl := netlinkHandle(log)
	log.Debug("started", "targets", strings.Join(o.names, " "), "netlink", w.Netlink(), "resolv_conf", o.resolvConf)
	return w, newProber(o, nl, log), func() { w.Close(); nl.Close() }, nil
}

// prober runs the rounds of wait and watch, and keeps the last result of
// each target for the report. Its methods are safe for concurrent use.
type prober struct {
	o   *options
	nl  *netlink.Handle
	log *slog.Logger

	mu   sync.Mutex
	last []probe.Result
}

func newProber(o *options, nl *netlink.Handle, log *slog.Logger) *prober {
	return &prober{o: o, nl: nl, log: log, last: make([]probe.Result, len(o.targets))}
}

// round is a gate.Prober: it probes the due targets with a fresh Env, so
// resolv.conf and the hosts file are read again.
func (p *prober) round(ctx context.Context, due []int) []gate.Result {
	env := probe.NewEnv(p.o.resolvConf, p.o.hostsFile, p.nl)
	ts := make([]probe.Target, len(due))
	for j, i := range due {
		ts[j] = p.o.targets[i]
	}
	rs := probe.Round(ctx, env, ts, p.o.probeTimeout)
	out := make([]gate.Result, len(rs))
	abandoned := errors.Is(ctx.Err(), context.Canceled)
	// The deadline, not ctx.Err(): an attempt can end on it a moment
	// before ctx's own timer fires.
	dl, hasDL := ctx.Deadline()
	cut := hasDL && !time.Now().Before(dl)
	p.mu.Lock()
	defer p.mu.Unlock()
	for j, r := range rs {
		out[j] = gate.Result{OK: r.OK, Local: r.Local}
		if abandoned {
			continue
		}
		i := due[j]
		if prev := p.last[i]; cut && !r.OK && prev.Err != nil && prev.Err.Error() != r.Err.Error() {
			// --timeout cut this attempt short, maybe a moment after it
			// began: the attempt before may name the real cause.
			r.Err = fmt.Errorf("%w (cut short by --timeout; the attempt before: %v)", r.Err, prev.Err)
			r.Hint = prev.Hint
		}
		p.last[i] = r
		logResult(p.log, p.o.names[i], r)
	}
	return out
}

// outcome is the report of the last results.
func (p *prober) outcome(ready bool, rounds int, attempts []int, elapsed time.Duration) report.Outcome {
	rep := report.Outcome{Ready: ready, Elapsed: elapsed, Rounds: rounds, Targets: make([]report.Target, len(p.last))}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.last {
		rep.Targets[i] = report.Target{Name: p.o.names[i], OK: r.OK, Latency: r.Latency, Detail: r.Detail, Err: r.Err, Hint: r.Hint, Attempts: attempts[i]}
		if r.Target.Kind == "" { // no attempt has finished
			rep.Targets[i].Err = errors.New("not probed")
		}
	}
	return rep
}

// progress shows what is still failing: on a terminal, one line rewritten
// in place; otherwise (journald, a file) one line per round that changes
// the picture. It is silent with -q or --json.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	names []string
	last  []probe.Result
	mu    *sync.Mutex
	log   *slog.Logger
	prev  string
	drawn bool
	// notify receives the same picture for systemd; nil for none.
	notify *notifier
	// cols is the terminal's width now; 0 if unknown.
	cols func() int
}

func newProgress(w io.Writer, o *options, last []probe.Result, mu *sync.Mutex, log *slog.Logger) *progress {
	p := &progress{w: w, quiet: o.quiet || o.json, names: o.names, last: last, mu: mu, log: log, cols: func() int { return 0 }}
	if f, ok := w.(*os.File); ok {
		fd := int(f.Fd())
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			p.tty = true
			// Asked at every line: the terminal may be resized.
			p.cols = func() int {
				ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
				if err != nil {
					return 0
				}
				return int(ws.Col)
			}
		}
	}
	return p
}

// fit cuts line to fit in cols columns (0: unknown, no cut), keeping the
// last column free so that the terminal does not wrap: a wrapped line is
// not rewritten in place, and the rows would pile up.
func fit(line string, cols int) string {
	r := []rune(line)
	if cols < 2 || len(r) < cols {
		return line
	}
	return string(r[:cols-2]) + "…"
}

// failing describes the failing targets: "dns:. (i/o timeout), tcp://db:5432 (connection refused)".
func (p *progress) failing(ok []bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for i, good := range ok {
		if good {
			continue
		}
		reason := "not probed yet"
		if err := p.last[i].Err; err != nil {
			reason = err.Error()
		}
		parts = append(parts, p.names[i]+" ("+reason+")")
	}
	return strings.Join(parts, ", ")
}

func (p *progress) update(pr gate.Progress) {
	if pr.Ready && !pr.Settling {
		return
	}
	var msg string
	if pr.Settling {
		msg = "all targets pass; settling"
	} else {
		msg = "waiting for " + p.failing(pr.OK)
	}
	p.notify.progress(msg, pr.Next)
	if p.quiet {
		return
	}
	if p.tty {
		line := fmt.Sprintf("%s — round %d, next in %s", msg, pr.Round, pr.Next.Round(time.Millisecond))
		fmt.Fprintf(p.w, "\r\033[K%s", fit(line, p.cols()))
		p.drawn = true
		return
	}
	if msg == p.prev {
		return
	}
	p.prev = msg
	what := "not ready"
	if pr.Settling {
		what = "settling"
	}
	p.log.Info(what, "round", pr.Round, "status", msg, "next", pr.Next.Round(time.Millisecond))
}

// done clears the live line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// extendMargin is added to what a round may take when extending systemd's
// start timeout: the process needs a moment to report and exit.
const extendMargin = 5 * time.Second

// notifier speaks the sd_notify protocol when NOTIFY_SOCKET is set: STATUS=
// after every round that changes the picture, EXTEND_TIMEOUT_USEC= after
// every round with --extend-timeout, READY=1 once ready. A nil notifier, or
// one without NOTIFY_SOCKET, does nothing.
type notifier struct {
	log          *slog.Logger
	extend       bool
	probeTimeout time.Duration
	lastStatus   string
	failed       bool
}

func newNotifier(log *slog.Logger, extend bool, probeTimeout time.Duration) *notifier {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	return &notifier{log: log, extend: extend, probeTimeout: probeTimeout}
}

func (n *notifier) send(lines ...string) {
	if n == nil || len(lines) == 0 {
		return
	}
	if _, err := daemon.SdNotify(false, strings.Join(lines, "\n")); err != nil && !n.failed {
		n.failed = true // say it once
		n.log.Warn("sd_notify", "error", err)
	}
}

// extendBy is what to ask of systemd: enough for the next round to start
// and end, and to report.
func (n *notifier) extendBy(next time.Duration) string {
	return fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (next.Round(time.Millisecond) + n.probeTimeout + extendMargin).Microseconds())
}

// start announces the first round.
func (n *notifier) start(targets int) {
	if n == nil {
		return
	}
	noun := "targets"
	if targets == 1 {
		noun = "target"
	}
	lines := []string{fmt.Sprintf("STATUS=probing %d %s", targets, noun)}
	if n.extend {
		lines = append(lines, n.extendBy(0))
	}
	n.send(lines...)
}

// progress reports a round's picture and, with --extend-timeout, asks for
// time until the end of the next round.
func (n *notifier) progress(status string, next time.Duration) {
	if n == nil {
		return
	}
	var lines []string
	if status != n.lastStatus {
		n.lastStatus = status
		lines = append(lines, "STATUS="+status)
	}
	if n.extend {
		lines = append(lines, n.extendBy(next))
	}
	n.send(lines...)
}

// ready reports readiness. READY=1 is not sent when a command is about to
// replace netready: under Type=notify that command is the service, and it
// says when it is ready.
func (n *notifier) ready(summary string, execing bool) {
	if n == nil {
		return
	}
	lines := []string{"STATUS=" + summary}
	if !execing {
		lines = append(lines, "READY=1")
	}
	n.send(lines...)
}
