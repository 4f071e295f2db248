// Command netready waits until the network is actually usable: a link with
// an address, a route, a DNS resolver that answers, remote endpoints that
// respond. See README.md and netready(8).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netready/netready/gate"
	"github.com/netready/netready/probe"
	"github.com/netready/netready/report"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit codes, as PRODUCT.md defines them.
const (
	exitReady    = 0
	exitNotReady = 1
	exitUsage    = 2
)

// defaultTargets is the policy when no target is given: some link is up with
// a global address, a default route exists, and a resolver answers for the
// root zone. It contacts no third-party host.
var defaultTargets = []string{"link:any", "route:default", "dns:."}

// usageError is a mistake in the command line or the environment: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// errNotReady is a check or wait that ended with targets failing: exit 1.
// The report has already said which.
var errNotReady = errors.New("not ready")

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// run is the whole program: it is the only place that prints an error or
// chooses an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	release := catchSignals(cancel)
	defer release()
	ctx = context.WithValue(ctx, releaseKey{}, release)

	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, permuteArgs(app, args))
	if errors.Is(err, errStopped) {
		return exitReady // watch ends this way on a signal
	}
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return 128 + int(se.sig)
	}
	var (
		ue *usageError
		ce *cmdError
	)
	switch {
	case err == nil:
		return exitReady
	case errors.Is(err, errNotReady):
		return exitNotReady
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "netready: %v\n", err)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "netready: %v\n", err)
		return ce.code
	}
	fmt.Fprintf(stderr, "netready: %v\n", err)
	return exitNotReady
}

// catchSignals turns the first SIGINT or SIGTERM into the cancellation of
// ctx (through cancel), for a prompt, orderly exit with 130 or 143. A second
// one is not caught: it ends netready at once, should stopping hang.
//
// The function it returns gives both signals back their first disposition,
// and returns only once a signal caught before has cancelled ctx. wait
// calls it before exec: a signal caught by netready just before would be
// lost to the command, which would then run although it was asked to stop.
func catchSignals(cancel context.CancelCauseFunc) (release func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		if s, ok := <-sigs; ok {
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			cancel(&signalError{s.(syscall.Signal)})
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sigs) // no more sends on sigs after this
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			close(sigs)
			<-handled
		})
	}
}

type releaseKey struct{}

// releaseSignals is catchSignals' release for run's ctx.
func releaseSignals(ctx context.Context) {
	if f, ok := ctx.Value(releaseKey{}).(func()); ok {
		f()
	}
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "netready",
		Usage:     "wait until the network is actually usable",
		UsageText: "netready COMMAND [FLAGS] [TARGET...]",
		Description: "netready probes what a service needs from the network — a link with an address,\n" +
			"a route, a DNS resolver that answers, a TCP/HTTP/TLS/ICMP endpoint — and reports\n" +
			"whether all of it works. With no TARGET the policy is: " + strings.Join(defaultTargets, " ") + "\n\n" +
			targetHelp,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		HideVersion:     true,
		Commands: append([]*cli.Command{
			checkCommand(stdout, stderr),
			waitCommand(stdout, stderr),
			watchCommand(stdout, stderr),
			versionCommand(stdout),
		}, docsCommands(stdout)...),
		// Exit codes are chosen by run alone; see STYLE.md on urfave/cli's
		// ExitCoder type assertion.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &usageError{unknownCommand(c)}
			}
			// A usage error: the help goes to stderr with the error.
			c.App.Writer = c.App.ErrWriter
			cli.ShowAppHelp(c)
			return &usageError{errors.New("no command given")}
		},
	}
	for _, c := range app.Commands {
		// No "help" subcommand: "netready check help" would look up a help
		// topic and fail with exit 1; --help is there. Every flag error is
		// a usage error.
		c.HideHelpCommand = true
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
	}
	return app
}

