package main

// link: targets against real links in a namespace.

import (
	"testing"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationLink(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tests := []labCase{
		{
			name:    "up with addresses",
			targets: []string{"link:any", "link:veth0"},
			wants:   []want{pass(), pass()},
		},
		{
			name:    "administratively down",
			setup:   func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			targets: []string{"link:any", "link:veth0"},
			wants: []want{
				fail("no link is up with a global address", "veth0 is down (administratively)"),
				fail("veth0 is down (administratively)"),
			},
		},
		{
			name:    "peer down, no carrier",
			setup:   peerDown,
			targets: []string{"link:veth0"},
			wants:   []want{fail("veth0 is down (no carrier)")},
		},
		{
			name: "up without a global address",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "flush", "dev", "veth0", "scope", "global")
			},
			targets: []string{"link:veth0", "link:any"},
			wants:   []want{fail("veth0 is up, no global address"), fail("veth0 is up, no global address")},
		},
		{
			name: "IPv6 address still tentative",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "flush", "dev", "veth0", "scope", "global")
				// Ten seconds between DAD probes keeps the address
				// tentative for the whole test.
				l.client.Sysctl(t, "net.ipv6.neigh.veth0.retrans_time_ms", "10000")
				l.client.IP(t, "addr", "add", "fd00:213::9/64", "dev", "veth0")
			},
			targets: []string{"link:veth0"},
			wants:   []want{fail("no global address yet", "fd00:213::9/64 tentative")},
		},
		{
			name:    "no such link",
			targets: []string{"link:eth9"},
			wants:   []want{fail("no link named eth9")},
		},
		{
			name: "only loopback",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "link", "del", "veth0")
			},
			targets: []string{"link:any"},
			wants:   []want{fail("no link other than loopback")},
		},
	}
	runLabCases(t, tests)
}
