package main

// What the network beyond the host says: ICMP errors from routers and
// firewalls on the way, read from the probe socket's error queue; routes
// that refuse; this host's own firewall; and the twins of each case where
// the network says nothing (the ICMP error suppressed), whose words must
// stay honest. TestIntegrationCauses runs these labs beside its own. Each lab first checks its own
// premise from the kernel's ICMP counters (/proc/net/snmp, snmp6): the
// error really arrives, or really does not.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// routerLab is the lab with a third namespace, far, behind the server,
// which forwards between its two links:
//
//	client veth0 10.213.1.2 -- 10.213.1.1 veth1 server veth2 10.213.2.1 -- 10.213.2.2 veth3 far
//	             fd00:213::2 -- fd00:213::1             fd00:213:2::1 -- fd00:213:2::2
//
// The server sends ICMP errors without rate limit, so that every packet
// that should get one gets one.
type routerLab struct {
	*lab
	far *netnstest.NS
}

const (
	farIP4      = "10.213.2.2"
	farIP6      = "fd00:213:2::2"
	routerFar4  = "10.213.2.1"
	routerFar6  = "fd00:213:2::1"
	unrouted4   = "10.213.50.1" // the server has no route to it
	unrouted6   = "fd00:213:50::1"
	loopTarget4 = "10.213.60.1" // the server and far route 10.213.60.0/24 to each other
	loopTarget6 = "fd00:213:60::1"
)

func newRouterLab(t *testing.T) *routerLab {
	t.Helper()
	l := &routerLab{lab: newLab(t), far: netnstest.New(t)}
	netnstest.Veth(t, l.server, "veth2", l.far, "veth3")
	l.server.IP(t, "addr", "add", routerFar4+"/24", "dev", "veth2")
	l.server.IP(t, "addr", "add", routerFar6+"/64", "dev", "veth2", "nodad")
	l.far.IP(t, "addr", "add", farIP4+"/24", "dev", "veth3")
	l.far.IP(t, "addr", "add", farIP6+"/64", "dev", "veth3", "nodad")
	// The routers' link-local addresses skip duplicate address
	// detection: while they are tentative, the server cannot resolve
	// far's neighbour entry, and nothing is forwarded between them.
	l.server.Sysctl(t, "net.ipv6.conf.veth2.accept_dad", "0")
	l.far.Sysctl(t, "net.ipv6.conf.veth3.accept_dad", "0")
	l.server.IP(t, "link", "set", "veth2", "up")
	l.far.IP(t, "link", "set", "veth3", "up")
	waitOperUp(t, l.server, "veth2")
	waitOperUp(t, l.far, "veth3")
	l.far.IP(t, "route", "add", "default", "via", routerFar4)
	l.far.IP(t, "-6", "route", "add", "default", "via", routerFar6)
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.icmp_ratelimit", "0"},
		{"net.ipv6.icmp.ratelimit", "0"},
	} {
		l.server.Sysctl(t, kv[0], kv[1])
	}
	l.far.Sysctl(t, "net.ipv4.ip_forward", "1")
	l.far.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	return l
}

// icmpIn reads one of the kernel's ICMP counters in ns: "InDestUnreachs"
// or "InTimeExcds" of /proc/net/snmp, "Icmp6InDestUnreachs" or
// "Icmp6InTimeExcds" of /proc/net/snmp6.
func icmpIn(t *testing.T, ns *netnstest.NS, name string) int {
	t.Helper()
	file := "/proc/net/snmp"
	if strings.HasPrefix(name, "Icmp6") {
		file = "/proc/net/snmp6"
	}
	out, err := ns.Command(t.Context(), "cat", file).Output()
	if err != nil {
		t.Fatalf("read %s in %s: %v", file, ns.Name, err)
	}
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name { // snmp6: "NAME VALUE"
			n, _ := strconv.Atoi(f[1])
			return n
		}
		// snmp: a header line "Icmp: InMsgs ..." then "Icmp: 3 ...".
		if len(f) > 1 && f[0] == "Icmp:" && i+1 < len(lines) {
			vals := strings.Fields(lines[i+1])
			for j, k := range f {
				if k == name && j < len(vals) {
					n, _ := strconv.Atoi(vals[j])
					return n
				}
			}
			return -1
		}
	}
	t.Fatalf("no counter %s in %s of %s", name, file, ns.Name)
	return 0
}

