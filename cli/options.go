package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/backoff"
	"github.com/netready/netready/metrics"
	"github.com/netready/netready/probe"
)

// options is everything a command was told, from its flags, the NETREADY_*
// variables and its arguments, parsed and checked before anything runs.
// Commands see options, never the flag layer.
type options struct {
	names   []string // the targets as the user wrote them
	targets []probe.Target
	cmd     []string // what follows "--" (wait only)

	timeout, probeTimeout time.Duration
	any, json             bool
	quiet, verbose        bool
	color                 string // --color: never, auto or always
	resolvConf, hostsFile string

	// wait and watch
	schedule      *backoff.Schedule
	settle        time.Duration
	localInterval time.Duration
	noNetlink     bool

	extendTimeout bool // wait
	explain       bool // check

	// watch
	recheck       time.Duration
	metricsListen string   // ADDRESS:PORT; empty: no metrics server
	webConfig     string   // the metrics server's TLS and auth; empty: none
	textfile      string   // empty: none
	onChange      []string // the program and its arguments; empty: none
}

// The defaults of the flags, each written once: the flags read them, and
// --help, the man page and README read the flags (the backoff schedule's
// are package backoff's; the resolver and hosts files, package probe's).
const (
	defaultProbeTimeout  = 3 * time.Second
	defaultWaitTimeout   = 2 * time.Minute // check's is 0: no limit beyond --probe-timeout
	defaultLocalInterval = 250 * time.Millisecond
	defaultRecheck       = 30 * time.Second
	defaultColor         = colorAuto
)

// commonFlags are the flags of every command that probes. timeout is its
// --timeout flag, nil for none.
func commonFlags(timeout *cli.DurationFlag) []cli.Flag {
	fs := []cli.Flag{
		&cli.DurationFlag{Name: "probe-timeout", Value: defaultProbeTimeout, Usage: "bound on one attempt at one target", EnvVars: []string{"NETREADY_PROBE_TIMEOUT"}},
		boolFlag("any", "ready when one target passes, not all", "NETREADY_ANY"),
		boolFlag("json", "print the result as one JSON document on stdout", "NETREADY_JSON"),
		boolFlag("quiet", "print nothing; the exit status says it all", "NETREADY_QUIET", "q"),
		boolFlag("verbose", "log each probe's phases on stderr", "NETREADY_VERBOSE", "v"),
		&cli.StringFlag{Name: "color", Value: defaultColor, Usage: "colour: `WHEN` is never, auto (a terminal, no NO_COLOR) or always", EnvVars: []string{"NETREADY_COLOR"}},
		&cli.StringFlag{Name: "resolv-conf", Value: probe.DefaultResolvConf, Usage: "resolver configuration `FILE` to read (one named must exist; only the default may be missing)", EnvVars: []string{"NETREADY_RESOLV_CONF"}},
		&cli.StringFlag{Name: "hosts-file", Value: probe.DefaultHostsFile, Usage: "hosts `FILE` consulted before DNS for target host names (empty: none)", EnvVars: []string{"NETREADY_HOSTS_FILE"}},
	}
	if timeout != nil {
		timeout.Name, timeout.EnvVars = "timeout", []string{"NETREADY_TIMEOUT"}
		fs = append([]cli.Flag{timeout}, fs...)
	}
	return fs
}

// pacingFlags are wait's and watch's: when to probe again.
func pacingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "settle", Usage: "ready only once every target has kept passing, with no network change, for this long", EnvVars: []string{"NETREADY_SETTLE"}},
		&cli.DurationFlag{Name: "backoff-initial", Value: backoff.DefaultInitial, Usage: "first interval between rounds for targets that leave the host", EnvVars: []string{"NETREADY_BACKOFF_INITIAL"}},
		&cli.DurationFlag{Name: "backoff-max", Value: backoff.DefaultMax, Usage: "longest interval between rounds", EnvVars: []string{"NETREADY_BACKOFF_MAX"}},
		&cli.Float64Flag{Name: "backoff-multiplier", Value: backoff.DefaultMultiplier, Usage: "growth of the interval after each failed round", EnvVars: []string{"NETREADY_BACKOFF_MULTIPLIER"}},
		&cli.DurationFlag{Name: "local-interval", Value: defaultLocalInterval, Usage: "interval between re-checks of failing targets that stay on this host (link, route, loopback)", EnvVars: []string{"NETREADY_LOCAL_INTERVAL"}},
		boolFlag("no-netlink", "do not re-probe on kernel network changes; poll on the schedule only", "NETREADY_NO_NETLINK"),
	}
}

