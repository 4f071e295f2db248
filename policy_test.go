package main

// The default policy: link:any route:default dns:.

import (
	"strings"
	"testing"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationDefaultPolicy runs "netready check" with no target: the
// policy link:any route:default dns:. against the lab's resolver.
func TestIntegrationDefaultPolicy(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	o := netready(t, l.client, opts{}, "check", "--json")
	if o.code != 0 || !o.doc.Ready || o.doc.Rounds != 1 {
		t.Fatalf("got exit %d ready=%v rounds=%d, want 0 true 1\n%s", o.code, o.doc.Ready, o.doc.Rounds, o)
	}
	var names []string
	for _, tg := range o.doc.Targets {
		names = append(names, tg.Target)
		if !tg.OK || tg.Attempts != 1 {
			t.Errorf("%s: got ok=%v attempts=%d, want true 1", tg.Target, tg.OK, tg.Attempts)
		}
	}
	if got, want := strings.Join(names, " "), "link:any route:default dns:."; got != want {
		t.Errorf("targets: got %q, want %q", got, want)
	}

	// Without a default route the policy fails, and says why.
	l.client.IP(t, "route", "del", "default")
	l.client.IP(t, "-6", "route", "del", "default")
	o = netready(t, l.client, opts{}, "check")
	if o.code != 1 {
		t.Errorf("exit code without a default route: got %d, want 1\n%s", o.code, o)
	}
	for _, s := range []string{"route:default", "FAIL", "no IPv4 default route", "not ready: 2/3 targets pass"} {
		if !strings.Contains(o.stdout, s) {
			t.Errorf("text report does not contain %q:\n%s", s, o.stdout)
		}
	}
}
