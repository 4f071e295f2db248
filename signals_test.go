package main

// SIGINT and SIGTERM: an orderly, prompt exit with 130 or 143, and no verdict.

import (
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/cli"
	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationSignals: SIGTERM and SIGINT while a round is in flight and while
// wait sleeps between rounds. netready must exit at once with 128+signal
// and leave no process behind in the namespace. The bound asserted is
// generous; the delays measured are logged.
func TestIntegrationSignals(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tests := []struct {
		name  string
		sig   syscall.Signal
		round bool // in flight, else sleeping
		want  int
	}{
		{"SIGTERM during a round", syscall.SIGTERM, true, 143},
		{"SIGINT during a round", syscall.SIGINT, true, 130},
		{"SIGTERM during the backoff sleep", syscall.SIGTERM, false, 143},
		{"SIGINT during the backoff sleep", syscall.SIGINT, false, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			silent := l.dnsServer(t, "10.213.1.13", dnstest.Silent)
			var p *proc
			if tt.round {
				// The silent resolver holds the round for 20s.
				p = startNetready(t, l.client, nil, "wait", "--timeout", "0", "--probe-timeout", "20s", "dns://10.213.1.13/ready.test")
				deadline := time.Now().Add(20 * time.Second)
				for q, _ := silent.Queries(); q == 0; q, _ = silent.Queries() {
					if time.Now().After(deadline) {
						t.Fatalf("no query reached the resolver after 20s\n%s", p)
					}
					time.Sleep(5 * time.Millisecond)
				}
			} else {
				// The connection is refused at once; the next round is
				// an hour away.
				p = startNetready(t, l.client, nil, append(append([]string{"wait", "--timeout", "0"}, noRetry...), "tcp://10.213.1.1:9")...)
				p.waitLog(t, "not ready")
			}
			sent := time.Now()
			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t)
			delay := p.exited.Sub(sent)
			t.Logf("%s: exit %d, %s after the signal", tt.name, code, delay)
			if code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, p)
			}
			// What still failed, said on the way out.
			name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[tt.sig]
			for _, want := range []string{"netready: interrupted by " + name + " after ", "FAIL", "not ready: 0/1 targets pass"} {
				if !strings.Contains(p.stderr.String(), want) {
					t.Errorf("stderr does not say %q\n%s", want, p)
				}
			}
			if delay > 2*time.Second {
				t.Errorf("exited %s after the signal, want at once (200ms is the goal)", delay)
			}
			out, err := exec.Command("ip", "netns", "pids", l.client.Name).Output()
			if err != nil {
				t.Fatalf("ip netns pids: %v", err)
			}
			if pids := strings.Fields(string(out)); len(pids) > 0 {
				t.Errorf("processes left in the client namespace: %v", pids)
			}
		})
	}
}

func TestIntegrationSignalsNoVerdict(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tests := []struct {
		name  string
		sig   syscall.Signal
		args  []string
		after string // the message netready has logged before the signal is sent
		want  int
	}{
		{"SIGTERM during the backoff sleep", syscall.SIGTERM, []string{"tcp://10.213.1.1:9"}, "not ready", 143},
		{"SIGINT during a round", syscall.SIGINT, []string{"--probe-timeout", "20s", "dns://10.213.1.13/ready.test"}, "started", 130},
		// A signal cuts the round short: what its attempts return then is
		// no verdict, though --any would accept the target that passed.
		// Neither "ready" nor the command.
		{"SIGTERM during a round --any would accept", syscall.SIGTERM, []string{"--any", "--json", "--probe-timeout", "20s", "route:default", "dns://10.213.1.13/ready.test", "--", "sh", "-c", "echo the command ran"}, "started", 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.dnsServer(t, "10.213.1.13", dnstest.Silent)
			p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--timeout", "0"}, tt.args...)...)
			p.waitLog(t, tt.after)
			p.cmd.Process.Signal(tt.sig)
			if code := p.wait(t); code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, p)
			}
			if out := p.stdout.String(); out != "" {
				t.Errorf("stdout: got %q, want nothing\n%s", out, p)
			}
		})
	}
}

// TestIntegrationSignalExitCodes: what each command exits with on SIGINT
// and SIGTERM, during a round, is what the table of exit codes (--help,
// netready(8), README) says: check and wait were interrupted, 130 and 143;
// watch was stopped, which is how it ends, 0.
func TestIntegrationSignalExitCodes(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	want := map[string]map[syscall.Signal]int{
		"check": {syscall.SIGINT: 130, syscall.SIGTERM: 143},
		"wait":  {syscall.SIGINT: 130, syscall.SIGTERM: 143},
		"watch": {syscall.SIGINT: 0, syscall.SIGTERM: 0},
	}
	for cmd, codes := range want {
		for sig, code := range codes {
			t.Run(cmd+" "+unix.SignalName(sig), func(t *testing.T) {
				t.Parallel()
				var documented []int
				for _, r := range cli.ExitCodes() {
					if slices.Contains(r.Commands, cmd) && strings.Contains(r.Meaning, unix.SignalName(sig)) {
						documented = append(documented, r.Codes...)
					}
				}
				if !slices.Contains(documented, code) {
					t.Errorf("the table of exit codes gives %s on %s %v, want %d in it", cmd, unix.SignalName(sig), documented, code)
				}
				l := newLab(t)
				silent := l.dnsServer(t, "10.213.1.13", dnstest.Silent)
				// The silent resolver holds the round for 20s.
				p := startNetready(t, l.client, nil, cmd, "--probe-timeout", "20s", "dns://10.213.1.13/ready.test")
				poll(t, "a query at the resolver", 5*time.Millisecond, func() bool { q, _ := silent.Queries(); return q > 0 })
				p.cmd.Process.Signal(sig)
				if got := p.wait(t); got != code {
					t.Errorf("%s on %s: exit %d, want %d\n%s", cmd, unix.SignalName(sig), got, code, p)
				}
			})
		}
	}
}