// connectOnce opens one TCP connection from ns to hostport with bash's
// /dev/tcp, not with netready, and waits at most 2 s: a premise's probe.
func connectOnce(t *testing.T, ns *netnstest.NS, hostport string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	host, port, _ := strings.Cut(hostport, "|")
	ns.Command(ctx, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)).Run()
}

// premise checks that connecting from the client to host:port changes the
// client's ICMP counter by as much as arrives says: at least one error
// arrives, or none does.
func premise(t *testing.T, l *routerLab, counter, host, port string, arrives bool) {
	t.Helper()
	before := icmpIn(t, l.client, counter)
	connectOnce(t, l.client, host+"|"+port)
	got := icmpIn(t, l.client, counter) - before
	if arrives && got == 0 {
		t.Fatalf("premise: connecting to %s port %s brought no ICMP error (%s unchanged)", host, port, counter)
	}
	if !arrives && got != 0 {
		t.Fatalf("premise: connecting to %s port %s brought %d ICMP errors (%s), want none", host, port, got, counter)
	}
}

// chain is an nftables table with one base chain of hook holding rules.
func chain(hook string, rules ...string) string {
	return fmt.Sprintf("table inet netready_lab {\n\tchain c {\n\t\ttype filter hook %s priority filter; policy accept;\n\t\t%s\n\t}\n}\n",
		hook, strings.Join(rules, "\n\t\t"))
}

// wantHop is a hop a path of check --explain must hold.
type wantHop struct{ kind, name, cause string }

// evidenceCase is one network that says something (or nothing) beyond the
// host, and what check must report.
type evidenceCase struct {
	name   string
	setup  func(t *testing.T, l *routerLab)
	target string
	want   want
	hop    *wantHop // in the target's paths under --explain
	// not are words the report must not hold: what a guess from the
	// errno said before the evidence was read, or what a twin without
	// the evidence must not claim.
	not []string
	// wrap runs netready (setpriv, to drop CAP_NET_RAW).
	wrap []string
}

func runEvidenceCases(t *testing.T, cases []evidenceCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newRouterLab(t)
			if tt.setup != nil {
				tt.setup(t, l)
			}
			o := checkTargets(t, l.client, opts{wrap: tt.wrap, flags: []string{"--explain", "--probe-timeout", "2s"}}, []string{tt.target}, []want{tt.want})
			if len(o.doc.Targets) != 1 {
				return
			}
			got := o.doc.Targets[0]
			for _, s := range tt.not {
				if strings.Contains(got.Error+" "+got.Hint, s) {
					t.Errorf("report says %q, which is not what the network said:\n%s\nhint: %s", s, got.Error, got.Hint)
				}
			}
			if tt.hop == nil {
				return
			}
			var seen []string
			for _, p := range got.Paths {
				for _, h := range p.Hops {
					seen = append(seen, fmt.Sprintf("%s %s [%s]: %s", h.Hop, h.Name, h.Cause, h.Detail))
					if h.Hop == tt.hop.kind && strings.Contains(h.Name, tt.hop.name) && h.Cause == tt.hop.cause && !h.OK {
						return
					}
				}
			}
			t.Errorf("no %s hop %q with cause %s in the paths:\n%s", tt.hop.kind, tt.hop.name, tt.hop.cause, strings.Join(seen, "\n"))
		})
	}
}

