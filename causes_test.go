package main

// Causes and hints: what a failing target's report says is wrong.

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/dnstest"
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
			// Not "is DHCP configuring the network?" either: the
			// kernel removed the routes of the only link when it went
			// down, and bringing it up is the remedy.
			name:   "the only link administratively down",
			setup:  func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			target: "route:default",
			want: []string{"link-down: no IPv4 default route; no IPv6 default route, and veth0, the only link, is down (administratively)",
				"hint: bring it up (ip link set veth0 up), or see why what configures it (networkd, NetworkManager, ifupdown) did not"},
		},
		{
			name:   "no default route, the link up",
			setup:  func(t *testing.T, l *lab) { l.client.IP(t, "route", "del", "default") },
			target: "route:default4",
			want:   []string{"no-route: no IPv4 default route", "hint: is DHCP or router advertisement configuring the network"},
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

// TestIntegrationCauses: every cause of the vocabulary that the kernel or a
// test server can produce, each in a lab of its own, asserting the cause
// word and the hop the report names. A failing target's cause is the
// first broken hop on its path: a link, an address, a gateway, a resolver,
// before the endpoint.
func TestIntegrationCauses(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	listen := func(t *testing.T, l *lab) { l.server.Listen(t, serverIP4+":8080") }
	resolver := func(addr string, b dnstest.Behavior) func(t *testing.T, l *lab) {
		return func(t *testing.T, l *lab) {
			l.dnsServer(t, addr, b)
			l.client.WriteEtc(t, "resolv.conf", "nameserver "+addr+"\n")
		}
	}
	tlsServer := func(cert func(ca *certtest.CA) tls.Certificate) func(t *testing.T, l *lab) {
		return func(t *testing.T, l *lab) {
			ca := certtest.NewCA(t)
			c := cert(ca)
			l.serveHTTP(t, serverIP4+":443", http.NotFoundHandler(), &c)
		}
	}
	tests := []labCase{
		// The host's own links, addresses and routes.
		{name: "link down", setup: func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			targets: []string{"tcp://10.213.1.1:8080"}, wants: []want{fail("link veth0 is down").because("link-down")}},
		{name: "no carrier", setup: peerDown,
			targets: []string{"tcp://10.213.1.1:8080"}, wants: []want{fail("link veth0 is down (no carrier)").because("no-carrier")}},
		{name: "no address of the family", setup: func(t *testing.T, l *lab) { l.client.IP(t, "addr", "del", clientIP4+"/24", "dev", "veth0") },
			targets: []string{"tcp://10.213.1.1:8080"}, wants: []want{fail("veth0 has no IPv4 address (it has fd00:213::2)").because("no-address")}},
		{name: "IPv6 address tentative", setup: func(t *testing.T, l *lab) {
			l.client.IP(t, "-6", "addr", "flush", "dev", "veth0", "scope", "global")
			l.client.Sysctl(t, "net.ipv6.neigh.veth0.retrans_time_ms", "10000")
			l.client.IP(t, "addr", "add", "fd00:213::9/64", "dev", "veth0")
		}, targets: []string{"tcp://[fd00:213::1]:8080"}, wants: []want{fail("veth0's IPv6 address fd00:213::9/64 is still tentative").because("address-tentative")}},
		{name: "IPv6 address that failed duplicate address detection", setup: func(t *testing.T, l *lab) {
			l.server.IP(t, "addr", "add", "fd00:213::3/64", "dev", "veth1", "nodad")
			l.client.IP(t, "-6", "addr", "flush", "dev", "veth0", "scope", "global")
			l.client.IP(t, "addr", "add", "fd00:213::3/64", "dev", "veth0")
			poll(t, "duplicate address detection to fail", 5*time.Millisecond, func() bool {
				return strings.Contains(l.client.IP(t, "-6", "addr", "show", "dev", "veth0"), "dadfailed")
			})
		}, targets: []string{"tcp://[fd00:213::1]:8080"}, wants: []want{fail("veth0's IPv6 address fd00:213::3/64 failed duplicate address detection").because("address-dad-failed")}},
		{name: "no route", setup: func(t *testing.T, l *lab) { l.client.IP(t, "route", "del", "default") },
			targets: []string{"tcp://10.213.50.1:8080"}, wants: []want{fail("10.213.50.1:8080: network is unreachable").because("no-route")}},
		{name: "gateway that never answers ARP", setup: func(t *testing.T, l *lab) { l.client.IP(t, "route", "replace", "default", "via", "10.213.1.99") },
			targets: []string{"tcp://10.213.50.1:8080"}, wants: []want{fail("gateway 10.213.1.99 on veth0 does not answer ARP").because("gateway-unreachable")}},
		{name: "gateway that never answers ND", setup: func(t *testing.T, l *lab) { l.client.IP(t, "-6", "route", "replace", "default", "via", "fd00:213::99") },
			targets: []string{"tcp://[fd00:213:1::1]:8080"}, wants: []want{fail("gateway fd00:213::99 on veth0 does not answer neighbour discovery").because("gateway-unreachable")}},
		{name: "host on the link that never answers ARP",
			targets: []string{"tcp://10.213.1.77:8080"}, wants: []want{fail("10.213.1.77 on veth0 does not answer ARP").because("host-unreachable")}},

		// Resolvers and names.
		{name: "resolver behind a down link", setup: func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			targets: []string{"dns:ready.test", "tcp://ready.test:8080"},
			wants: []want{
				fail("resolver 10.213.1.1 is reachable only through veth0, which is down").because("link-down"),
				fail("resolver 10.213.1.1 is reachable only through veth0, which is down").because("link-down"),
			}},
		{name: "resolver behind a missing route", setup: func(t *testing.T, l *lab) {
			l.client.IP(t, "route", "del", "default")
			l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.60.1\n")
		}, targets: []string{"dns:ready.test"}, wants: []want{fail("resolver 10.213.60.1: no route to 10.213.60.1").because("no-route")}},
		{name: "resolver on the link that never answers ARP", setup: func(t *testing.T, l *lab) { l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.1.66\n") },
			targets: []string{"dns:ready.test"}, wants: []want{fail("resolver 10.213.1.66: 10.213.1.66 on veth0 does not answer ARP").because("resolver-unreachable")}},
		{name: "resolver down (nothing listens: port unreachable)",
			targets: []string{"dns:ready.test", "tcp://ready.test:8080"},
			wants: []want{
				fail("10.213.1.1:53: connection refused").because("resolver-down").hinting("no resolver listens on 10.213.1.1:53 (port unreachable): is it running?"),
				fail("10.213.1.1:53: connection refused").because("resolver-down"),
			}},
		{name: "resolver answering REFUSED", setup: resolver(serverIP4, dnstest.Refused),
			targets: []string{"dns:ready.test", "tcp://ready.test:8080"},
			wants: []want{
				fail("10.213.1.1:53: rcode REFUSED").because("resolver-refused").hinting("check its access control"),
				fail("10.213.1.1:53: rcode REFUSED").because("resolver-refused"),
			}},
		{name: "silent resolver", setup: resolver(serverIP4, dnstest.Silent),
			targets: []string{"dns:ready.test"}, wants: []want{fail("10.213.1.1:53: i/o timeout").because("resolver-timeout")}},
		{name: "resolver answering SERVFAIL", setup: resolver(serverIP4, dnstest.ServFail),
			targets: []string{"dns:ready.test"}, wants: []want{fail("10.213.1.1:53: rcode SERVFAIL").because("resolver-servfail")}},
		{name: "NXDOMAIN", setup: resolver(serverIP4, dnstest.Answer),
			targets: []string{"dns:nosuch.test", "tcp://nosuch.test:8080"},
			wants:   []want{fail("10.213.1.1:53: rcode NXDOMAIN").because("nxdomain"), fail(`resolve "nosuch.test": no such host`).because("nxdomain")}},
		{name: "no records of the type", setup: resolver(serverIP4, dnstest.Answer),
			targets: []string{"dns:ready.test?type=MX"}, wants: []want{fail("10.213.1.1:53: no MX records").because("no-records")}},

		// The endpoint.
		{name: "closed port", setup: listen,
			targets: []string{"tcp://10.213.1.1:9"}, wants: []want{fail("connect 10.213.1.1:9: connection refused").because("port-closed")}},
		{name: "filtered port", setup: func(t *testing.T, l *lab) {
			l.server.Listen(t, serverIP4+":81")
			l.nft(t, "table inet netready_fault {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 81 drop\n\t}\n}\n")
		}, targets: []string{"tcp://10.213.1.1:81"}, wants: []want{fail("connect 10.213.1.1:81: i/o timeout").because("filtered")}},
		{name: "reset after accepting", setup: func(t *testing.T, l *lab) { l.resetServer(t, serverIP4+":82", 0) },
			targets: []string{"http://10.213.1.1:82/"}, wants: []want{fail("connection reset by peer").because("reset")}},
		{name: "untrusted certificate", setup: tlsServer(func(ca *certtest.CA) tls.Certificate { return ca.Valid(t, serverIP4) }),
			targets: []string{"tls://10.213.1.1:443"}, wants: []want{fail("certificate signed by an unknown authority").because("tls-untrusted")}},
		{name: "certificate not valid yet", setup: tlsServer(func(ca *certtest.CA) tls.Certificate {
			return ca.Leaf(t, time.Now().Add(48*time.Hour), time.Now().Add(72*time.Hour), serverIP4)
		}), targets: []string{"tls://10.213.1.1:443"}, wants: []want{fail("is not valid until").because("tls-clock").hinting("clock")}},
		// Expired while the clock is synchronised: the certificate;
		// while it is not (a board without a real-time clock), the clock.
		{name: "certificate expired", setup: tlsServer(func(ca *certtest.CA) tls.Certificate {
			return ca.Leaf(t, time.Now().Add(-72*time.Hour), time.Now().Add(-48*time.Hour), serverIP4)
		}), targets: []string{"tls://10.213.1.1:443"}, wants: []want{fail("expired at").because(map[bool]string{true: "tls-expired", false: "tls-clock"}[clockSynced(t)])}},
		{name: "certificate for another name", setup: tlsServer(func(ca *certtest.CA) tls.Certificate { return ca.Valid(t, "other.test") }),
			targets: []string{"tls://10.213.1.1:443"}, wants: []want{fail("10.213.1.1").because("tls-name-mismatch")}},
		{name: "a peer that does not speak TLS", setup: listen,
			targets: []string{"tls://10.213.1.1:8080"}, wants: []want{fail("tls handshake").because("timeout")}},
		{name: "https:// and tls:// to a plain-HTTP server", setup: func(t *testing.T, l *lab) {
			l.serveHTTP(t, serverIP4+":80", http.NotFoundHandler(), nil)
		}, targets: []string{"https://10.213.1.1:80/", "tls://10.213.1.1:80"},
			wants: []want{
				fail("server gave HTTP response to HTTPS client").because("tls-failed").hinting("the port speaks plain HTTP, not TLS: use http://"),
				fail(`the reply starts "HTTP/": plain HTTP`).because("tls-failed").hinting("the port speaks plain HTTP, not TLS: use http://"),
			}},
		{name: "captive portal and HTTP status", setup: func(t *testing.T, l *lab) {
			mux := http.NewServeMux()
			mux.HandleFunc("/portal", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://login.portal.test/", http.StatusFound)
			})
			mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
			l.serveHTTP(t, serverIP4+":80", mux, nil)
		}, targets: []string{"http://10.213.1.1/portal", "http://10.213.1.1/down"},
			wants: []want{fail("redirects to another host: http://login.portal.test/").because("captive-portal"), fail("HTTP 503").because("http-status")}},
	}
	tests = append(tests, extendedErrorCases(t)...)
	runLabCases(t, tests)
	// Beyond the host, and the routes and firewall of the host itself
	// (evidence_test.go).
	t.Run("beyond the host", testEvidence)
	t.Run("routes that refuse", testRouteTypes)
	t.Run("this host's firewall", testLocalFirewall)
	t.Run("via= and src= named", testViaNamed)
	t.Run("path MTU", testMTUBlackhole) // mtu_test.go
}
