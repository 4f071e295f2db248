// Command netready waits until the network is actually usable: a link with
// an address, a route, a DNS resolver that answers, remote endpoints that
// respond. See README.md and netready(8).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

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

// unknownCommand is the error for a first argument that names no command:
// it lists the commands --help shows, and for "help CMD" points to
// "CMD --help".
func unknownCommand(c *cli.Context) error {
	var names []string
	for _, cmd := range c.App.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	see := "netready --help"
	if c.Args().First() == "help" {
		if cmd := c.App.Command(c.Args().Get(1)); cmd != nil && !cmd.Hidden {
			see = "netready " + cmd.Name + " --help"
		}
	}
	return fmt.Errorf("unknown command %q (want %s; see %s)", c.Args().First(), orList(names), see)
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// onUsageError makes every error of the flag layer a usage error (exit 2),
// in netready's words: Go's flag package says "invalid value "5" for flag
// -timeout: parse error" and "flag provided but not defined: -bogus",
// urfave/cli "could not parse ... from environment variable ...".
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	return &usageError{flagError(c, err, isSubcommand)}
}

// flagError rewrites the messages of the flag layer, naming the flag as
// the user typed it ("-timeout" or "--timeout") or the variable that set
// it. A message it does not know is kept as it is.
func flagError(c *cli.Context, err error, isSubcommand bool) error {
	msg := err.Error()
	var (
		defs    []cli.Flag
		typed   []typedFlag
		stopped string
	)
	if c.Command != nil {
		defs = c.Command.Flags
	}
	if isSubcommand {
		// The root's arguments are not at hand (its context's parent has
		// no flag set): its flags are named with "--", or "-" for one
		// letter.
		typed, stopped = commandLine(c)
	}
	// form is flag name as typed: the argument at which the parse
	// stopped, or the first that gave the flag (that gave it value, if
	// byValue).
	form := func(name, value string, byValue bool) string {
		if tok, _, _ := strings.Cut(stopped, "="); !byValue && strings.TrimLeft(tok, "-") == name {
			return tok
		}
		for _, t := range typed {
			if t.name == name && (!byValue || t.value == value) {
				return t.token
			}
		}
		return dashed(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag %s", form(name, "", false))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("%s needs a value", form(name, "", false))
	}
	if arg, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Errorf("invalid flag %q", arg)
	}
	if rest, ok := strings.CutPrefix(msg, "Cannot use two forms of the same flag: "); ok {
		if a, b, ok := strings.Cut(rest, " "); ok {
			if slices.IndexFunc(typed, func(t typedFlag) bool { return t.name == b }) < slices.IndexFunc(typed, func(t typedFlag) bool { return t.name == a }) {
				a, b = b, a // in the order typed
			}
			return fmt.Errorf("%s and %s are the same flag: give one of them", form(a, "", false), form(b, "", false))
		}
	}
	// invalid value "5" for flag -timeout: parse error
	// invalid boolean value "maybe" for -json: parse error
	for _, prefix := range []string{"invalid value ", "invalid boolean value "} {
		rest, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			continue
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			break
		}
		value, _ := strconv.Unquote(q)
		rest = strings.TrimPrefix(strings.TrimPrefix(rest[len(q):], " for flag -"), " for -")
		name, _, _ := strings.Cut(rest, ": ")
		return fmt.Errorf("%s: %s", form(name, value, true), invalidValue(lookupFlag(defs, name), value))
	}
	// could not parse "bogus" as duration value from environment variable
	// "NETREADY_PROBE_TIMEOUT" for flag probe-timeout: time: invalid duration "bogus"
	if rest, ok := strings.CutPrefix(msg, "could not parse "); ok {
		if q, err := strconv.QuotedPrefix(rest); err == nil {
			value, _ := strconv.Unquote(q)
			_, rest, _ = strings.Cut(rest[len(q):], " from environment variable ")
			if v, err := strconv.QuotedPrefix(rest); err == nil {
				variable, _ := strconv.Unquote(v)
				name, _, _ := strings.Cut(strings.TrimPrefix(rest[len(v):], " for flag "), ":")
				return fmt.Errorf("%s: %s", variable, invalidValue(lookupFlag(defs, name), value))
			}
		}
	}
	return err
}

// invalidValue says what is wrong with value for flag f (nil if unknown).
func invalidValue(f cli.Flag, value string) string {
	switch f.(type) {
	case *cli.DurationFlag:
		if strings.Trim(value, "+-.0123456789") == "" && strings.ContainsAny(value, "0123456789") {
			return fmt.Sprintf("invalid duration %q (a duration needs a unit: 500ms, 5s, 2m)", value)
		}
		return fmt.Sprintf("invalid duration %q (want a number and a unit, as in 500ms, 5s, 2m; the units are ns, us, ms, s, m, h)", value)
	case *cli.Float64Flag:
		if _, err := strconv.ParseFloat(value, 64); errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("number %q is out of range", value)
		}
		return fmt.Sprintf("invalid number %q", value)
	case *cli.BoolFlag:
		return fmt.Sprintf("invalid boolean %q (want true or false)", value)
	}
	return fmt.Sprintf("invalid value %q", value)
}

