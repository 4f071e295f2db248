package main

// icmp: targets, with unprivileged and raw sockets.

import (
	"testing"

	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationICMP(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	noRaw := []string{"setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"}
	tests := []struct {
		name      string
		pingGroup string   // net.ipv4.ping_group_range in the client namespace
		wrap      []string // command that runs netready, to drop CAP_NET_RAW
		targets   []string
		wants     []want
	}{
		{
			name:    "raw socket as root",
			targets: []string{"icmp://10.213.1.1", "icmp://[fd00:213::1]", "icmp://server.test"},
			wants:   []want{pass(), pass(), pass()},
		},
		{
			name:      "unprivileged ping socket without CAP_NET_RAW",
			pingGroup: "0 2147483647",
			wrap:      noRaw,
			targets:   []string{"icmp://10.213.1.1", "icmp://[fd00:213::1]"},
			wants:     []want{pass(), pass()},
		},
		{
			name:      "neither ping socket nor raw socket allowed",
			pingGroup: "1 0",
			wrap:      noRaw,
			targets:   []string{"icmp://10.213.1.1"},
			wants:     []want{fail("net.ipv4.ping_group_range", "CAP_NET_RAW")},
		},
		{
			name:    "no echo reply",
			targets: []string{"icmp://10.213.1.77"},
			wants:   []want{fail("ping 10.213.1.77: no echo reply")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if tt.pingGroup != "" {
				l.client.Sysctl(t, "net.ipv4.ping_group_range", tt.pingGroup)
			}
			checkTargets(t, l.client, opts{wrap: tt.wrap, flags: fast}, tt.targets, tt.wants)
		})
	}
}