// testEvidence: ICMP errors from beyond the host name who sent
// them and what they said; their twins, without the error, say less.
func testEvidence(t *testing.T) {
	t.Parallel()
	// The server drops the ICMP errors it would send: the twin of a case
	// in a network that says nothing.
	silent := func(t *testing.T, l *routerLab) {
		nftIn(t, l.server, chain("output", "icmp type { destination-unreachable, time-exceeded } drop", "icmpv6 type { destination-unreachable, time-exceeded } drop"))
	}
	loop := func(t *testing.T, l *routerLab) {
		l.server.IP(t, "route", "add", "10.213.60.0/24", "via", farIP4)
		l.far.IP(t, "route", "add", "10.213.60.0/24", "via", routerFar4)
		l.server.IP(t, "-6", "route", "add", "fd00:213:60::/48", "via", farIP6)
		l.far.IP(t, "-6", "route", "add", "fd00:213:60::/48", "via", routerFar6)
	}
	runEvidenceCases(t, []evidenceCase{
		{
			name: "router without a route onward",
			setup: func(t *testing.T, l *routerLab) {
				premise(t, l, "InDestUnreachs", unrouted4, "8080", true)
			},
			target: "tcp://" + unrouted4 + ":8080",
			want:   fail("router 10.213.1.1 says it has no route to 10.213.50.1", "ICMP network unreachable").because("router-unreachable").hinting("the router named has no way onward"),
			hop:    &wantHop{"router", serverIP4, "router-unreachable"},
			not:    []string{"default route"},
		},
		{
			name: "router without a route onward, IPv6",
			setup: func(t *testing.T, l *routerLab) {
				premise(t, l, "Icmp6InDestUnreachs", unrouted6, "8080", true)
			},
			target: "tcp://[" + unrouted6 + "]:8080",
			want:   fail("router fd00:213::1 says it has no route to fd00:213:50::1", "ICMPv6 no route to destination").because("router-unreachable"),
			hop:    &wantHop{"router", serverIP6, "router-unreachable"},
			not:    []string{"default route"},
		},
		{
			name: "router without a route onward, silent",
			setup: func(t *testing.T, l *routerLab) {
				silent(t, l)
				premise(t, l, "InDestUnreachs", unrouted4, "8080", false)
			},
			target: "tcp://" + unrouted4 + ":8080",
			want:   fail("connect 10.213.50.1:8080: i/o timeout").because("filtered"),
			not:    []string{"router", "no route", "default route"},
		},
		{
			name: "router without a route onward, resolver behind it",
			setup: func(t *testing.T, l *routerLab) {
				l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.50.53\n")
			},
			target: "dns:ready.test",
			want:   fail("router 10.213.1.1 says it has no route to 10.213.50.53").because("router-unreachable"),
			hop:    &wantHop{"router", serverIP4, "router-unreachable"},
		},
		{
			name: "server's firewall rejects",
			setup: func(t *testing.T, l *routerLab) {
				l.server.Listen(t, serverIP4+":8080")
				nftIn(t, l.server, chain("input", "tcp dport 8080 reject with icmpx type admin-prohibited"))
				premise(t, l, "InDestUnreachs", serverIP4, "8080", true)
			},
			target: "tcp://" + serverIP4 + ":8080",
			want:   fail("10.213.1.1 rejects the connection: a firewall on it", "administratively prohibited").because("rejected").hinting("a firewall rejects"),
			hop:    &wantHop{"endpoint", serverIP4, "rejected"},
			not:    []string{"ARP", "neighbour discovery"},
		},
		{
			name: "server's firewall rejects, IPv6",
			setup: func(t *testing.T, l *routerLab) {
				l.server.Listen(t, "["+serverIP6+"]:8080")
				nftIn(t, l.server, chain("input", "tcp dport 8080 reject with icmpx type admin-prohibited"))
				premise(t, l, "Icmp6InDestUnreachs", serverIP6, "8080", true)
			},
			target: "tcp://[" + serverIP6 + "]:8080",
			want:   fail("fd00:213::1 rejects the connection: a firewall on it", "ICMPv6 communication administratively prohibited").because("rejected"),
			not:    []string{"ARP", "neighbour discovery"},
		},
		{
			name: "router's firewall rejects",
			setup: func(t *testing.T, l *routerLab) {
				l.far.Listen(t, farIP4+":8080")
				nftIn(t, l.server, chain("forward", "ip daddr "+farIP4+" tcp dport 8080 reject with icmp type host-prohibited"))
				premise(t, l, "InDestUnreachs", farIP4, "8080", true)
			},
			target: "tcp://" + farIP4 + ":8080",
			want:   fail("10.213.1.1 rejects packets to 10.213.2.2: a firewall on the way", "host administratively prohibited").because("rejected"),
			hop:    &wantHop{"router", serverIP4, "rejected"},
		},
		{
			name: "router's firewall answers port unreachable for the destination",
			setup: func(t *testing.T, l *routerLab) {
				l.far.Listen(t, farIP4+":8080")
				nftIn(t, l.server, chain("forward", "ip daddr "+farIP4+" tcp dport 8080 reject"))
			},
			target: "tcp://" + farIP4 + ":8080",
			want:   fail("10.213.1.1 answers for 10.213.2.2 with port unreachable, not 10.213.2.2 itself").because("rejected"),
			hop:    &wantHop{"router", serverIP4, "rejected"},
			not:    []string{"nothing is listening"},
		},
		{
			name: "routing loop",
			setup: func(t *testing.T, l *routerLab) {
				loop(t, l)
				premise(t, l, "InTimeExcds", loopTarget4, "8080", true)
			},
			target: "tcp://" + loopTarget4 + ":8080",
			want:   fail("ran out of hops: a routing loop", "time exceeded").because("routing-loop").hinting("back and forth"),
			hop:    &wantHop{"router", "10.213.", "routing-loop"},
		},
		{
			name: "routing loop, IPv6",
			setup: func(t *testing.T, l *routerLab) {
				loop(t, l)
				premise(t, l, "Icmp6InTimeExcds", loopTarget6, "8080", true)
			},
			target: "tcp://[" + loopTarget6 + "]:8080",
			want:   fail("ran out of hops: a routing loop", "ICMPv6 time exceeded").because("routing-loop"),
			hop:    &wantHop{"router", "fd00:213:", "routing-loop"},
		},
		{
			name: "ping through a router without a route onward",
			setup: func(t *testing.T, l *routerLab) {
				premise(t, l, "InDestUnreachs", unrouted4, "8080", true)
			},
			target: "icmp://" + unrouted4,
			want:   fail("router 10.213.1.1 says it has no route to 10.213.50.1").because("router-unreachable"),
			hop:    &wantHop{"router", serverIP4, "router-unreachable"},
		},
		{
			name: "unprivileged ping through a router without a route onward, IPv6",
			setup: func(t *testing.T, l *routerLab) {
				l.client.Sysctl(t, "net.ipv4.ping_group_range", "0 2147483647")
				premise(t, l, "Icmp6InDestUnreachs", unrouted6, "8080", true)
			},
			wrap:   []string{"setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"},
			target: "icmp://[" + unrouted6 + "]",
			want:   fail("router fd00:213::1 says it has no route to fd00:213:50::1").because("router-unreachable"),
		},
		{
			name: "ping rejected by the server's firewall",
			setup: func(t *testing.T, l *routerLab) {
				nftIn(t, l.server, chain("input", "icmp type echo-request reject with icmp type host-prohibited"))
			},
			target: "icmp://" + serverIP4,
			want:   fail("10.213.1.1 rejects the echo request: a firewall on it").because("rejected"),
		},
		{
			name: "ping dropped by this host's firewall",
			setup: func(t *testing.T, l *routerLab) {
				nftIn(t, l.client, chain("output", "icmp type echo-request drop"))
			},
			target: "icmp://" + serverIP4,
			want:   fail("this host refuses to send to 10.213.1.1").because("local-firewall"),
		},
		{
			name: "routing loop, silent",
			setup: func(t *testing.T, l *routerLab) {
				loop(t, l)
				silent(t, l)
				nftIn(t, l.far, chain("output", "icmp type time-exceeded drop"))
				premise(t, l, "InTimeExcds", loopTarget4, "8080", false)
			},
			target: "tcp://" + loopTarget4 + ":8080",
			want:   fail("i/o timeout").because("filtered"),
			not:    []string{"loop", "router"},
		},
	})
}

