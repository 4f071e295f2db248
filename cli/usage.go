package cli

// The command line's mistakes, in netready's words: which command or flag
// was wrong, named as the user typed it or the variable that set it.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/probe"
)

// unknownCommand is the error for a first argument that names no command:
// the command it likely meant, or the list of those --help shows.
func unknownCommand(app *cli.App, name string) error {
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	if s := probe.Closest(name, names); s != "" {
		return fmt.Errorf("unknown command %q (did you mean %s?)", name, s)
	}
	return fmt.Errorf("unknown command %q (want %s; see netready --help)", name, orList(names))
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
	return usage(flagError(c, err, isSubcommand))
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
		return fmt.Errorf("unknown flag %s%s", form(name, "", false), flagHint(c, defs, name, isSubcommand))
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
		return fmt.Errorf("%s: %s", form(name, value, true), invalidValue(lookupFlag(defs, name), value, false))
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
				return fmt.Errorf("%s: %s", variable, invalidValue(lookupFlag(defs, name), value, true))
			}
		}
	}
	return err
}

// flagHint is what follows "unknown flag -name": the flag it likely meant
// (of the command, or of the root); the commands that have it, when it is
// another command's flag or, for the root, a command's flag given before
// the command; or nothing.
func flagHint(c *cli.Context, defs []cli.Flag, name string, isSubcommand bool) string {
	if !isSubcommand {
		defs = c.App.Flags
	}
	names := []string{"help"}
	for _, f := range defs {
		names = append(names, f.Names()...)
	}
	if s := probe.Closest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", dashed(s))
	}
	if isSubcommand {
		if has := commandsWith(c.App, name); len(has) > 0 {
			return fmt.Sprintf(" (it is a flag of %s)", orList(has))
		}
		return ""
	}
	// A command's flag before the command: "netready --json check" for
	// "netready check --json", maybe mistyped too.
	var all []string
	for _, cmd := range c.App.VisibleCommands() {
		for _, f := range cmd.Flags {
			all = append(all, f.Names()...)
		}
	}
	switch s := probe.Closest(name, all); {
	case s == name:
		return fmt.Sprintf(" (it is a flag of %s: give it after the command)", orList(commandsWith(c.App, s)))
	case s != "":
		return fmt.Sprintf(" (did you mean %s? it is a flag of %s: give it after the command)", dashed(s), orList(commandsWith(c.App, s)))
	}
	return ""
}

// commandsWith lists the visible commands that have the flag name.
func commandsWith(app *cli.App, name string) []string {
	var has []string
	for _, cmd := range app.VisibleCommands() {
		if lookupFlag(cmd.Flags, name) != nil {
			has = append(has, cmd.Name)
		}
	}
	return has
}

// invalidValue says what is wrong with value for flag f (nil if unknown),
// given on the command line or, if fromEnv, by its variable.
func invalidValue(f cli.Flag, value string, fromEnv bool) string {
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
	case *envBoolFlag, *cli.BoolFlag:
		if fromEnv {
			return fmt.Sprintf("invalid boolean %q (want %s)", value, envBoolHelp)
		}
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
