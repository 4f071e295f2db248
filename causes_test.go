package main

// Causes and hints: what a failing target's report says is wrong.

import (
	"strings"
	"testing"

	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationResolvedHint: the stub resolver of systemd-resolved is
// named in the hint when it refuses connections.
func TestIntegrationResolvedHint(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.client.WriteEtc(t, "resolv.conf", "nameserver 127.0.0.53\noptions edns0 trust-ad\n")
	o := netready(t, l.client, opts{}, "check", "dns:.")
	if o.code != 1 {
		t.Errorf("exit code: got %d, want 1", o.code)
	}
	for _, s := range []string{"127.0.0.53:53: connection refused", "hint: is systemd-resolved running?"} {
		if !strings.Contains(o.stdout, s) {
			t.Errorf("report does not contain %q:\n%s", s, o.stdout)
		}
	}
}

// TestIntegrationHints: hints that name the likely cause, for causes whose
// error alone could mislead.
func TestIntegrationHints(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(t *testing.T, l *lab)
		target string
		want   []string
	}{
		{
			// Not "is DHCP configuring the network?": there is a
			// default route, and its link is what is wrong.
			name:   "default route through a link without carrier",
			setup:  peerDown,
			target: "route:default4",
			want:   []string{"veth0 is down (no carrier)", "hint: the default route's link is not up: check the cable or the peer"},
		},
		{
			// Not "is the resolver reachable (route, firewall)?":
			// with lo down, there is no local route to loopback.
			name: "loopback down, local resolver",
			setup: func(t *testing.T, l *lab) {
				l.client.WriteEtc(t, "resolv.conf", "nameserver 127.0.0.53\n")
				l.client.IP(t, "link", "set", "lo", "down")
			},
			target: "dns:.",
			want:   []string{"127.0.0.53:53", "hint: the loopback interface is down: ip link set lo up"},
		},
		{
			name:   "loopback down, loopback endpoint",
			setup:  func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "lo", "down") },
			target: "tcp://127.0.0.1:80",
			want:   []string{"connect 127.0.0.1:80", "hint: the loopback interface is down: ip link set lo up"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			tt.setup(t, l)
			o := netready(t, l.client, opts{}, "check", "--probe-timeout", "500ms", tt.target)
			if o.code != 1 {
				t.Errorf("exit code: got %d, want 1\n%s", o.code, o)
			}
			for _, s := range tt.want {
				if !strings.Contains(o.stdout, s) {
					t.Errorf("report does not contain %q:\n%s", s, o.stdout)
				}
			}
		})
	}
}
