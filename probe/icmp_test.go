package probe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/probe"
)

// TestICMPDeadlinePassed: an attempt whose deadline has already passed
// fails as a timeout, sending nothing (wait --timeout 1ms leaves an icmp
// target such an attempt).
func TestICMPDeadlinePassed(t *testing.T) {
	target, err := probe.Parse("icmp://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Millisecond))
	defer cancel()
	r := probe.Probe(ctx, probe.NewEnv("", "", nil), target)
	if r.OK || r.Err == nil || !strings.Contains(r.Err.Error(), "i/o timeout") {
		t.Errorf("got ok=%v err=%v, want a failure with i/o timeout", r.OK, r.Err)
	}
}