const targetHelp = `TARGETS:
   link:any, link:IFACE         the link (or some non-loopback link) is up with a global address
   route:default[4|6]           a default route (IPv4 or IPv6) goes out through an up link
   route:ADDR                   the kernel has a route to ADDR through an up link
   dns:NAME[?type=T]            a resolver from resolv.conf answers NAME (default type A; NS for .)
   dns://SERVER[:PORT]/NAME     that server answers NAME
   tcp://HOST:PORT              a TCP connection is established
   http://..., https://...      a 2xx response arrives (redirects are not followed)
   tls://HOST:PORT              a verified TLS handshake succeeds
   icmp://HOST                  an echo reply comes back

EXIT STATUS:
   0 ready, 1 not ready, 2 usage error, 126/127 the command after -- cannot be run / is not found,
   130/143 interrupted by SIGINT/SIGTERM`

// probeFlags are the flags shared by the commands that probe.
func probeFlags(timeout time.Duration, timeoutUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "timeout", Value: timeout, Usage: timeoutUsage, EnvVars: []string{"NETREADY_TIMEOUT"}},
		&cli.DurationFlag{Name: "probe-timeout", Value: 3 * time.Second, Usage: "bound on one attempt at one target", EnvVars: []string{"NETREADY_PROBE_TIMEOUT"}},
		&cli.BoolFlag{Name: "any", Usage: "ready when one target passes, not all", EnvVars: []string{"NETREADY_ANY"}},
		&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON document on stdout", EnvVars: []string{"NETREADY_JSON"}},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing; the exit status says it all", EnvVars: []string{"NETREADY_QUIET"}},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log each probe's phases on stderr", EnvVars: []string{"NETREADY_VERBOSE"}},
		&cli.StringFlag{Name: "resolv-conf", Value: probe.DefaultResolvConf, Usage: "resolver configuration to read", EnvVars: []string{"NETREADY_RESOLV_CONF"}},
		&cli.StringFlag{Name: "hosts-file", Value: probe.DefaultHostsFile, Usage: "hosts file consulted before DNS for target host names (empty: none)", EnvVars: []string{"NETREADY_HOSTS_FILE"}},
	}
}

// options are the parsed probe flags.
type options struct {
	timeout, probeTimeout  time.Duration
	any, json, quiet, verb bool
	resolvConf, hostsFile  string
	names                  []string
	targets                []probe.Target
	// cmd is what follows "--" (wait only).
	cmd []string
}

func parseOptions(c *cli.Context) (*options, error) {
	o := &options{
		timeout:      c.Duration("timeout"),
		probeTimeout: c.Duration("probe-timeout"),
		any:          c.Bool("any"),
		json:         c.Bool("json"),
		quiet:        c.Bool("quiet"),
		verb:         c.Bool("verbose"),
		resolvConf:   c.String("resolv-conf"),
		hostsFile:    c.String("hosts-file"),
	}
	if o.timeout < 0 {
		return nil, &usageError{fmt.Errorf("%s is negative", setting(c, "timeout"))}
	}
	if o.probeTimeout <= 0 {
		return nil, &usageError{fmt.Errorf("%s must be positive", setting(c, "probe-timeout"))}
	}
	if o.resolvConf == "" {
		return nil, &usageError{fmt.Errorf("%s is empty", setting(c, "resolv-conf"))}
	}
	o.names = c.Args().Slice()
	for i, a := range o.names {
		if a == "--" {
			o.names, o.cmd = o.names[:i], o.names[i+1:]
			break
		}
	}
	if len(o.names) == 0 {
		o.names = strings.Fields(os.Getenv("NETREADY_TARGETS"))
	}
	if len(o.names) == 0 {
		o.names = defaultTargets
	}
	ts, err := probe.ParseAll(o.names)
	if err != nil {
		return nil, &usageError{err}
	}
	o.targets = ts
	return o, nil
}

