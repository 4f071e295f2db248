package cli

// What --help, the man page (tools/gendocs) and README say of the command
// line, each written once: a flag's names, placeholder, default and
// variable come from its definition; the variables that are no flag's,
// the exit codes and the examples from the tables here and in exit.go.

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// FlagDoc is what the documents say of one flag.
type FlagDoc struct {
	Name        string   // "timeout"
	Short       string   // "q", or "" for none
	Placeholder string   // what its value is, "DURATION"; "" for a boolean
	Usage       string   // what it does
	Default     string   // "2m"; "" when it is zero, false or empty
	Env         []string // the variables that set it
}

// Synopsis is the flag as help lists it: "-q, --quiet", "--timeout DURATION".
func (d FlagDoc) Synopsis() string {
	s := "--" + d.Name
	if d.Short != "" {
		s = "-" + d.Short + ", " + s
	}
	if d.Placeholder != "" {
		s += " " + d.Placeholder
	}
	return s
}

// FlagDocs documents cmd's visible flags, in their order, without the
// help flag (every command has it).
func FlagDocs(cmd *cli.Command) []FlagDoc {
	var docs []FlagDoc
	for _, f := range cmd.Flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		if slices.Contains(f.Names(), "help") {
			continue
		}
		docs = append(docs, flagDoc(f))
	}
	return docs
}

func flagDoc(f cli.Flag) FlagDoc {
	d := FlagDoc{Name: f.Names()[0]}
	for _, n := range f.Names()[1:] {
		if len(n) == 1 {
			d.Short = n
		}
	}
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return d
	}
	d.Env = df.GetEnvVars()
	// A word in backquotes names the value, as urfave/cli has it:
	// "serve metrics on `ADDRESS:PORT`".
	d.Usage = df.GetUsage()
	if i := strings.IndexByte(d.Usage, '`'); i >= 0 {
		if j := strings.IndexByte(d.Usage[i+1:], '`'); j >= 0 {
			d.Placeholder = d.Usage[i+1 : i+1+j]
			d.Usage = d.Usage[:i] + d.Placeholder + d.Usage[i+2+j:]
		}
	}
	switch f := f.(type) {
	case *cli.DurationFlag:
		d.Placeholder = "DURATION"
		if f.Value != 0 {
			d.Default = shortDuration(f.Value)
		}
	case *cli.Float64Flag:
		d.Placeholder = "NUMBER"
		if f.Value != 0 {
			d.Default = strconv.FormatFloat(f.Value, 'g', -1, 64)
		}
	case *envBoolFlag, *cli.BoolFlag:
	default:
		if df.TakesValue() {
			d.Default = df.GetValue()
			if d.Placeholder == "" {
				d.Placeholder = "VALUE"
			}
		}
	}
	d.Default = strings.Trim(d.Default, `"`)
	return d
}

// shortDuration writes d as people do: "2m", "15m", "1h30m", "250ms" (Go
// writes "2m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// EnvDoc is a variable netready reads that is no flag's, and the commands
// that read it.
type EnvDoc struct {
	Names    []string
	Commands []string
	Meaning  string
}

var probing = []string{cmdCheck, cmdWait, cmdWatch}

// envDocs are the variables that set no flag.
var envDocs = []EnvDoc{
	{[]string{"NETREADY_TARGETS"}, probing, "the targets, separated by spaces, when none are given as arguments"},
	{[]string{"NOTIFY_SOCKET"}, []string{cmdWait, cmdWatch}, "set by systemd for Type=notify: STATUS= says what is awaited, READY=1 is sent once ready (by wait, unless a command follows --)"},
	{[]string{"NO_COLOR"}, probing, "set to anything, no colour where --color is auto (no-color.org); TERM=dumb too"},
	{[]string{"SSL_CERT_FILE", "SSL_CERT_DIR"}, probing, "the roots https and tls targets trust instead of the system's (ca= overrides them)"},
	{[]string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}, probing, "the proxy of https and http targets (or lower case), unless proxy= says otherwise"},
}

// EnvDocs are the variables that set no flag and that cmd reads, or all
// of them for "".
func EnvDocs(cmd string) []EnvDoc {
	var docs []EnvDoc
	for _, d := range envDocs {
		if cmd == "" || slices.Contains(d.Commands, cmd) {
			docs = append(docs, d)
		}
	}
	return docs
}

// envFlagsHelp is what the documents say of the variables of the flags.
const envFlagsHelp = "Every flag can be set by its variable, named in brackets: a flag on the " +
	"command line wins. A boolean variable takes " + envBoolHelp + "."

// Example is one common use of netready, as README's quick start shows
// them.
type Example struct {
	Commands []string // the commands whose help shows it
	Top      bool     // netready --help shows it too
	What     string   // what it is for
	Line     string   // what to type, or to write in a unit
}

var examples = []Example{
	{[]string{cmdCheck}, true, "What is wrong with the network right now (the default policy):", "netready check"},
	{[]string{cmdCheck}, true, "Why a target fails, hop by hop (route, link, address, gateway):", "netready check --explain tcp://db.internal:5432"},
	{[]string{cmdCheck}, false, "The same report as JSON, for a program:", "netready check --json dns:api.example.com"},
	{[]string{cmdWait}, true, "In a systemd unit, start the service once what it needs answers:", "ExecStartPre=/usr/bin/netready wait --timeout 60s tcp://db.internal:5432"},
	{[]string{cmdWait}, true, "In a script, replace netready with a command once ready:", "netready wait https://registry.internal/health -- ./deploy.sh"},
	{[]string{cmdWait}, false, "Branch on the exit status, silently:", "if netready wait -q --timeout 30s dns:api.example.com; then ...; fi"},
	{[]string{cmdWait}, false, "The targets from the environment, as /etc/default/netready sets them:", `NETREADY_TARGETS="route:default dns:api.example.com" netready wait`},
	{[]string{cmdWatch}, true, "Serve Prometheus metrics and /ready on loopback:", "netready watch --metrics-listen 127.0.0.1:10213 tcp://db.internal:5432"},
	{[]string{cmdWatch}, false, "A line of JSON at every change, for a script:", "netready watch --json dns:api.example.com"},
	{[]string{cmdVersion}, false, "Which netready this is:", "netready version"},
	{[]string{cmdHelp}, false, "The help of one command, as netready wait --help prints it:", "netready help wait"},
}

// Examples are the examples of cmd's help, or of netready --help for "".
func Examples(cmd string) []Example {
	var ex []Example
	for _, e := range examples {
		if (cmd == "" && e.Top) || slices.Contains(e.Commands, cmd) {
			ex = append(ex, e)
		}
	}
	return ex
}
