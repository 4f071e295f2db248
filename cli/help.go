package cli

// --help and netready help: the help of netready and of each command,
// written for a terminal of 80 columns from the command-line definition,
// the table of target kinds and the tables of docs.go and exit.go.

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/netready/netready/probe"
)

// helpWidth is the width every line of the help fits in: a terminal's
// default, and what a help pasted into an e-mail or a ticket keeps.
const helpWidth = 80

// helpIndent indents the body of a section; a list's second column starts
// at most helpColumn further in (a longer first column puts the text on
// the next line).
const (
	helpIndent = 3
	helpColumn = 26
)

var helpOnce sync.Once

// useHelp makes urfave/cli print netready's help. Its HelpPrinter is the
// one hook it has for that (its templates cannot wrap a flag's line), and
// a variable of its package: it is set once, for every App.
func useHelp() {
	helpOnce.Do(func() { cli.HelpPrinter = printHelp })
}

// printHelp prints the help of the App or Command urfave/cli hands it; the
// template is urfave/cli's, unused.
func printHelp(w io.Writer, _ string, data any) {
	var h helpText
	switch d := data.(type) {
	case *cli.App:
		h = appHelp(d)
	case *cli.Command:
		h = commandHelp(d)
	default:
		return
	}
	io.WriteString(w, h.String())
}

// appHelp is netready --help.
func appHelp(app *cli.App) helpText {
	var h helpText
	h.section("NAME", app.Name+" - "+app.Usage)
	h.section("USAGE", app.UsageText)
	h.section("DESCRIPTION", app.Description)
	var cmds []helpRow
	for _, c := range app.VisibleCommands() {
		cmds = append(cmds, helpRow{c.Name, c.Usage})
	}
	h.list("COMMANDS", cmds)
	var kinds []helpRow
	for _, k := range probe.Kinds {
		for _, u := range k.Usage {
			kinds = append(kinds, helpRow{u.Syntax, u.Passes})
		}
	}
	h.list("TARGETS", kinds)
	var params []helpRow
	for _, p := range probe.ParamDocs() {
		params = append(params, helpRow{p.Syntax, probe.KindList(p.Kinds) + ": " + p.Help})
	}
	h.list("TARGET PARAMETERS (TARGET?NAME=VALUE&NAME=VALUE)", params)
	h.list("OPTIONS", flagRows(app.Flags))
	env := envRows("")
	env = append(env, helpRow{"NETREADY_*", "a command's flags: see netready help COMMAND. " + envFlagsHelp})
	h.list("ENVIRONMENT", env)
	h.list("EXIT STATUS", exitRows(""))
	h.examples(Examples(""))
	return h
}

// commandHelp is netready COMMAND --help.
func commandHelp(cmd *cli.Command) helpText {
	var h helpText
	h.section("NAME", "netready "+cmd.Name+" - "+cmd.Usage)
	usage := "netready " + cmd.Name
	if len(FlagDocs(cmd)) > 0 {
		usage += " [FLAGS]"
	}
	if cmd.ArgsUsage != "" {
		usage += " " + cmd.ArgsUsage
	}
	h.section("USAGE", usage)
	h.section("DESCRIPTION", cmd.Description)
	if strings.Contains(cmd.ArgsUsage, "TARGET") {
		var forms []string
		for _, k := range probe.Kinds {
			for _, u := range k.Usage {
				forms = append(forms, u.Syntax)
			}
		}
		h.section("TARGETS", "Any of "+strings.Join(forms, ", ")+" (netready help says when each passes, "+
			"and lists the parameters: TARGET?NAME=VALUE). With no TARGET, the default policy: "+strings.Join(DefaultTargets, " "))
	}
	h.list("OPTIONS", flagRows(cmd.Flags))
	if env := envRows(cmd.Name); len(env) > 0 || hasEnvFlags(cmd) {
		h.list("ENVIRONMENT", env)
		if hasEnvFlags(cmd) {
			h.b.WriteByte('\n')
			h.para(envFlagsHelp)
		}
	}
	h.list("EXIT STATUS", exitRows(cmd.Name))
	h.examples(Examples(cmd.Name))
	return h
}

// hasEnvFlags says whether a flag of cmd has a variable.
func hasEnvFlags(cmd *cli.Command) bool {
	return slices.ContainsFunc(FlagDocs(cmd), func(d FlagDoc) bool { return len(d.Env) > 0 })
}

// flagRows lists flags, the help flag last.
func flagRows(flags []cli.Flag) []helpRow {
	var rows []helpRow
	for _, d := range FlagDocs(&cli.Command{Flags: flags}) {
		text := d.Usage
		if d.Default != "" {
			text += " (default: " + d.Default + ")"
		}
		if len(d.Env) > 0 {
			text += " [$" + strings.Join(d.Env, ", $") + "]"
		}
		rows = append(rows, helpRow{d.Synopsis(), text})
	}
	return append(rows, helpRow{"-h, --help", "show this help"})
}

