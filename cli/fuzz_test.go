package cli

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/backoff"
	"github.com/netready/netready/metrics"
)

// FuzzCommandLine fuzzes the flag and environment layer of the CLI without
// ever probing anything: every command's Action is replaced by one that
// only parses (parseOptions) and returns.
// version keeps its own Action, which only checks its arguments and prints.
//
// The input is a command (chosen by cmd from fuzzCommands), a string of
// arguments (split on NULs when it has one, else on white space) and
// NETREADY_* environment values, one "NAME=VALUE" per line (NAME with or
// without the NETREADY_ prefix; an unknown NAME picks a variable by its
// length, so that mutations still reach every variable).
//
// It asserts that nothing panics, that every failure is a usage error
// (exit 2) whose message names something the input said (a flag, a value,
// an argument, a variable) and that leaves stdout empty, and that what
// parses is usable: positive probe timeout, non-negative timeout, targets,
// string values that come from the input, and a backoff schedule whose
// intervals are positive and within --backoff-max.
//
// It sets environment variables with os.Setenv: the fuzz function must
// not run in parallel with anything that reads them (fuzz workers are
// separate processes and call it sequentially; the seed corpus runs after
// the package's tests).
func FuzzCommandLine(f *testing.F) {
	seeds := []struct {
		cmd       string
		args, env string
	}{
		{"check", "", ""},
		{"check", "--json route:default dns:.", ""},
		{"check", "route:default --json -q", ""},
		{"check", "dns:. --probe-timeout 500ms --timeout=2s link:any", ""},
		{"check", "--timeout", ""},
		{"check", "route:127.0.0.1 --resolv-conf", ""},
		{"check", "--probe-timeout soon route:127.0.0.1", ""},
		{"check", "--probe-timeout 0s", ""},
		{"check", "--probe-timeout=-1ms", ""},
		{"check", "--timeout -1s route:127.0.0.1", ""},
		{"check", "--json=maybe", ""},
		{"check", "-v=x -q", ""},
		{"check", "--no-such-flag", ""},
		{"check", "---x", ""},
		{"check", "tcp://db.internal", ""},
		{"check", "db.internal:5432", ""},
		{"check", "route:default -- sh -c true", ""},
		{"check", "--resolv-conf= dns:.", ""},
		{"check", "\x00\x00", ""},
		{"check", "dns:x\x00--json\x00\x00tcp://[::1]:1", ""},
		{"wait", "--timeout 0 route:default -- ./deploy.sh --json", ""},
		{"wait", "-- ./deploy.sh", ""},
		{"wait", "route:default --backoff-initial 0", ""},
		{"wait", "--backoff-initial=1h --backoff-max 1s", ""},
		{"wait", "--backoff-multiplier 0.5", ""},
		{"wait", "--backoff-multiplier NaN --backoff-initial 1ms", ""},
		{"wait", "--backoff-multiplier Inf", ""},
		{"wait", "--backoff-multiplier 1e308 --backoff-max 2562047h", ""},
		{"wait", "--settle -1s", ""},
		{"wait", "--local-interval 0", ""},
		{"wait", "--extend-timeout=false --settle 1s --any", ""},
		{"watch", "--recheck 1s dns:.", ""},
		{"watch", "--no-netlink=true --json", ""},
		{"watch", "--metrics-listen 127.0.0.1:10213 dns:.", ""},
		{"watch", "--metrics-listen=:0 --textfile x.prom", ""},
		{"watch", "--metrics-listen [fe80::1%eth0]:http", ""},
		{"watch", "--on-change", ""},
		{"watch", "", "METRICS_LISTEN=localhost:1\nTEXTFILE=/tmp/x.prom"},
		{"watch", "", "ON_CHANGE=  /usr/local/bin/hook  a\tb "},
		{"check", "--on-change=x", ""},
		{"watch", "--web-config-file web.yml", ""},
		{"watch", "--metrics-listen 127.0.0.1:1 --web-config-file /dev/null", ""},
		{"watch", "", "WEB_CONFIG_FILE=/nonexistent\nMETRICS_LISTEN=127.0.0.1:1"},
		{"version", "", ""},
		{"version", "extra", ""},
		{"version", "--json", ""},
		{"", "", ""},
		{"", "bogus", ""},
		{"", "--bogus check", ""},
		{"", "check --help", ""},
		{"check", "", "TIMEOUT=bogus"},
		{"check", "", "NETREADY_PROBE_TIMEOUT=-5s"},
		{"check", "", "JSON=maybe"},
		{"check", "", "TARGETS=tcp://x"},
		{"check", "", "TARGETS=route:default  dns:. \t link:any"},
		{"check", "", "RESOLV_CONF="},
		{"check", "", "HOSTS_FILE=\nRESOLV_CONF=/tmp/r"},
		{"check", "route:default", "TARGETS=tcp://x\nQUIET=1"},
		{"wait", "", "BACKOFF_MULTIPLIER=NaN"},
		{"wait", "", "BACKOFF_INITIAL=0\nBACKOFF_MAX=1s"},
		{"wait", "", "SETTLE=-1s"},
		{"wait", "", "LOCAL_INTERVAL=0s"},
		{"wait", "", "EXTEND_TIMEOUT=sure"},
		{"watch", "", "RECHECK=1s\nNO_NETLINK=1"},
		{"wait", "--backoff-initial 1h", ""},
		{"wait", "--backoff-max=100ms", ""},
		{"wait", "", "BACKOFF_MAX=1s"},
		{"wait", "--backoff-initial 2562047h", ""},
		{"wait", "--backoff-max 2h", "BACKOFF_INITIAL=1h\nBACKOFF_MAX=1s"},
		{"watch", "--backoff-initial=1h", "BACKOFF_MAX=1s"},
		{"check", "--timeout 5", ""},
		{"check", "-timeout=-5s", "TIMEOUT=-5s"},
		{"check", "-q --quiet -v", ""},
		{"check", "--resolv-conf --resolv-conf=x", ""},
		{"check", "", "PROBE_TIMEOUT=5"},
		{"", "-x check", ""},
		{"", "help wait", ""},
		{"", "help wiat", ""},
		{"", "help", ""},
		{"", "--version", ""},
		{"", "--version check", ""},
		{"", "--timout 5s", ""},
		{"wait", "--timout 5s", ""},
		{"check", "tpc://db:5432?famliy=6", ""},
		{"check", "", "ANY=yes\nJSON=Off"},
		{"wait", "", "NO_NETLINK=on\nEXTEND_TIMEOUT=no"},
		{"check", "", "EXPLAIN=sure"},
	}
	for _, s := range seeds {
		f.Add(uint8(slices.Index(fuzzCommands, s.cmd)), s.args, s.env)
	}
	vars := envVars(App())
	f.Fuzz(func(t *testing.T, cmd uint8, args, env string) {
		argv := []string{"netready"}
		if c := fuzzCommands[int(cmd)%len(fuzzCommands)]; c != "" {
			argv = append(argv, c)
		}
		argv = append(argv, splitArgs(args)...)
		envs := parseEnv(vars, env)
		restore := setEnv(t, vars, envs)
		defer restore()

		p, stdout, err := parseCommandLine(argv)
		if code, _ := exitStatus(err); err != nil && code == exitReady {
			return // --version: printed, nothing more to do
		}
		if err != nil {
			if code, _ := exitStatus(err); code != exitUsage {
				t.Fatalf("%q %q: got error %T %q (exit %d), want a usage error (exit 2)", argv, envs, err, err, code)
			}
			if msg := err.Error(); !namesInput(msg, argv[1:], envs) {
				t.Fatalf("%q %q: got message %q, want it to name the offending flag, value, argument or variable", argv, envs, msg)
			}
			if len(argv) > 1 && slices.Contains(fuzzCommands[:4], argv[1]) && stdout != "" {
				t.Fatalf("%q %q: usage error %q printed %q on stdout, want nothing", argv, envs, err, stdout)
			}
			return
		}
		if p.o == nil {
			return // help, version
		}
		o := p.o
		if o.timeout < 0 || o.probeTimeout <= 0 {
			t.Fatalf("%q %q: parsed --timeout %s --probe-timeout %s, want >= 0 and > 0", argv, envs, o.timeout, o.probeTimeout)
		}
		if len(o.targets) == 0 || len(o.targets) != len(o.names) {
			t.Fatalf("%q %q: parsed %d targets from %d names, want as many and at least one", argv, envs, len(o.targets), len(o.names))
		}
		for _, v := range []struct{ flag, env, got, def string }{
			{"resolv-conf", "NETREADY_RESOLV_CONF", o.resolvConf, p.defResolvConf},
			{"hosts-file", "NETREADY_HOSTS_FILE", o.hostsFile, p.defHostsFile},
		} {
			if !fromInput(v.got, v.def, argv[1:], envs[v.env]) {
				t.Fatalf("%q %q: --%s is %q, which is neither its default %q nor a value in the input", argv, envs, v.flag, v.got, v.def)
			}
		}
		if o.metricsListen != "" {
			if err := metrics.CheckAddress(o.metricsListen); err != nil || !fromInput(o.metricsListen, "", argv[1:], envs["NETREADY_METRICS_LISTEN"]) {
				t.Fatalf("%q %q: parsed --metrics-listen %q (%v), want a valid address from the input", argv, envs, o.metricsListen, err)
			}
		}
		if o.webConfig != "" && (o.metricsListen == "" || metrics.CheckWebConfig(o.webConfig) != nil) {
			t.Fatalf("%q %q: parsed --web-config-file %q with --metrics-listen %q, want a file that checks, and a listener", argv, envs, o.webConfig, o.metricsListen)
		}
		if !fromInput(o.textfile, "", argv[1:], envs["NETREADY_TEXTFILE"]) {
			t.Fatalf("%q %q: parsed --textfile %q, want a value from the input", argv, envs, o.textfile)
		}
		for _, w := range o.onChange {
			if w == "" || strings.ContainsAny(w, " \t\n") {
				t.Fatalf("%q %q: parsed --on-change %q, want words without spaces", argv, envs, o.onChange)
			}
		}
		if o.schedule == nil {
			return // check
		}
		if o.settle < 0 || o.localInterval <= 0 {
			t.Fatalf("%q %q: parsed --settle %s --local-interval %s, want >= 0 and > 0", argv, envs, o.settle, o.localInterval)
		}
		for i := range 12 {
			d := o.schedule.Next()
			if d <= 0 || d > p.max {
				t.Fatalf("%q %q: backoff interval %d is %s, want in (0, %s]", argv, envs, i+1, d, p.max)
			}
			// The first interval is the initial one, give or take the
			// jitter, unless it is above the cap.
			if low := float64(min(p.initial, p.max)) * (1 - backoff.DefaultJitter); i == 0 && float64(d) < low-1 {
				t.Fatalf("%q %q: first backoff interval is %s, want at least %s", argv, envs, d, time.Duration(low))
			}
		}
	})
}

