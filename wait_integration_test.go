package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
)

// running is a netready process started in the background.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	start          time.Time
}

func startNetready(t *testing.T, ns *netnstest.NS, args ...string) *running {
	t.Helper()
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: ns.Command(context.Background(), bin, args...)}
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

// wait waits for the process, 60 s at most, and returns its exit code and
// how long it ran.
func (r *running) wait(t *testing.T) (int, time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, time.Since(r.start)
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("netready still running after 60s\nstdout: %s\nstderr: %s", &r.stdout, &r.stderr)
		return 0, 0
	}
}

func (r *running) String() string {
	return "stdout: " + r.stdout.String() + "\nstderr: " + r.stderr.String()
}

// noRetry makes sure that only a change event can cause a second round:
// both the backoff schedule and the local re-check are an hour away.
var noRetry = []string{"--backoff-initial", "1h", "--backoff-max", "1h", "--local-interval", "1h"}

func waitArgs(extra ...string) []string {
	return append(append([]string{"wait", "--timeout", "30s"}, noRetry...), extra...)
}

func TestIntegrationWaitEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before func(t *testing.T, l *lab)
		args   []string
		change func(t *testing.T, l *lab)
	}{
		{
			name: "default route added late",
			before: func(t *testing.T, l *lab) {
				l.client.IP(t, "route", "del", "default")
				l.client.IP(t, "-6", "route", "del", "default")
			},
			args:   []string{"route:default4"},
			change: func(t *testing.T, l *lab) { l.client.IP(t, "route", "add", "default", "via", serverIP4) },
		},
		{
			name:   "link brought up late",
			before: func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			args:   []string{"link:veth0", "tcp://10.213.1.1:8080"},
			change: func(t *testing.T, l *lab) {
				l.client.IP(t, "link", "set", "veth0", "up")
			},
		},
		{
			name: "IPv6 address added late",
			before: func(t *testing.T, l *lab) {
				l.client.IP(t, "-6", "route", "del", "default")
				l.client.IP(t, "-6", "addr", "flush", "dev", "veth0", "scope", "global")
			},
			args: []string{"tcp://[fd00:213::1]:8080"},
			change: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "add", clientIP6+"/64", "dev", "veth0", "nodad")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.server.Listen(t, serverIP4+":8080")
			l.server.Listen(t, "["+serverIP6+"]:8080")
			tt.before(t, l)
			r := startNetready(t, l.client, waitArgs(append([]string{"--json"}, tt.args...)...)...)
			time.Sleep(time.Second) // let the first round fail
			tt.change(t, l)
			code, _ := r.wait(t)
			if code != 0 {
				t.Fatalf("exit code: got %d, want 0\n%s", code, r)
			}
			var doc jsonDoc
			if err := json.Unmarshal(r.stdout.Bytes(), &doc); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, r)
			}
			if !doc.Ready || doc.Rounds < 2 {
				t.Errorf("got ready=%v after %d rounds, want ready after at least 2 (one failing, one after the change)", doc.Ready, doc.Rounds)
			}
		})
	}
}

// TestIntegrationWaitNoNetlink: with --no-netlink the same late route is
// not noticed before the schedule says so.
func TestIntegrationWaitNoNetlink(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	r := startNetready(t, l.client, append([]string{"wait", "--timeout", "3s", "--no-netlink"}, append(noRetry, "route:default4")...)...)
	time.Sleep(500 * time.Millisecond)
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	if code, _ := r.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1 (no event without netlink)\n%s", code, r)
	}
}

// TestIntegrationWaitResolvConfRename: the resolver that answers is named
// only in a resolv.conf that replaces the first one by rename.
func TestIntegrationWaitResolvConfRename(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 10.213.1.13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startNetready(t, l.client, waitArgs("--probe-timeout", "500ms", "--resolv-conf", conf, "dns:ready.test", "tcp://svc.test:8080")...)
	l.server.Listen(t, serverIP4+":8080")
	time.Sleep(time.Second)
	tmp := filepath.Join(dir, "resolv.conf.new")
	if err := os.WriteFile(tmp, []byte("nameserver 10.213.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	if code, _ := r.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, r)
	}
}

func TestIntegrationWaitTimeout(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	r := startNetready(t, l.client, "wait", "--timeout", "2s", "route:"+serverIP4, "tcp://10.213.1.1:9")
	code, took := r.wait(t)
	if code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", code, r)
	}
	if took < 2*time.Second {
		t.Errorf("gave up after %s, before --timeout 2s", took)
	}
	for _, s := range []string{"not ready after 2s", "tcp://10.213.1.1:9", "FAIL", "connect 10.213.1.1:9: connection refused", "route:10.213.1.1", "not ready: 1/2 targets pass"} {
		if !strings.Contains(r.stderr.String(), s) {
			t.Errorf("stderr does not contain %q\n%s", s, r)
		}
	}
	if r.stdout.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing (results go there only with --json)", &r.stdout)
	}
}

func TestIntegrationWaitSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sig  syscall.Signal
		args []string
		want int
	}{
		{"SIGTERM during the backoff sleep", syscall.SIGTERM, []string{"tcp://10.213.1.1:9"}, 143},
		{"SIGINT during a round", syscall.SIGINT, []string{"--probe-timeout", "20s", "dns://10.213.1.13/ready.test"}, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.dnsServer(t, "10.213.1.13", dnstest.Silent)
			r := startNetready(t, l.client, append([]string{"wait", "--timeout", "0"}, tt.args...)...)
			time.Sleep(time.Second)
			r.cmd.Process.Signal(tt.sig)
			if code, _ := r.wait(t); code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, r)
			}
		})
	}
}

func TestIntegrationWaitExec(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	o := netready(t, l.client, opts{}, "wait", "route:default", "--", "sh", "-c", "echo from the command; exit 7")
	if o.code != 7 || o.stdout != "from the command\n" {
		t.Errorf("got exit %d stdout %q, want 7 and the command's output\n%s", o.code, o.stdout, o)
	}
	o = netready(t, l.client, opts{}, "wait", "route:default", "--", "no-such-command-here")
	if o.code != 127 || !strings.Contains(o.stderr, "no-such-command-here") {
		t.Errorf("got exit %d stderr %q, want 127 naming the command", o.code, o.stderr)
	}
}