// envRows lists the variables cmd reads that set no flag ("": all).
func envRows(cmd string) []helpRow {
	var rows []helpRow
	for _, d := range EnvDocs(cmd) {
		rows = append(rows, helpRow{strings.Join(d.Names, ", "), d.Meaning})
	}
	return rows
}

// exitRows lists the exit codes of cmd; for "" every row, each naming its
// commands.
func exitRows(cmd string) []helpRow {
	var rows []helpRow
	for _, r := range exitCodesOf(cmd) {
		codes := make([]string, len(r.Codes))
		for i, c := range r.Codes {
			codes[i] = strconv.Itoa(c)
		}
		text := r.Meaning
		if cmd == "" {
			text = strings.Join(r.Commands, ", ") + ": " + text
		}
		rows = append(rows, helpRow{strings.Join(codes, ", "), text})
	}
	return rows
}

// helpText is a help being written, section by section.
type helpText struct{ b strings.Builder }

func (h *helpText) String() string { return h.b.String() }

// heading starts a section.
func (h *helpText) heading(title string) {
	if h.b.Len() > 0 {
		h.b.WriteByte('\n')
	}
	h.b.WriteString(title + ":\n")
}

// section is a heading and text, wrapped; nothing when text is empty.
func (h *helpText) section(title, text string) {
	if text == "" {
		return
	}
	h.heading(title)
	h.para(text)
}

// para writes text wrapped under the current heading; its lines are kept,
// and an empty line separates paragraphs.
func (h *helpText) para(text string) {
	pad := strings.Repeat(" ", helpIndent)
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			h.b.WriteByte('\n')
			continue
		}
		for _, l := range wrap(line, helpWidth-helpIndent) {
			h.b.WriteString(pad + l + "\n")
		}
	}
}

// helpRow is a row of a list of two columns: a flag and what it does.
type helpRow struct{ left, text string }

// list writes rows under a heading: the first column as wide as its
// widest entry up to helpColumn, the second wrapped in what is left.
func (h *helpText) list(title string, rows []helpRow) {
	if len(rows) == 0 {
		return
	}
	h.heading(title)
	col := 0
	for _, r := range rows {
		if n := utf8.RuneCountInString(r.left); n <= helpColumn && n > col {
			col = n
		}
	}
	pad := strings.Repeat(" ", helpIndent)
	hang := strings.Repeat(" ", helpIndent+col+2)
	for _, r := range rows {
		lines := wrap(r.text, helpWidth-len(hang))
		if n := utf8.RuneCountInString(r.left); n > col {
			// Too wide for the column: the text starts below it.
			h.b.WriteString(pad + r.left + "\n")
		} else if len(lines) > 0 {
			h.b.WriteString(pad + r.left + strings.Repeat(" ", col-n+2) + lines[0] + "\n")
			lines = lines[1:]
		}
		for _, l := range lines {
			h.b.WriteString(hang + l + "\n")
		}
	}
}

// examples writes the EXAMPLES section: what each is for, then the line.
func (h *helpText) examples(ex []Example) {
	if len(ex) == 0 {
		return
	}
	h.heading("EXAMPLES")
	for i, e := range ex {
		if i > 0 {
			h.b.WriteByte('\n')
		}
		h.para(e.What)
		h.b.WriteString(strings.Repeat(" ", 2*helpIndent) + e.Line + "\n")
	}
}

// wrap breaks text into lines of at most width columns, at spaces; a word
// longer than width has a line of its own.
func wrap(text string, width int) []string {
	var lines []string
	line, n := "", 0
	for _, w := range strings.Fields(text) {
		wn := utf8.RuneCountInString(w)
		switch {
		case n == 0:
			line, n = w, wn
		case n+1+wn <= width:
			line, n = line+" "+w, n+1+wn
		default:
			lines = append(lines, line)
			line, n = w, wn
		}
	}
	if n > 0 {
		lines = append(lines, line)
	}
	return lines
}

// helpCommand is netready help [COMMAND]: the help of netready, or of
// COMMAND, on stdout.
func helpCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:      cmdHelp,
		Usage:     "show the help of netready, or of COMMAND",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			switch c.NArg() {
			case 0:
				printHelp(s.stdout, "", c.App)
				return nil
			case 1:
				name := c.Args().First()
				cmd := c.App.Command(name)
				if cmd == nil || cmd.Hidden {
					return usage(unknownCommand(c.App, name))
				}
				printHelp(s.stdout, "", cmd)
				return nil
			}
			return usage(fmt.Errorf("help takes one command at most, got %q", c.Args().Slice()))
		},
	}
}