// parseOptions reads c's flags and arguments into options, checking every
// value; a mistake is a usage error naming the flag as the user gave it.
func parseOptions(c *cli.Context) (*options, error) {
	o := &options{
		timeout:       c.Duration("timeout"),
		probeTimeout:  c.Duration("probe-timeout"),
		any:           c.Bool("any"),
		json:          c.Bool("json"),
		quiet:         c.Bool("quiet"),
		verbose:       c.Bool("verbose"),
		color:         c.String("color"),
		resolvConf:    c.String("resolv-conf"),
		hostsFile:     c.String("hosts-file"),
		settle:        c.Duration("settle"),
		localInterval: c.Duration("local-interval"),
		noNetlink:     c.Bool("no-netlink"),
		extendTimeout: c.Bool("extend-timeout"),
		recheck:       c.Duration("recheck"),
		explain:       c.Bool("explain"),
		metricsListen: c.String("metrics-listen"),
		webConfig:     c.String("web-config-file"),
		textfile:      c.String("textfile"),
		onChange:      strings.Fields(c.String("on-change")),
	}
	if o.color == "" {
		o.color = defaultColor // NETREADY_COLOR= in a defaults file
	}
	has := func(name string) bool { return lookupFlag(c.Command.Flags, name) != nil }
	switch {
	case o.timeout < 0:
		return nil, usage(fmt.Errorf("%s is negative", setting(c, "timeout")))
	case o.probeTimeout <= 0:
		return nil, usage(fmt.Errorf("%s must be positive", setting(c, "probe-timeout")))
	case o.resolvConf == "":
		return nil, usage(fmt.Errorf("%s is empty", setting(c, "resolv-conf")))
	case o.color != colorNever && o.color != colorAuto && o.color != colorAlways:
		return nil, usage(fmt.Errorf("%s: want never, auto or always", setting(c, "color")))
	}
	if c.IsSet("resolv-conf") {
		// A file the user names must be there: a typo would otherwise
		// read as "no nameserver", and send wait after the loopback
		// default. A symbolic link whose target appears later (a
		// resolver's stub file, written once it runs) is there.
		if _, err := os.Lstat(o.resolvConf); errors.Is(err, fs.ErrNotExist) {
			return nil, usage(fmt.Errorf("%s: no such file (only the default, %s, may be missing)", setting(c, "resolv-conf"), probe.DefaultResolvConf))
		}
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
		o.names = DefaultTargets
	}
	ts, err := probe.ParseAll(o.names)
	if err != nil {
		return nil, usage(err)
	}
	o.targets = ts
	if has("backoff-initial") {
		if err := o.pacing(c); err != nil {
			return nil, err
		}
	}
	if has("recheck") && o.recheck <= 0 {
		return nil, usage(fmt.Errorf("%s must be positive", setting(c, "recheck")))
	}
	if o.metricsListen != "" {
		if err := metrics.CheckAddress(o.metricsListen); err != nil {
			return nil, usage(fmt.Errorf("%s: %w", setting(c, "metrics-listen"), err))
		}
	}
	if o.webConfig != "" {
		if o.metricsListen == "" {
			return nil, usage(fmt.Errorf("%s configures the metrics server: give --metrics-listen too", setting(c, "web-config-file")))
		}
		if err := metrics.CheckWebConfig(o.webConfig); err != nil {
			return nil, usage(fmt.Errorf("%s: %w", setting(c, "web-config-file"), err))
		}
	}
	return o, nil
}

// pacing reads the pacing flags into a schedule and checks the intervals.
//
// A backoff interval the user set (flag or NETREADY_* variable) wins over
// a default: --backoff-initial alone above the default cap raises the cap
// to it, --backoff-max alone below the default initial interval lowers
// that to it. Only two settings that contradict each other are an error.
func (o *options) pacing(c *cli.Context) error {
	initial, max, mult := c.Duration("backoff-initial"), c.Duration("backoff-max"), c.Float64("backoff-multiplier")
	switch {
	case initial <= 0:
		return usage(fmt.Errorf("%s must be positive", setting(c, "backoff-initial")))
	case max <= 0:
		return usage(fmt.Errorf("%s must be positive", setting(c, "backoff-max")))
	case !(mult >= 1): // NaN too
		return usage(fmt.Errorf("%s must be at least 1", setting(c, "backoff-multiplier")))
	case max >= initial:
	case c.IsSet("backoff-initial") && c.IsSet("backoff-max"):
		return usage(fmt.Errorf("%s is below %s", setting(c, "backoff-max"), setting(c, "backoff-initial")))
	case c.IsSet("backoff-max"):
		initial = max
	default:
		max = initial
	}
	s, err := backoff.New(initial, max, mult, backoff.DefaultJitter)
	if err != nil {
		return usage(fmt.Errorf("%s %s %s: %w", setting(c, "backoff-initial"), setting(c, "backoff-max"), setting(c, "backoff-multiplier"), err))
	}
	o.schedule = s
	switch {
	case o.settle < 0:
		return usage(fmt.Errorf("%s is negative", setting(c, "settle")))
	case o.localInterval <= 0:
		return usage(fmt.Errorf("%s must be positive", setting(c, "local-interval")))
	}
	return nil
}

// action makes a command's Action: it parses the options, refuses a
// command after "--" unless takesCmd, and calls run with them and a logger
// on stderr.
func action(name string, takesCmd bool, s *streams, run func(ctx context.Context, o *options, log *slog.Logger) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		o, err := parseOptions(c)
		if err != nil {
			return err
		}
		if len(o.cmd) > 0 && !takesCmd {
			return usage(fmt.Errorf("%s runs no command: use netready wait TARGET... -- CMD", name))
		}
		return run(c.Context, o, newLogger(s.stderr, o))
	}
}

func newLogger(w io.Writer, o *options) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case o.quiet:
		level = slog.LevelError + 1
	case o.verbose:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