// testRouteTypes: a destination behind a route that refuses
// (blackhole, prohibit, unreachable; in the main table or in a table a
// policy rule selects, or a rule that refuses by itself) names that route
// and rule, never "no route ... is the default route missing?".
func testRouteTypes(t *testing.T) {
	t.Parallel()
	route := func(args ...string) func(t *testing.T, l *routerLab) {
		return func(t *testing.T, l *routerLab) { l.client.IP(t, args...) }
	}
	both := func(fs ...func(t *testing.T, l *routerLab)) func(t *testing.T, l *routerLab) {
		return func(t *testing.T, l *routerLab) {
			for _, f := range fs {
				f(t, l)
			}
		}
	}
	// A VPN's kill switch: what goes to the tunnel's table, and the
	// tunnel is gone, meets a blackhole default there.
	killSwitch := both(route("rule", "add", "to", "10.213.73.0/24", "table", "100", "priority", "1000"),
		route("route", "add", "blackhole", "default", "table", "100"))
	notDefault := []string{"default route", "is there"}
	runEvidenceCases(t, []evidenceCase{
		{
			name: "blackhole route", setup: route("route", "add", "blackhole", "10.213.70.0/24"),
			target: "tcp://10.213.70.1:8080",
			want:   fail("10.213.70.1 is covered by route blackhole 10.213.70.0/24 table main").because("route-blackhole").hinting("blackhole"),
			hop:    &wantHop{"route", "blackhole 10.213.70.0/24 table main", "route-blackhole"},
			not:    notDefault,
		},
		{
			name: "blackhole route, IPv6", setup: route("-6", "route", "add", "blackhole", "fd00:213:70::/48"),
			target: "tcp://[fd00:213:70::1]:8080",
			want:   fail("fd00:213:70::1 is covered by route blackhole fd00:213:70::/48 table main").because("route-blackhole"),
			not:    notDefault,
		},
		{
			name: "prohibit route", setup: route("route", "add", "prohibit", "10.213.71.0/24"),
			target: "tcp://10.213.71.1:8080",
			want:   fail("covered by route prohibit 10.213.71.0/24 table main").because("route-prohibited").hinting("prohibit"),
			not:    notDefault,
		},
		{
			name: "prohibit route, IPv6", setup: route("-6", "route", "add", "prohibit", "fd00:213:71::/48"),
			target: "tcp://[fd00:213:71::1]:8080",
			want:   fail("covered by route prohibit fd00:213:71::/48 table main").because("route-prohibited"),
			not:    notDefault,
		},
		{
			name: "unreachable route", setup: route("route", "add", "unreachable", "10.213.72.0/24"),
			target: "tcp://10.213.72.1:8080",
			want:   fail("covered by route unreachable 10.213.72.0/24 table main").because("route-unreachable").hinting("unreachable"),
			not:    []string{"default route", "ARP"},
		},
		{
			name: "unreachable route, IPv6", setup: route("-6", "route", "add", "unreachable", "fd00:213:72::/48"),
			target: "tcp://[fd00:213:72::1]:8080",
			want:   fail("covered by route unreachable fd00:213:72::/48 table main").because("route-unreachable"),
			not:    []string{"default route", "neighbour discovery"},
		},
		{
			name: "blackhole in a table a policy rule selects", setup: killSwitch,
			target: "tcp://10.213.73.1:8080",
			want:   fail("route blackhole default table 100", "looked up by rule 1000: from all to 10.213.73.0/24 lookup 100").because("route-blackhole"),
			hop:    &wantHop{"route", "blackhole default table 100", "route-blackhole"},
			not:    notDefault,
		},
		{
			name: "resolver behind a blackhole route", setup: both(killSwitch, func(t *testing.T, l *routerLab) {
				l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.73.53\n")
			}),
			target: "dns:ready.test",
			want:   fail("resolver 10.213.73.53", "route blackhole default table 100").because("route-blackhole"),
			not:    notDefault,
		},
		{
			name: "a rule that refuses by itself", setup: route("rule", "add", "to", "10.213.74.0/24", "prohibit", "priority", "1001"),
			target: "tcp://10.213.74.1:8080",
			want:   fail("rule 1001: from all to 10.213.74.0/24 refuses 10.213.74.1").because("route-prohibited"),
			not:    notDefault,
		},
		{
			// A throw route sends the lookup on to the next rule: the
			// main table's default route carries it.
			name: "throw route in a policy table", setup: both(route("rule", "add", "to", "10.213.1.0/24", "table", "101", "priority", "1002"),
				route("route", "add", "throw", "10.213.1.0/24", "table", "101"),
				func(t *testing.T, l *routerLab) { l.server.Listen(t, serverIP4+":8080") }),
			target: "tcp://" + serverIP4 + ":8080",
			want:   pass(),
		},
	})
}