// fuzzCommands are the commands FuzzCommandLine puts first; "" puts none,
// so the arguments reach the application itself.
var fuzzCommands = []string{"check", "wait", "watch", "version", ""}

// parsed is what a probing command's replaced Action parsed.
type parsed struct {
	o                           *options
	defResolvConf, defHostsFile string
	// wait and watch only:
	// initial and max are the backoff intervals the schedule should
	// use: a value set (flag or environment) wins over a default.
	initial, max time.Duration
	multiplier   float64
	// noOnUsageError: the command named first has no OnUsageError, so a
	// flag error from it comes back as a plain error.
	noOnUsageError bool
}

// parseCommandLine runs the application on argv (permuted as run does)
// with every probing Action replaced by parsing only, and returns what was
// parsed, what went to stdout, and the error run would map to an exit code.
func parseCommandLine(argv []string) (*parsed, string, error) {
	var stdout, stderr bytes.Buffer
	app := newApp(Build{Version: "dev"}, &streams{stdout: &stdout, stderr: &stderr})
	p := &parsed{}
	for _, c := range app.Commands {
		if len(argv) > 1 && c.Name == argv[1] {
			p.noOnUsageError = c.OnUsageError == nil
		}
		switch c.Name {
		case "check", "wait", "watch":
			paces := c.Name != "check"
			c.Action = func(c *cli.Context) error {
				p.defResolvConf, p.defHostsFile = flagDefault(c, "resolv-conf"), flagDefault(c, "hosts-file")
				o, err := parseOptions(c)
				if err != nil {
					return err
				}
				p.o = o
				if !paces {
					return nil
				}
				p.initial, p.max, p.multiplier = c.Duration("backoff-initial"), c.Duration("backoff-max"), c.Float64("backoff-multiplier")
				if !c.IsSet("backoff-max") {
					// An initial interval set above the default cap
					// raises the cap; one set explicitly is kept.
					p.max = max(p.max, p.initial)
				}
				return nil
			}
		case "version":
			// Its own Action: it checks its arguments and prints, nothing else.
		default:
			c.Action = func(*cli.Context) error { return nil }
		}
	}
	err := app.Run(permuteArgs(app, argv))
	return p, stdout.String(), err
}

