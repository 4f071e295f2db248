package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// help runs netready with args and returns what it printed on stdout,
// failing unless it exited 0 with nothing on stderr.
func help(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), Build{Version: "test"}, append([]string{"netready"}, args...), &stdout, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("netready %q: exit %d, stderr %q", args, code, stderr.String())
	}
	return stdout.String()
}

// helpCommands are the ways to ask for each help: every command's, and
// netready's own.
func helpCommands(t *testing.T) [][]string {
	var forms [][]string
	forms = append(forms, []string{"--help"}, []string{"-h"}, []string{"help"})
	for _, c := range App().VisibleCommands() {
		forms = append(forms, []string{c.Name, "--help"}, []string{"help", c.Name})
	}
	if len(forms) < 3+2*5 {
		t.Fatalf("got %d forms of help, want the five commands' and netready's", len(forms))
	}
	return forms
}

func TestHelpFitsEightyColumns(t *testing.T) {
	for _, args := range helpCommands(t) {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := help(t, args...)
			for i, line := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(line); n > 80 {
					t.Errorf("line %d is %d columns, want 80 at most:\n%s", i+1, n, line)
				}
				if strings.ContainsRune(line, '\t') {
					t.Errorf("line %d has a tab, whose width the terminal decides:\n%s", i+1, line)
				}
				if strings.TrimRight(line, " ") != line {
					t.Errorf("line %d ends in spaces: %q", i+1, line)
				}
			}
		})
	}
}

func TestHelpSections(t *testing.T) {
	app := App()
	for _, args := range helpCommands(t) {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out := help(t, args...)
			// The command whose help it is: "help --help" is netready's,
			// as urfave/cli has it.
			name := ""
			switch {
			case len(args) == 2 && args[1] == "--help" && args[0] != "help":
				name = args[0]
			case len(args) == 2 && args[0] == "help" && args[1] != "--help":
				name = args[1]
			}
			sections := []string{"NAME:", "USAGE:", "OPTIONS:", "EXIT STATUS:", "EXAMPLES:"}
			if name != "version" && name != "help" {
				sections = append(sections, "ENVIRONMENT:", "NETREADY_TARGETS")
			}
			for _, s := range sections {
				if !strings.Contains(out, s) {
					t.Errorf("help lacks %q:\n%s", s, out)
				}
			}
			if name == "" {
				return
			}
			cmd := app.Command(name)
			// Every flag, with its variable and default.
			for _, d := range FlagDocs(cmd) {
				if !strings.Contains(out, "   "+d.Synopsis()) {
					t.Errorf("help lacks the flag %s", d.Synopsis())
				}
				for _, e := range d.Env {
					if !strings.Contains(out, "$"+e+"]") {
						t.Errorf("help lacks the variable %s of %s", e, d.Synopsis())
					}
				}
				if d.Default != "" && !strings.Contains(strings.Join(strings.Fields(out), " "), "(default: "+d.Default+")") {
					t.Errorf("help lacks the default %s of %s", d.Default, d.Synopsis())
				}
			}
			// Its own exit codes, and only those, in the EXIT STATUS
			// section.
			_, status, _ := strings.Cut(out, "\nEXIT STATUS:\n")
			status, _, _ = strings.Cut(status, "\n\n")
			status = strings.Join(strings.Fields(status), " ") + " "
			for _, r := range exitCodes {
				codes := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(r.Codes)), ", "), "[]")
				has := strings.Contains(status, codes+" "+r.Meaning+" ")
				if want := slices.Contains(r.Commands, name); has != want {
					t.Errorf("EXIT STATUS shows %s %q: %v, want %v\n%s", codes, r.Meaning, has, want, status)
				}
			}
		})
	}
}

// The exit codes the help says are the ones the code exits with: a
// command's help lists an exit code for each outcome it can have.
func TestExitCodesTable(t *testing.T) {
	want := map[string][]int{
		cmdCheck:   {exitReady, exitNotReady, exitUsage, 130, 143},
		cmdWait:    {exitReady, exitNotReady, exitUsage, exitCannot, exitNotFound, 130, 143},
		cmdWatch:   {exitReady, exitNotReady, exitUsage},
		cmdVersion: {exitReady, exitUsage},
		cmdHelp:    {exitReady, exitUsage},
	}
	for cmd, codes := range want {
		var got []int
		for _, r := range exitCodesOf(cmd) {
			got = append(got, r.Codes...)
		}
		if !slices.Equal(got, codes) {
			t.Errorf("%s: got exit codes %v, want %v", cmd, got, codes)
		}
	}
}

func TestEnvBool(t *testing.T) {
	for _, tt := range []struct {
		in       string
		want, ok bool
	}{
		{"1", true, true}, {"0", false, true},
		{"true", true, true}, {"FALSE", false, true},
		{"yes", true, true}, {"No", false, true},
		{"on", true, true}, {"OFF", false, true},
		{" yes ", true, true}, {"", false, true},
		{"maybe", false, false}, {"2", false, false}, {"yess", false, false},
	} {
		got, ok := parseEnvBool(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseEnvBool(%q): got %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// Every boolean flag's variable takes yes/no and on/off, on every command,
// and the command line still wins over it.
func TestEnvBoolFlags(t *testing.T) {
	for _, cmd := range App().VisibleCommands() {
		for _, f := range cmd.Flags {
			b, ok := f.(*envBoolFlag)
			if !ok {
				continue
			}
			for _, tt := range []struct {
				value string
				flag  []string
				want  bool
			}{
				{"yes", nil, true},
				{"on", nil, true},
				{"no", nil, false},
				{"off", nil, false},
				{"yes", []string{"--" + b.Name + "=false"}, false},
			} {
				t.Setenv(b.EnvVars[0], tt.value)
				app := newApp(Build{}, &streams{stdout: io.Discard, stderr: io.Discard})
				var got bool
				app.Command(cmd.Name).Action = func(c *cli.Context) error {
					got = c.Bool(b.Name)
					return nil
				}
				args := append([]string{"netready", cmd.Name}, tt.flag...)
				if err := app.Run(args); err != nil {
					t.Errorf("%s=%s %q: %v", b.EnvVars[0], tt.value, args, err)
					continue
				}
				if got != tt.want {
					t.Errorf("%s=%s %q: got --%s %v, want %v", b.EnvVars[0], tt.value, args, b.Name, got, tt.want)
				}
			}
		}
	}
}