// testLocalFirewall: a send this host's own firewall refuses is
// local-firewall; where the kernel says nothing (a TCP SYN dropped on the
// way out is retransmitted silently), the report claims nothing more.
func testLocalFirewall(t *testing.T) {
	t.Parallel()
	output := func(rules ...string) func(t *testing.T, l *routerLab) {
		return func(t *testing.T, l *routerLab) {
			l.dnsServer(t, serverIP4, dnstest.Answer)
			l.server.Listen(t, serverIP4+":8080")
			nftIn(t, l.client, chain("output", rules...))
		}
	}
	runEvidenceCases(t, []evidenceCase{
		{
			name: "DNS queries dropped on the way out", setup: output("udp dport 53 drop"),
			target: "dns:ready.test",
			want:   fail("this host refuses to send to 10.213.1.1:53: its firewall drops the packet on the way out").because("local-firewall").hinting("nft list ruleset"),
		},
		{
			name: "connections rejected on the way out", setup: output("tcp dport 8080 reject with icmpx type admin-prohibited"),
			target: "tcp://" + serverIP4 + ":8080",
			want:   fail("this host's own firewall rejects packets to 10.213.1.1").because("local-firewall"),
			hop:    &wantHop{"firewall", "this host", "local-firewall"},
			not:    []string{"10.213.1.1 rejects"},
		},
		{
			name: "connections dropped on the way out", setup: output("tcp dport 8080 drop"),
			target: "tcp://" + serverIP4 + ":8080",
			want:   fail("connect 10.213.1.1:8080: i/o timeout").because("filtered"),
			not:    []string{"10.213.1.1 rejects", "this host's"},
		},
	})
}