// flagDefault is the default value of the string flag name of c's command.
func flagDefault(c *cli.Context, name string) string {
	for _, f := range c.Command.Flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == name {
			return sf.Value
		}
	}
	return ""
}

// envVars are the environment variables the application reads: every
// flag's, and NETREADY_TARGETS.
func envVars(app *cli.App) []string {
	vars := []string{"NETREADY_TARGETS"}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			if df, ok := f.(cli.DocGenerationFlag); ok {
				for _, e := range df.GetEnvVars() {
					if !slices.Contains(vars, e) {
						vars = append(vars, e)
					}
				}
			}
		}
	}
	slices.Sort(vars)
	return vars
}

// splitArgs splits s on NULs when it has one (keeping empty arguments),
// else on white space.
func splitArgs(s string) []string {
	if s == "" {
		return nil
	}
	if strings.Contains(s, "\x00") {
		return strings.Split(s, "\x00")
	}
	return strings.Fields(s)
}

// parseEnv reads "NAME=VALUE" lines (at most 4) into variables from vars.
// Values lose their NULs, which no environment can hold.
func parseEnv(vars []string, s string) map[string]string {
	env := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		if i == 4 {
			break
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		name = strings.ToUpper(name)
		if !strings.HasPrefix(name, "NETREADY_") {
			name = "NETREADY_" + name
		}
		if !slices.Contains(vars, name) {
			name = vars[len(name)%len(vars)]
		}
		env[name] = strings.ReplaceAll(value, "\x00", "")
	}
	return env
}

