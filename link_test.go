package main

// link: targets against real links in a namespace.

import (
	"strings"
	"testing"
	"time"

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
				fail("no link is up with a global address", "veth0 is down (administratively)").because("link-down"),
				fail("veth0 is down (administratively)").because("link-down"),
			},
		},
		{
			name:    "peer down, no carrier",
			setup:   peerDown,
			targets: []string{"link:veth0"},
			wants:   []want{fail("veth0 is down (no carrier)").because("no-carrier")},
		},
		{
			name: "up without a global address",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "flush", "dev", "veth0", "scope", "global")
			},
			targets: []string{"link:veth0", "link:any"},
			wants:   []want{fail("veth0 is up, no global address").because("no-address"), fail("veth0 is up, no global address").because("no-address")},
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
			wants:   []want{fail("no global address yet", "fd00:213::9/64 tentative").because("address-tentative")},
		},
		{
			// The server already has fd00:213::1: duplicate address
			// detection fails, and the conflict is the cause, not an
			// address still being configured.
			name: "IPv6 address that failed duplicate address detection",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "flush", "dev", "veth0", "scope", "global")
				l.client.IP(t, "addr", "add", serverIP6+"/64", "dev", "veth0")
				poll(t, "duplicate address detection to fail", 5*time.Millisecond, func() bool {
					return strings.Contains(l.client.IP(t, "-6", "addr", "show", "dev", "veth0"), "dadfailed")
				})
			},
			targets: []string{"link:veth0", "link:any"},
			wants: []want{
				fail("fd00:213::1/64 failed duplicate address detection").because("address-dad-failed").hinting("another host on the link uses this address"),
				fail("fd00:213::1/64 failed duplicate address detection").because("address-dad-failed").hinting("another host on the link uses this address"),
			},
		},
		{
			name:    "no such link",
			targets: []string{"link:eth9"},
			wants:   []want{fail("no link named eth9").because("no-link")},
		},
		{
			name: "only loopback",
			setup: func(t *testing.T, l *lab) {
				l.client.IP(t, "link", "del", "veth0")
			},
			targets: []string{"link:any"},
			wants:   []want{fail("no link other than loopback").because("no-link")},
		},
	}
	runLabCases(t, tests)
}