// testViaNamed: a probe bound to an interface (via=) or a source
// address (src=) names it when it fails.
func testViaNamed(t *testing.T) {
	t.Parallel()
	dropped := func(t *testing.T, l *routerLab) {
		l.server.Listen(t, serverIP4+":81")
		l.dnsServer(t, serverIP4, dnstest.Silent)
		nftIn(t, l.server, chain("input", "tcp dport 81 drop"))
	}
	runEvidenceCases(t, []evidenceCase{
		{
			name: "tcp via an interface, no answer", setup: dropped,
			target: "tcp://" + serverIP4 + ":81?via=veth0",
			want:   fail("i/o timeout: no answer through veth0 (via=veth0)").because("filtered").hinting("through veth0 only"),
		},
		{
			name: "dns via an interface, no answer", setup: dropped,
			target: "dns:ready.test?via=veth0",
			want:   fail("no answer through veth0 (via=veth0)").because("resolver-timeout").hinting("veth0"),
		},
		{
			name: "tcp from a source address, no answer", setup: dropped,
			target: "tcp://" + serverIP4 + ":81?src=" + clientIP4,
			want:   fail("no answer from 10.213.1.2 (src=10.213.1.2)").because("filtered"),
		},
	})
}

// TestIntegrationEvidenceEverywhere: a cause read from the network is the
// word everywhere a cause appears: watch's transitions (--json), the
// metrics' cause label, /ready, and wait's STATUS= to systemd.
func TestIntegrationEvidenceEverywhere(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newRouterLab(t)
	const target = "tcp://" + unrouted4 + ":8080"
	const said = "router 10.213.1.1 says it has no route to 10.213.50.1"

	p := startNetready(t, l.client, nil, "watch", "--json", "--metrics-listen", metricsAddr, "--backoff-initial", "1h", target)
	c := l.client.HTTPClient()
	poll(t, "/ready 503 naming the router", 20*time.Millisecond, func() bool {
		code, body := get(c, "http://"+metricsAddr+"/ready")
		return code == 503 && strings.Contains(body, target+" router-unreachable: "+said)
	})
	if _, body := get(c, "http://"+metricsAddr+"/metrics"); !strings.Contains(body, "\nnetready_target_cause{cause=\"router-unreachable\",target=\""+target+"\"} 1\n") {
		t.Errorf("/metrics has no router-unreachable cause:\n%s", body)
	}
	var tr struct {
		Ready  bool              `json:"ready"`
		Causes map[string]string `json:"causes"`
	}
	line, _, _ := strings.Cut(p.stdout.String(), "\n")
	if err := json.Unmarshal([]byte(line), &tr); err != nil || tr.Ready || tr.Causes[target] != "router-unreachable" {
		t.Errorf("watch --json: got %q (%v), want a not-ready transition with cause router-unreachable", line, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)

	// wait, under systemd: STATUS= names the cause while it waits.
	sock, read := notifySocket(t)
	w := netready(t, l.client, opts{env: []string{"NOTIFY_SOCKET=" + sock}}, "wait", "--timeout", "1s", target)
	if w.code != 1 {
		t.Errorf("wait: exit code %d, want 1\n%s", w.code, w)
	}
	status := read()
	if !strings.Contains(strings.Join(status, "\n"), "STATUS=waiting for "+target+" (router-unreachable: "+said) {
		t.Errorf("no STATUS= naming the router among:\n%s", strings.Join(status, "\n"))
	}
}
