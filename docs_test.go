package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
	var out bytes.Buffer
	if code := run(t.Context(), []string{"netready", "completion", "bash"}, &out, &out); code != 0 {
		t.Fatalf("netready completion bash: exit %d: %s", code, &out)
	}
	script := filepath.Join(t.TempDir(), "netready.bash")
	if err := os.WriteFile(script, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		words []string
		want  []string // each must be offered
		not   []string // none may be offered
	}{
		{"commands", []string{"netready", ""}, []string{"check", "wait", "version"}, []string{"man", "completion"}},
		{"wait flags", []string{"netready", "wait", "--ba"}, []string{"--backoff-initial", "--backoff-max", "--backoff-multiplier"}, []string{"--timeout"}},
		{"check has no wait flags", []string{"netready", "check", "--"}, []string{"--probe-timeout", "--json"}, []string{"--backoff-initial", "--settle"}},
		{"target schemes", []string{"netready", "wait", "t"}, []string{"tcp://", "tls://"}, []string{"dns:"}},
		{"after -- it is the command's turn", []string{"netready", "wait", "route:default", "--", "t"}, nil, []string{"tcp://", "tls://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(t, script, tt.words...)
			for _, w := range tt.want {
				if !contains(got, w) {
					t.Errorf("got %v, want it to offer %q", got, w)
				}
			}
			for _, w := range tt.not {
				if contains(got, w) {
					t.Errorf("got %v, want it not to offer %q", got, w)
				}
			}
		})
	}
}

func contains(s []string, w string) bool {
	for _, x := range s {
		if x == w {
			return true
		}
	}
	return false
}

func TestManPage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"netready", "man"}, &out, &errb); code != 0 {
		t.Fatalf("netready man: exit %d: %s", code, &errb)
	}
	page := out.String()
	for _, s := range []string{
		`.TH netready 8`, ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH EXAMPLES", ".SH TARGETS",
		"NETREADY_PROBE_TIMEOUT", "NETREADY_BACKOFF_INITIAL", "NETREADY_TARGETS",
		"link:any, link:IFACE", "icmp://HOST", "--probe-timeout",
		".SH SYNOPSIS\n.EX\nnetready check [FLAGS] [TARGET...]\nnetready wait [FLAGS] [TARGET...] [-- COMMAND [ARG...]]\n",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("man page lacks %q", s)
		}
	}
	if strings.Contains(page, "Usage") {
		t.Errorf("man page has a Usage block: the SYNOPSIS says it")
	}
	// Every flag of every command is in the page, since both come from the
	// same definition.
	cmds, flags := commandWords(newApp(&out, &out))
	for _, c := range cmds {
		for _, f := range flags[c] {
			if !strings.Contains(page, strings.TrimLeft(f, "-")) {
				t.Errorf("man page lacks flag %s of %s", f, c)
			}
		}
	}
}
