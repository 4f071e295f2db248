package main

// --timeout: wait ends, not ready, with the report.

import (
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationTimeout(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	p := startNetready(t, l.client, nil, "wait", "--timeout", "2s", "route:"+serverIP4, "tcp://10.213.1.1:9")
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", code, p)
	}
	if took := p.exited.Sub(p.start); took < 2*time.Second {
		t.Errorf("gave up after %s, before --timeout 2s", took)
	}
	for _, s := range []string{"not ready after 2s", "tcp://10.213.1.1:9", "FAIL", "connect 10.213.1.1:9: connection refused", "route:10.213.1.1", "not ready: 1/2 targets pass"} {
		if !strings.Contains(p.stderr.String(), s) {
			t.Errorf("stderr does not contain %q\n%s", s, p)
		}
	}
	if out := p.stdout.String(); out != "" {
		t.Errorf("stdout: got %q, want nothing (results go there only with --json)", out)
	}
}
