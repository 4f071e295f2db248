package main

// The terminal: what a person sees at an 80-column terminal — wait's live
// status line and its end, check's table, Ctrl-C — captured from a real
// terminal (tmux) and compared with golden files in testdata/terminal.
// Timings are masked; run with -update to rewrite the goldens.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// term is a terminal of 80 columns and 24 rows: a tmux server on a socket
// of the test's own, one session running a shell command. It is killed
// when the test ends.
type term struct {
	t    *testing.T
	sock string
}

// newTerm runs command (a shell command line) in a new terminal; when it
// ends, "[exit N]" is printed and the terminal kept for capture.
func newTerm(t *testing.T, command string) *term {
	t.Helper()
	tm := &term{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	tm.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "t",
		command+`; echo "[exit $?]"; exec sleep 600`)
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command(needTool(tm.t, "tmux"), append([]string{"-S", tm.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the terminal shows, without its trailing empty lines;
// with escapes, the colours too.
func (tm *term) screen(escapes bool) string {
	tm.t.Helper()
	args := []string{"capture-pane", "-p", "-t", "t", "-S", "-"}
	if escapes {
		args = append(args, "-e")
	}
	return strings.TrimRight(tm.tmux(args...), "\n") + "\n"
}

// waitFor waits until the screen contains s (20 s at most: the test keeping
// pace with netready, not a measure of it), and returns that screen.
func (tm *term) waitFor(s string) string {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sc := tm.screen(false)
		if strings.Contains(sc, s) {
			return sc
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal does not show %q after 20s:\n%s", s, sc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inNS is the shell command that runs netready with args in ns, in a
// terminal that says nothing of colour (auto: colour), with env set.
func inNS(t *testing.T, ns *netnstest.NS, env string, args ...string) string {
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ip netns exec %s env -u NO_COLOR TERM=xterm-256color %s %s %s", ns.Name, env, bin, strings.Join(args, " "))
}

// Timings vary; the layout around them must not.
var (
	latencyRE   = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?ms\b( *)`)
	countdownRE = regexp.MustCompile(`\b(in|after) [0-9]+(\.[0-9])?s\b`)
)

// mask replaces timings with placeholders of the same width, so that
// columns stay where they were.
func mask(s string) string {
	s = latencyRE.ReplaceAllStringFunc(s, func(m string) string {
		if !strings.HasSuffix(m, " ") {
			return "Nms" // not in a column
		}
		return "Nms" + strings.Repeat(" ", len(m)-len("Nms"))
	})
	return countdownRE.ReplaceAllString(s, "$1 Ns")
}

// golden compares got with testdata/terminal/name.golden (-update writes
// it), and checks that no line is wider than the terminal.
func golden(t *testing.T, name, got string) {
	t.Helper()
	for _, line := range strings.Split(got, "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("a line of %d columns in an 80-column terminal: %q", n, line)
		}
	}
	path := filepath.Join("testdata", "terminal", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run the test with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("the terminal shows\n%s\nwant (%s)\n%s", got, path, want)
	}
}

// TestIntegrationTerminalWait: at a terminal, wait keeps one status line
// that fits 80 columns — the targets and causes first, the details cut,
// the countdown kept — and clears it at the end, where it says ready.
func TestIntegrationTerminalWait(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dns := l.dnsServer(t, serverIP4, dnstest.Answer)
	tm := newTerm(t, inNS(t, l.client, "", "wait", "--timeout", "30s", "--hosts-file", "''", "dns:late.test", "tcp://10.213.1.1:8080"))
	waiting := tm.waitFor("next round in")
	golden(t, "wait_waiting", mask(waiting))
	dns.AddRecords(t, "late.test. 60 IN A "+serverIP4)
	l.server.Listen(t, serverIP4+":8080")
	done := tm.waitFor("[exit ")
	golden(t, "wait_ready", mask(done))
	if strings.Contains(done, "waiting for") {
		t.Errorf("the status line is left behind:\n%s", done)
	}
}

// TestIntegrationTerminalInterrupt: Ctrl-C at a terminal: the status line
// is cleared and wait says what still failed, then exits 130.
func TestIntegrationTerminalInterrupt(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	tm := newTerm(t, inNS(t, l.client, "", "wait", "--hosts-file", "''", "dns:never.test", "tcp://10.213.1.1:9"))
	tm.waitFor("next round in")
	tm.tmux("send-keys", "-t", "t", "C-c")
	done := tm.waitFor("[exit ")
	golden(t, "wait_interrupted", mask(done))
}

// TestIntegrationTerminalCheck: check's table at 80 columns, its details
// wrapped at word boundaries; FAIL, ok and the causes in colour on a
// terminal, and no colour with NO_COLOR, --color=never or into a pipe —
// and colour with --color=always into a pipe.
func TestIntegrationTerminalCheck(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.serveHTTP(t, serverIP4+":8080", http.NotFoundHandler(), nil)
	args := []string{"check", "--hosts-file", "''", "link:any", "dns:ready.test", "dns:nosuch.test", "https://10.213.1.1:8080/", "tcp://10.213.1.1:9"}
	tm := newTerm(t, inNS(t, l.client, "", args...))
	done := tm.waitFor("[exit ")
	golden(t, "check", mask(done))

	colored := tm.screen(true)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\x1b\[[0-9;]*31m[^ ]*FAIL`),
		regexp.MustCompile(`\x1b\[[0-9;]*32mok`),
		regexp.MustCompile(`\x1b\[[0-9;]*33mnxdomain`),
	} {
		if !want.MatchString(colored) {
			t.Errorf("no %s in the coloured screen:\n%q", want, colored)
		}
	}
	for _, tc := range []struct {
		name, env, flag, pipe string
		color                 bool
	}{
		{"NO_COLOR", "NO_COLOR=1", "", "", false},
		{"--color=never", "", "--color=never", "", false},
		{"into a pipe", "", "", " | cat", false},
		{"--color=always into a pipe", "", "--color=always", " | cat", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTerm(t, inNS(t, l.client, tc.env, append([]string{"check", tc.flag}, args[1:]...)...)+tc.pipe)
			tm.waitFor("[exit ")
			if got := strings.Contains(tm.screen(true), "\x1b[3"); got != tc.color {
				t.Errorf("colour: got %v, want %v:\n%q", got, tc.color, tm.screen(true))
			}
		})
	}
}
