package main

// Network changes seen over netlink re-probe at once; storms are coalesced.

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationEvents(t *testing.T) {
	roottest.Require(t)
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
			p := startNetready(t, l.client, nil, waitArgs(append([]string{"--json", "-v"}, tt.args...)...)...)
			p.waitLog(t, "probe", "ok", "false") // the first round has failed
			tt.change(t, l)
			p.readyAfterChange(t, "the change")
		})
	}
}

// TestIntegrationNoNetlink: with --no-netlink the same late route is
// not noticed before the schedule says so.
func TestIntegrationNoNetlink(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--timeout", "3s", "--no-netlink"}, append(noRetry, "route:default4")...)...)
	p.waitLog(t, "probe", "target", "route:default4", "ok", "false")
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1 (no event without netlink)\n%s", code, p)
	}
}

// TestIntegrationRouteStorm: 20,000 route changes in one ip -batch, the last of
// which adds the default route that makes "wait route:default4" ready,
// overflow the netlink socket's default receive buffer (ENOBUFS). netready
// must read the state again and notice the route; no timer can start a
// round for it (noRetry).
//
// netready is stopped (SIGSTOP) while the storm is sent, so that nothing
// reads its socket: the overflow is certain on any machine, however fast
// netready reads, and the test checks that it happened.
func TestIntegrationRouteStorm(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	const n = 10_000
	batch := stormBatch(n) + "route add default via " + serverIP4 + "\n"

	args := append([]string{"wait", "--json", "-v", "--timeout", "60s"}, noRetry...)
	p := startNetready(t, l.client, nil, append(args, "route:default4")...)
	p.waitLog(t, "probe", "target", "route:default4", "ok", "false")
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ip := exec.Command("ip", "-n", l.client.Name, "-batch", "-")
	ip.Stdin = strings.NewReader(batch)
	out, err := ip.CombinedOutput()
	p.cmd.Process.Signal(syscall.SIGCONT)
	if err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0 (the default route came at the end of the storm)\n%s", code, p)
	}
	if d := p.doc(t); !d.Ready {
		t.Errorf("JSON does not say ready\n%s", p)
	}
	t.Log(waitOverLine(p))
	if ov := waitOverInt(t, p, "overruns"); ov == 0 {
		t.Errorf("got no netlink overrun (ENOBUFS) from %d changes sent while netready was stopped", 2*n+1)
	}
}
