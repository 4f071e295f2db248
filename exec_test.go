package main

// wait TARGET... -- CMD: the command replaces netready once ready.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationExec(t *testing.T) {
	roottest.Require(t)
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

// TestIntegrationExecNotExecutable: the command after "--" exists but cannot be
// executed. A file without execute permission, or a directory, is found
// before waiting (126 at once, though the target never passes); a file
// the kernel cannot execute is found only by exec, once ready (126 too, as
// a shell says for "cannot execute binary file").
func TestIntegrationExecNotExecutable(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dir := t.TempDir()
	noX := filepath.Join(dir, "deploy.sh")
	if err := os.WriteFile(noX, []byte("#!/bin/sh\necho deployed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("\x7fELF\x02\x01\x01 not really an executable\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	never := []string{"wait", "--timeout", "60s", "tcp://10.213.1.1:9", "--"}
	tests := []struct {
		name string
		args []string
		code int
		errs []string
	}{
		{"file without execute permission", append(never, noX, "arg"), 126, []string{noX, "permission denied"}},
		{"directory", append(never, dir), 126, []string{dir, "is a directory"}},
		{"relative path that does not exist", append(never, "./no-such-script"), 127, []string{"./no-such-script"}},
		{"a file the kernel cannot execute", []string{"wait", "route:default4", "--", junk}, 126, []string{"exec " + junk, "exec format error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := netready(t, l.client, opts{}, tt.args...)
			took := time.Since(start)
			if o.code != tt.code {
				t.Errorf("exit code: got %d, want %d\n%s", o.code, tt.code, o)
			}
			for _, s := range tt.errs {
				if !strings.Contains(o.stderr, s) {
					t.Errorf("stderr does not contain %q\n%s", s, o)
				}
			}
			if strings.Contains(o.stdout, "deployed") {
				t.Errorf("the command ran\n%s", o)
			}
			// The target never passes and --timeout is 60s: an error
			// after waiting would come far later.
			if took > 15*time.Second {
				t.Errorf("took %s: the command was not checked before waiting", took)
			}
		})
	}
}
