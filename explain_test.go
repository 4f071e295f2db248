package main

// check --explain: under each target, its path hop by hop.

import (
	"strings"
	"testing"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationExplain: the path of a passing and of a failing target,
// as text (a tree under each row) and as JSON (the hops of each
// destination, in order).
func TestIntegrationExplain(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.client.IP(t, "route", "replace", "default", "via", "10.213.1.99") // nobody answers ARP for it
	targets := []string{"dns:ready.test", "tcp://10.213.50.1:8080"}

	o := netready(t, l.client, opts{}, append([]string{"check", "--explain", "--probe-timeout", "1s"}, targets...)...)
	if o.code != 1 {
		t.Errorf("exit code: got %d, want 1\n%s", o.code, o)
	}
	for _, want := range []string{
		"resolver 10.213.1.1:53",
		"├─ ok   route     10.213.1.1 dev veth0",
		"├─ ok   link      veth0: up",
		"├─ ok   address   veth0: 10.213.1.2/24",
		"├─ ok   neighbour 10.213.1.1 on veth0",
		"└─ ok   resolver  10.213.1.1:53 answered 1 A record",
		"endpoint 10.213.50.1:8080",
		"├─ ok   route     10.213.50.1 via 10.213.1.99 dev veth0",
		"└─ FAIL gateway   gateway 10.213.1.99 on veth0 does not answer ARP [gateway-unreachable]",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("the report lacks %q\n%s", want, o)
		}
	}

	o = checkTargets(t, l.client, opts{flags: []string{"--explain", "--probe-timeout", "1s"}}, targets,
		[]want{pass(), fail("gateway 10.213.1.99 on veth0 does not answer ARP").because("gateway-unreachable")})
	hops := func(i int) (kinds []string, last jsonHop) {
		p := o.doc.Targets[i].Paths
		if len(p) != 1 {
			t.Fatalf("%s: got %d paths, want 1\n%s", targets[i], len(p), o)
		}
		for _, h := range p[0].Hops {
			kinds = append(kinds, h.Hop)
		}
		return kinds, p[0].Hops[len(p[0].Hops)-1]
	}
	if kinds, last := hops(0); strings.Join(kinds, " ") != "route link address neighbour resolver" || !last.OK {
		t.Errorf("%s: got hops %v (last %+v), want route link address neighbour resolver, all ok", targets[0], kinds, last)
	}
	if kinds, last := hops(1); strings.Join(kinds, " ") != "route link address gateway" || last.OK || last.Cause != "gateway-unreachable" || last.Name != "10.213.1.99 on veth0" {
		t.Errorf("%s: got hops %v (last %+v), want route link address gateway, the gateway broken", targets[1], kinds, last)
	}
}
