package main

// stdout: results only, and a closed stdout neither hangs nor panics.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationStdoutClosed: the reader of netready's stdout is gone before
// the result is written (netready check --json | head -c 0). netready must
// neither panic nor hang: like any Unix filter, it dies of SIGPIPE, which a
// shell reports as 141 and "set -o pipefail" as a failure.
func TestIntegrationStdoutClosed(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"check --json", []string{"check", "--json", "route:default4"}},
		{"check, failing, text report", []string{"check", "route:10.213.1.1", "tcp://10.213.1.1:9"}},
		{"wait --json, ready", []string{"wait", "--json", "route:default4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" into a pipe nobody reads", func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := l.client.Command(ctx, bin, tt.args...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = w, &stderr
			err = cmd.Run()
			w.Close()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30s (hangs on a closed stdout)\n%s", &stderr)
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			t.Logf("%v: %v", tt.args, cmd.ProcessState)
			if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
				t.Errorf("got %v (%v), want death by SIGPIPE\n%s", cmd.ProcessState, err, &stderr)
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", &stderr)
			}
		})
	}
	// With stdout not open at all, the Go runtime opens /dev/null in its
	// place before main runs: the result is discarded, never written into
	// a socket that happens to get descriptor 1, and the exit status is
	// still the outcome.
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"passing", []string{"check", "--json", "route:default4"}, 0},
		{"failing", []string{"check", "--json", "tcp://10.213.1.1:9"}, 1},
	} {
		t.Run("check --json with stdout closed, "+tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := l.client.Command(ctx, "sh", "-c", `exec "$@" >&-`, "sh", bin)
			cmd.Args = append(cmd.Args, tt.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30s\n%s", &stderr)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.code {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.code, &stderr)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: got %q, want nothing", &stderr)
			}
		})
	}
}