// setEnv clears every variable of vars, sets those of env, and returns a
// function that puts back what was there before.
func setEnv(t *testing.T, vars []string, env map[string]string) (restore func()) {
	saved := map[string]*string{}
	for _, v := range vars {
		if old, ok := os.LookupEnv(v); ok {
			saved[v] = &old
		} else {
			saved[v] = nil
		}
		os.Unsetenv(v)
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			t.Fatalf("setenv %s=%q: %v", k, v, err)
		}
	}
	return func() {
		for k, v := range saved {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// namesInput reports whether msg names something the input said: a flag
// name, a flag's value, an argument, an environment variable, its flag or
// its value (a NETREADY_TARGETS value word by word). Tokens of fewer than 3
// bytes must appear quoted, or as "-NAME" for a flag ("-=" as itself), so
// that "0" or "a" does not match any message by chance.
func namesInput(msg string, args []string, env map[string]string) bool {
	has := func(tok string, flag bool) bool {
		switch {
		case strings.Contains(msg, strconv.Quote(tok)):
			return true
		case tok == "":
			return false
		case flag && strings.Contains(msg, "-"+tok):
			return true
		}
		return (len(tok) >= 3 || flag && len(tok) >= 2) && strings.Contains(msg, tok)
	}
	if msg == "no command given" {
		return true // there is nothing to name, and the environment is not read
	}
	for _, a := range args {
		if has(a, strings.HasPrefix(a, "-")) {
			return true
		}
		if len(a) > 1 && a[0] == '-' {
			name, value, eq := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if has(name, true) || (eq && has(value, false)) {
				return true
			}
		}
	}
	for k, v := range env {
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "NETREADY_")), "_", "-")
		if has(k, false) || has(flag, true) || has(v, false) {
			return true
		}
		if k == "NETREADY_TARGETS" {
			for _, w := range strings.Fields(v) {
				if has(w, false) {
					return true
				}
			}
		}
	}
	return false
}

// fromInput reports whether a string flag's value got is its default or a
// value the input gave: an argument (a flag's value is the next
// argument), the part after "=" of one, or the environment variable's.
func fromInput(got, def string, args []string, env string) bool {
	if got == def || got == env {
		return true
	}
	for _, a := range args {
		if a == got {
			return true
		}
		if _, v, ok := strings.Cut(a, "="); ok && v == got {
			return true
		}
	}
	return false
}
