package main

// route: targets against the kernel's routing tables in a namespace.

import (
	"testing"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationRoute(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	delDefaults := func(t *testing.T, l *lab) {
		l.client.IP(t, "route", "del", "default")
		l.client.IP(t, "-6", "route", "del", "default")
	}
	tests := []labCase{
		{
			name:    "default routes present",
			targets: []string{"route:default", "route:default4", "route:default6", "route:10.213.1.1", "route:fd00:213::1", "route:10.213.77.7"},
			wants:   []want{pass(), pass(), pass(), pass(), pass(), pass()},
		},
		{
			name:    "local address",
			targets: []string{"route:" + clientIP4, "route:" + clientIP6},
			wants:   []want{pass(), pass()},
		},
		{
			name:    "no default route",
			setup:   delDefaults,
			targets: []string{"route:default", "route:default4", "route:default6", "route:10.213.77.7", "route:10.213.1.1"},
			// A dual-stack host: the hint of route:default names DHCP
			// and router advertisements, route:default6's the latter.
			wants: []want{
				fail("no IPv4 default route", "no IPv6 default route").hinting("is DHCP or router advertisement configuring the network"),
				fail("no IPv4 default route"),
				fail("no IPv6 default route: no router advertisement with a router lifetime has given one to veth0 (fd00:213::2/64)").
					hinting("does a router on veth0 send router advertisements"),
				fail("no route to 10.213.77.7", "network is unreachable"),
				pass(),
			},
		},
		{
			name:    "IPv6 default only",
			setup:   func(t *testing.T, l *lab) { l.client.IP(t, "route", "del", "default") },
			targets: []string{"route:default", "route:default4", "route:default6"},
			wants:   []want{pass(), fail("no IPv4 default route"), pass()},
		},
		{
			name: "blackhole default is not a route out",
			setup: func(t *testing.T, l *lab) {
				delDefaults(t, l)
				l.client.IP(t, "route", "add", "blackhole", "default")
			},
			targets: []string{"route:default4"},
			wants:   []want{fail("no IPv4 default route")},
		},
		{
			name:    "default route through a link without carrier",
			setup:   peerDown,
			targets: []string{"route:default4"},
			wants:   []want{fail("default via 10.213.1.1 dev veth0, but veth0 is down (no carrier)")},
		},
		{
			name: "default route in another table",
			setup: func(t *testing.T, l *lab) {
				delDefaults(t, l)
				l.client.IP(t, "route", "add", "default", "via", serverIP4, "table", "100")
			},
			targets: []string{"route:default4"},
			wants:   []want{pass()},
		},
	}
	runLabCases(t, tests)
}