// probing makes the Action of a command that probes: it parses the
// options, refuses a command after "--" unless takesCmd, and calls run with
// a logger on stderr.
func probing(name string, takesCmd bool, stderr io.Writer, run func(c *cli.Context, o *options, log *slog.Logger) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		o, err := parseOptions(c)
		if err != nil {
			return err
		}
		if len(o.cmd) > 0 && !takesCmd {
			return &usageError{fmt.Errorf("%s runs no command: use netready wait TARGET... -- CMD", name)}
		}
		return run(c, o, newLogger(stderr, o))
	}
}

func newLogger(w io.Writer, o *options) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case o.quiet:
		level = slog.LevelError + 1
	case o.verb:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func checkCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "probe every target once, concurrently, and report",
		ArgsUsage: "[TARGET...]",
		Description: "One round: every target is probed once, all at once, and a row per target\n" +
			"is printed. Exit 0 if all pass (with --any: if one does), 1 if not, 2 on a usage error.",
		Flags:        probeFlags(0, "give up after this long in all (0: no limit beyond --probe-timeout)"),
		OnUsageError: onUsageError,
		Action: probing("check", false, stderr, func(c *cli.Context, o *options, log *slog.Logger) error {
			return check(c.Context, o, log, stdout)
		}),
	}
}

// check runs one round and reports it.
func check(ctx context.Context, o *options, log *slog.Logger, stdout io.Writer) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	nl := netlinkHandle(log)
	defer nl.Close()
	start := time.Now()
	env := probe.NewEnv(o.resolvConf, o.hostsFile, nl)
	results := probe.Round(ctx, env, o.targets, o.probeTimeout)
	out := report.Outcome{Elapsed: time.Since(start), Rounds: 1, Targets: make([]report.Target, len(results))}
	ok := make([]bool, len(results))
	for i, r := range results {
		ok[i] = r.OK
		out.Targets[i] = report.Target{Name: o.names[i], OK: r.OK, Latency: r.Latency, Detail: r.Detail, Err: r.Err, Hint: r.Hint, Attempts: 1}
		logResult(log, o.names[i], r)
	}
	out.Ready = gate.Ready(ok, o.any)
	if err := write(stdout, o, out); err != nil {
		return err
	}
	if !out.Ready {
		return errNotReady
	}
	return nil
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

func logResult(log *slog.Logger, name string, r probe.Result) {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"target", name, "ok", r.OK, "latency", r.Latency, "local", r.Local}
	for _, p := range r.Phases {
		attrs = append(attrs, p.Name, p.Duration)
	}
	if r.Err != nil {
		attrs = append(attrs, "error", r.Err)
	}
	log.Debug("probe", attrs...)
}

func write(stdout io.Writer, o *options, out report.Outcome) error {
	switch {
	case o.json:
		return report.JSON(stdout, out)
	case o.quiet:
		return nil
	}
	return report.Text(stdout, out)
}

func versionCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit and Go version",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &usageError{fmt.Errorf("version takes no arguments, got %q", c.Args().First())}
			}
			_, err := fmt.Fprintf(stdout, "netready %s (commit %s, %s %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// buildCommit is the commit stamped at link time, else the one the Go
// toolchain recorded, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// permuteArgs lets flags follow targets, as users expect
// ("netready check dns:. --json"): urfave/cli v2 stops parsing flags at the
// first positional argument. For the subcommand, flags (with their values)
// are moved before a "--" that is put ahead of the positional arguments;
// a "--" the user wrote, and everything after it, stays at the end.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	if h := strings.TrimLeft(args[1], "-"); len(h) < len(args[1]) && (h == "h" || h == "help") {
		// urfave/cli takes the argument after a help flag as a help topic,
		// and fails with exit 1 when it names no command.
		return args[:2]
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if name == "h" || name == "help" {
			// urfave/cli takes the first positional argument after a
			// help flag as a help topic: "check dns:. --help" would fail.
			return []string{args[0], args[1], a}
		}
		if !strings.Contains(name, "=") && takesValue[name] {
			if i+1 == len(rest) {
				// No value: let the flag parser say so, rather than
				// give the flag the "--" added below.
				return append([]string{args[0], args[1]}, flags...)
			}
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	out = append(out, "--")
	return append(out, pos...)
}
