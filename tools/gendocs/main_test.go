package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	nrcli "github.com/netready/netready/cli"
	"github.com/netready/netready/probe"
)

// generated runs generate into a temporary directory and returns the
// contents of file.
func generated(t *testing.T, file string) string {
	t.Helper()
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// complete sources the bash completion script and returns what it offers
// for the command line words (the last one is being typed).
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var sh strings.Builder
	sh.WriteString("source " + script + "\n")
	sh.WriteString("COMP_WORDS=(")
	for _, w := range words {
		sh.WriteString("'" + w + "' ")
	}
	sh.WriteString(")\nCOMP_CWORD=" + string(rune('0'+len(words)-1)) + "\n")
	sh.WriteString("_netready\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", sh.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	script := filepath.Join(t.TempDir(), "netready.bash")
	if err := os.WriteFile(script, []byte(generated(t, "netready.bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		words []string
		want  []string // each must be offered
		not   []string // none may be offered
	}{
		{"commands", []string{"netready", ""}, []string{"check", "wait", "watch", "version"}, []string{"man", "completion"}},
		{"wait flags", []string{"netready", "wait", "--ba"}, []string{"--backoff-initial", "--backoff-max", "--backoff-multiplier"}, []string{"--timeout"}},
		{"check has no wait flags", []string{"netready", "check", "--"}, []string{"--probe-timeout", "--json"}, []string{"--backoff-initial", "--settle"}},
		{"watch has no --timeout", []string{"netready", "watch", "--t"}, nil, []string{"--timeout"}},
		{"target schemes", []string{"netready", "wait", "t"}, []string{"tcp://", "tls://"}, []string{"dns:"}},
		{"every kind's prefixes", []string{"netready", "check", ""}, targetPrefixes(), nil},
		{"a target's parameters", []string{"netready", "check", "tcp://db:5432?"}, []string{"tcp://db:5432?via=", "tcp://db:5432?src=", "tcp://db:5432?family="}, []string{"tcp://db:5432?status="}},
		{"the next parameter", []string{"netready", "wait", "https://x/?status=204&c"}, []string{"https://x/?status=204&ca="}, nil},
		{"http takes no ca=", []string{"netready", "wait", "http://x/?c"}, nil, []string{"http://x/?ca="}},
		{"dns parameters", []string{"netready", "check", "dns:vpn.internal?a"}, []string{"dns:vpn.internal?answer="}, nil},
		{"after -- it is the command's turn", []string{"netready", "wait", "route:default", "--", "t"}, nil, []string{"tcp://", "tls://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(t, script, tt.words...)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("got %v, want it to offer %q", got, w)
				}
			}
			for _, w := range tt.not {
				if slices.Contains(got, w) {
					t.Errorf("got %v, want it not to offer %q", got, w)
				}
			}
		})
	}
}

func TestManPage(t *testing.T) {
	page := generated(t, "netready.8")
	for _, s := range []string{
		`.TH netready 8`, ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH EXAMPLES", ".SH TARGETS",
		"NETREADY_PROBE_TIMEOUT", "NETREADY_BACKOFF_INITIAL", "NETREADY_TARGETS",
		".SH SYNOPSIS\n.EX\nnetready check [FLAGS] [TARGET...]\nnetready wait [FLAGS] [TARGET...] [-- COMMAND [ARG...]]\n",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("man page lacks %q", s)
		}
	}
	if strings.Contains(page, "Usage") {
		t.Errorf("man page has a Usage block: the SYNOPSIS says it")
	}
	// Every parameter has its entry.
	for _, p := range probe.ParamDocs() {
		if !strings.Contains(page, p.Syntax) {
			t.Errorf("man page lacks the parameter %s", p.Syntax)
		}
	}
	// Every kind of the table has its section.
	for _, k := range probe.Kinds {
		if !strings.Contains(page, ".SH "+k.ManTitle+"\n") {
			t.Errorf("man page lacks the section %q", k.ManTitle)
		}
	}
	// Every flag of every command is in the page as urfave/cli renders a
	// flag (in bold, with its dashes), since both come from the same
	// definition.
	app := nrcli.App()
	app.Setup()
	cmds, flags := commandWords(app)
	for _, c := range cmds {
		for _, f := range flags[c] {
			if !strings.Contains(page, `\fB`+f) && !strings.Contains(page, ", "+f) {
				t.Errorf("man page lacks flag %s of %s", f, c)
			}
		}
	}
}