// lookupFlag is the flag of defs that has name, or nil.
func lookupFlag(defs []cli.Flag, name string) cli.Flag {
	for _, f := range defs {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// dashed is flag name as help shows it: "--timeout", "-q".
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// typedFlag is one flag the command line gave.
type typedFlag struct {
	name   string // as typed, without dashes: "timeout", "q"
	token  string // as typed, without "=VALUE": "-timeout", "--quiet"
	value  string
	inline bool // given as TOKEN=VALUE, not as two arguments
}

// commandLine returns the flags the command line gave c's command, in
// order, and the argument at which parsing them stopped with an error
// ("" if it did not).
//
// c.IsSet cannot tell the command line from the environment: urfave/cli
// applies a NETREADY_* value as the flag's default and marks the flag set.
// The flag.FlagSet it parsed the arguments into, whose Visit sees only what
// the command line set, is unexported. The arguments themselves are not:
// the parent context's Args are the command's name followed by exactly the
// arguments the command's flag set was given. commandLine parses them
// again with the same parser (Go's flag package) and the same flag names
// and kinds (boolean or taking a value), so it reads them as urfave/cli
// did; its values never fail, so it sees past a value urfave/cli refused.
// Each value records the argument that gave it: the flag package consumes
// a flag's arguments before it calls Set, so fs.Args() tells how far it
// has read.
//
// c must be a command's context: the root's has no parent with arguments.
func commandLine(c *cli.Context) (flags []typedFlag, stopped string) {
	lineage := c.Lineage()
	if len(lineage) < 3 || c.Command == nil {
		return nil, ""
	}
	args := lineage[1].Args().Tail()
	fs := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		isBool := true
		if df, ok := f.(cli.DocGenerationFlag); ok {
			isBool = !df.TakesValue()
		}
		for _, name := range f.Names() {
			fs.Var(&recorder{fs: fs, args: args, name: name, isBool: isBool, flags: &flags}, name, "")
		}
	}
	if err := fs.Parse(args); err != nil {
		if read := len(args) - len(fs.Args()); read > 0 {
			stopped = args[read-1]
		}
	}
	return flags, stopped
}

// recorder is a flag.Value that appends every value set to flags.
type recorder struct {
	fs     *flag.FlagSet
	args   []string
	name   string
	isBool bool
	flags  *[]typedFlag
}

func (r *recorder) String() string   { return "" }
func (r *recorder) IsBoolFlag() bool { return r.isBool }

func (r *recorder) Set(value string) error {
	read := len(r.args) - len(r.fs.Args())
	t := typedFlag{name: r.name, value: value}
	if r.isBool || r.args[read-1] != value {
		// -q, --json=false, --timeout=5s: one argument.
		t.token, _, t.inline = strings.Cut(r.args[read-1], "=")
	} else {
		// --timeout 5s: the flag, then its value.
		t.token = r.args[read-2]
	}
	*r.flags = append(*r.flags, t)
	return nil
}

// setting names the value of flag name as the user gave it, for a message:
// "--timeout -5s" or "-timeout=-5s" from the command line, whichever was
// typed; "NETREADY_TIMEOUT=-5s" from the environment; "--timeout 2m0s
// (default)" when neither set it.
func setting(c *cli.Context, name string) string {
	var f cli.Flag
	if c.Command != nil {
		f = lookupFlag(c.Command.Flags, name)
	}
	if f == nil {
		return dashed(name)
	}
	flags, _ := commandLine(c)
	for i := len(flags) - 1; i >= 0; i-- {
		t := flags[i]
		if !slices.Contains(f.Names(), t.name) {
			continue
		}
		if t.inline && t.value == "" {
			return t.token + "="
		}
		if t.inline {
			return t.token + "=" + quoteArg(t.value)
		}
		return t.token + " " + quoteArg(t.value)
	}
	if df, ok := f.(cli.DocGenerationFlag); ok && c.IsSet(name) {
		for _, v := range df.GetEnvVars() {
			// The first variable present is the one urfave/cli read.
			if value, ok := os.LookupEnv(v); ok {
				return v + "=" + quoteArg(value)
			}
		}
	}
	return fmt.Sprintf("%s %v (default)", dashed(name), c.Value(name))
}

// quoteArg quotes s when it would not read as one word.
func quoteArg(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

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
