// Package cli is netready's command line: the commands check, wait, watch
// and version, their flags and NETREADY_* variables, parsed once into
// options before anything runs; the report, progress and sd_notify
// messages they write; and the one mapping of outcomes to exit codes. It
// is the only package that knows urfave/cli; nothing below a command's
// action sees it. It never calls os.Exit: Main returns the exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// Build says which netready this is, for netready version.
type Build struct {
	Version string // "v1.2.3", or "dev"
	Commit  string // empty: the one the Go toolchain recorded, if any
}

// DefaultTargets is the policy when no target is given: some link is up with
// a global address, a default route exists, and a resolver answers for the
// root zone. It contacts no third-party host.
var DefaultTargets = []string{"link:any", "route:default", "dns:."}

// Main runs netready with args (args[0] is the program's name) and returns
// its exit code. It is the only place that prints an error or chooses an
// exit code; SIGINT and SIGTERM end what runs, in an orderly way.
func Main(b Build, args []string, stdout, stderr io.Writer) int {
	return Run(context.Background(), b, args, stdout, stderr)
}

// Run is Main with a context: cancelling it stops netready as a signal
// would, but with exit code 1.
func Run(ctx context.Context, b Build, args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sig := catchSignals(cancel)
	defer sig.release()

	// On a terminal, stderr keeps wait's and watch's status line below
	// whatever else is written there.
	app := newApp(b, &streams{stdout: stdout, stderr: newLiveLine(stderr), signals: sig})
	err := app.RunContext(ctx, permuteArgs(app, args))
	code, msg := exitStatus(err)
	if msg != "" {
		fmt.Fprintf(stderr, "netready: %s\n", msg)
	}
	return code
}

// streams is what the commands write to, and the signal handling that wait
// hands back before it runs a command.
type streams struct {
	stdout, stderr io.Writer
	signals        *signals
}

// App is netready's command-line definition, for tools that document it
// (the man page and completions are generated from it at build time). Its
// commands are not meant to be run from it.
func App() *cli.App {
	return newApp(Build{Version: "dev"}, &streams{stdout: io.Discard, stderr: io.Discard})
}

func newApp(b Build, s *streams) *cli.App {
	useHelp()
	app := &cli.App{
		Name:      "netready",
		Usage:     "wait until the network is actually usable",
		UsageText: "netready COMMAND [FLAGS] [TARGET...]\nnetready help [COMMAND]",
		Description: "netready probes what a service needs from the network — a link with an address, " +
			"a route, a DNS resolver that answers, a TCP/HTTP/TLS/ICMP endpoint — and says whether all of " +
			"it works: check probes once and reports, wait probes until all of it works, watch goes on " +
			"watching and reports every change. With no TARGET, the policy is the default one (" +
			strings.Join(DefaultTargets, " ") + "): some link is up with a global address, a default route " +
			"goes out through an up link, and a resolver from resolv.conf answers for the root zone.",
		Writer:          s.stdout,
		ErrWriter:       s.stderr,
		HideHelpCommand: true,
		HideVersion:     true,
		Flags: []cli.Flag{
			// urfave/cli adds its help flag only where there is no help
			// command.
			cli.HelpFlag,
			&cli.BoolFlag{Name: "version", Usage: "print the version, as netready version does"},
		},
		Commands: []*cli.Command{
			checkCommand(s),
			waitCommand(s),
			watchCommand(s),
			versionCommand(b, s),
			helpCommand(s),
		},
		// Exit codes are chosen by Run alone: urfave/cli honours an
		// ExitCoder only by type assertion, and would exit by itself.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		// --version wins over a command, as --help does.
		Before: func(c *cli.Context) error {
			if !c.Bool("version") {
				return nil
			}
			if err := printVersion(b, s); err != nil {
				return err
			}
			return &exitError{code: exitReady}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usage(unknownCommand(c.App, c.Args().First()))
			}
			// A usage error: the help goes to stderr with the error.
			printHelp(c.App.ErrWriter, "", c.App)
			return usage(errors.New("no command given"))
		},
	}
	for _, c := range app.Commands {
		// No "help" subcommand: "netready check help" would look up a help
		// topic and fail with exit 1; --help is there. Every flag error is
		// a usage error.
		c.HideHelpCommand = true
		c.OnUsageError = onUsageError
	}
	return app
}
