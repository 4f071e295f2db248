package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

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
		df, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			takesValue[n] = ok && df.TakesValue()
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
