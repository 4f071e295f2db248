package main

// Integration tests: netready runs as a process inside a network namespace
// made by the test (see lab), against real links, routes and servers.

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/dnstest"
)

// fast bounds each attempt, for targets that are meant to time out.
var fast = []string{"--probe-timeout", "1s"}

// labCase is a check in a fresh lab, after setup changes it.
type labCase struct {
	name    string
	setup   func(t *testing.T, l *lab)
	targets []string
	wants   []want
}

// runLabCases runs each case in parallel, each in a lab of its own.
func runLabCases(t *testing.T, cases []labCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if tt.setup != nil {
				tt.setup(t, l)
			}
			checkTargets(t, l.client, opts{}, tt.targets, tt.wants)
		})
	}
}

// peerDown takes the server's end of the veth down, so the client's end
// loses its carrier.
func peerDown(t *testing.T, l *lab) {
	l.server.IP(t, "link", "set", "veth1", "down")
	waitState(t, l.client, "veth0", "DOWN")
}

func TestIntegrationLink(t *testing.T) {
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

func TestIntegrationRoute(t *testing.T) {
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
			wants: []want{
				fail("no IPv4 default route", "no IPv6 default route"),
				fail("no IPv4 default route"),
				fail("no IPv6 default route"),
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

// zone is what the test DNS servers answer.
var zone = []string{
	". 60 IN NS a.root.test.",
	"ready.test. 60 IN A 10.213.1.1",
	"ready.test. 60 IN AAAA fd00:213::1",
	"v4only.test. 60 IN A 10.213.1.1",
	"alias.test. 60 IN CNAME ready.test.",
	"svc.test. 60 IN A 10.213.1.1",
}

// dnsServer starts a test DNS server on addr:53 in the lab's server
// namespace, adding addr to veth1 first if it is not serverIP4/6.
func (l *lab) dnsServer(t *testing.T, addr string, b dnstest.Behavior) *dnstest.Server {
	t.Helper()
	if addr != serverIP4 && addr != serverIP6 {
		plen := "/24"
		if strings.Contains(addr, ":") {
			plen = "/64"
		}
		l.server.IP(t, "addr", "add", addr+plen, "dev", "veth1", "nodad")
	}
	hp := addr + ":53"
	if strings.Contains(addr, ":") {
		hp = "[" + addr + "]:53"
	}
	s := dnstest.Serve(t, l.server.ListenPacket(t, hp), l.server.Listen(t, hp), zone...)
	s.SetBehavior(b)
	return s
}

func TestIntegrationDNS(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	good := l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, serverIP6, dnstest.Answer)
	behaviours := map[string]dnstest.Behavior{
		"10.213.1.11": dnstest.ServFail,
		"10.213.1.12": dnstest.Refused,
		"10.213.1.13": dnstest.Silent,
		"10.213.1.14": dnstest.Truncate,
		"10.213.1.15": dnstest.WrongIDFirst,
		"10.213.1.16": dnstest.OnlyWrongID,
		"10.213.1.17": dnstest.MalformedFirst,
		"10.213.1.18": dnstest.WrongQuestionFirst,
		"10.213.1.19": dnstest.NXDomain,
	}
	servers := map[string]*dnstest.Server{}
	for addr, b := range behaviours {
		servers[addr] = l.dnsServer(t, addr, b)
	}
	slow := l.dnsServer(t, "10.213.1.20", dnstest.Answer)
	slow.SetDelay(2 * time.Second)

	targets := []string{
		"dns:ready.test",
		"dns:ready.test?type=AAAA",
		"dns:alias.test",
		"dns:v4only.test?type=AAAA",
		"dns:nonexistent.test",
		"dns:.",
		"dns://[fd00:213::1]/ready.test",
		"dns://10.213.1.11/ready.test",
		"dns://10.213.1.12/ready.test",
		"dns://10.213.1.13/ready.test",
		"dns://10.213.1.14/ready.test",
		"dns://10.213.1.15/ready.test",
		"dns://10.213.1.16/ready.test",
		"dns://10.213.1.17/ready.test",
		"dns://10.213.1.18/ready.test",
		"dns://10.213.1.19/ready.test",
		"dns://10.213.1.20/ready.test",
		"dns://10.213.1.1:5353/ready.test",
	}
	wants := []want{
		pass(),
		pass(),
		pass(),
		fail(`query "v4only.test." AAAA`, "10.213.1.1:53: no AAAA records"),
		fail("10.213.1.1:53: rcode NXDOMAIN"),
		pass(),
		pass(),
		fail("10.213.1.11:53: rcode SERVFAIL"),
		fail("10.213.1.12:53: rcode REFUSED"),
		fail("10.213.1.13:53: i/o timeout"),
		pass(),
		pass(),
		fail("i/o timeout", "ignored 1 reply with a wrong id"),
		pass(),
		pass(),
		fail("rcode NXDOMAIN"),
		fail("10.213.1.20:53: i/o timeout"),
		fail("10.213.1.1:5353: connection refused"),
	}
	checkTargets(t, l.client, opts{flags: fast}, targets, wants)
	if _, tcp := servers["10.213.1.14"].Queries(); tcp != 1 {
		t.Errorf("truncating server: got %d TCP queries, want 1 (the retry after TC)", tcp)
	}
	if udp, _ := good.Queries(); udp < 5 {
		t.Errorf("good server: got %d UDP queries, want at least 5", udp)
	}
}

func TestIntegrationDNSResolvers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		resolvConf string
		behaviours map[string]dnstest.Behavior
		target     string
		want       want
	}{
		{
			name:       "one dead resolver next to a good one",
			resolvConf: "nameserver 10.213.1.13\nnameserver 10.213.1.1\n",
			behaviours: map[string]dnstest.Behavior{"10.213.1.13": dnstest.Silent, serverIP4: dnstest.Answer},
			target:     "dns:ready.test",
			want:       pass(),
		},
		{
			name:       "every resolver failing is named",
			resolvConf: "nameserver 10.213.1.11\nnameserver 10.213.1.13\nnameserver fd00:213::1\n",
			behaviours: map[string]dnstest.Behavior{"10.213.1.11": dnstest.ServFail, "10.213.1.13": dnstest.Silent, serverIP6: dnstest.Refused},
			target:     "dns:ready.test",
			want:       fail("10.213.1.11:53: rcode SERVFAIL", "10.213.1.13:53: i/o timeout", "[fd00:213::1]:53: rcode REFUSED"),
		},
		{
			name:       "IPv6 resolver",
			resolvConf: "nameserver fd00:213::1\n",
			behaviours: map[string]dnstest.Behavior{serverIP6: dnstest.Answer},
			target:     "dns:ready.test?type=AAAA",
			want:       pass(),
		},
		{
			name:       "host name of a tcp target through the search list",
			resolvConf: "search test\nnameserver 10.213.1.1\n",
			behaviours: map[string]dnstest.Behavior{serverIP4: dnstest.Answer},
			target:     "tcp://svc:8080",
			want:       pass(),
		},
		{
			name:       "host name that does not exist",
			resolvConf: "nameserver 10.213.1.1\n",
			behaviours: map[string]dnstest.Behavior{serverIP4: dnstest.Answer},
			target:     "tcp://nothere.test:8080",
			want:       fail(`resolve "nothere.test": no such host`),
		},
		{
			name:       "resolv.conf without nameserver falls back to loopback",
			resolvConf: "# nothing here\n",
			target:     "dns:ready.test",
			want:       fail("names no nameserver", "127.0.0.1:53: connection refused"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			for addr, b := range tt.behaviours {
				l.dnsServer(t, addr, b)
			}
			l.server.Listen(t, serverIP4+":8080")
			l.client.WriteEtc(t, "resolv.conf", tt.resolvConf)
			checkTargets(t, l.client, opts{flags: fast}, []string{tt.target}, []want{tt.want})
		})
	}
}

// TestIntegrationDefaultPolicy runs "netready check" with no target: the
// policy link:any route:default dns:. against the lab's resolver.
func TestIntegrationDefaultPolicy(t *testing.T) {
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

// TestIntegrationResolvedHint: the stub resolver of systemd-resolved is
// named in the hint when it refuses connections.
func TestIntegrationResolvedHint(t *testing.T) {
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

// serveHTTP serves h on addr in the lab's server namespace, over TLS with
// cert when cert is not nil.
func (l *lab) serveHTTP(t *testing.T, addr string, h http.Handler, cert *tls.Certificate) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	// Handshake failures are what some cases test; keep them off the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Listener.Close()
	s.Listener = l.server.Listen(t, addr)
	if cert != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
}

func TestIntegrationTCPHTTPTLS(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.server.Listen(t, serverIP4+":8080")
	l.server.Listen(t, "["+serverIP6+"]:8080")

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://login.portal.test/", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	l.serveHTTP(t, serverIP4+":80", mux, nil)

	ca := certtest.NewCA(t)
	valid := ca.Valid(t, "server.test", serverIP4)
	notYet := ca.Leaf(t, time.Now().Add(48*time.Hour), time.Now().Add(72*time.Hour), "server.test")
	l.serveHTTP(t, serverIP4+":443", mux, &valid)
	l.serveHTTP(t, serverIP4+":8443", mux, &notYet)
	caEnv := []string{"SSL_CERT_FILE=" + ca.WriteFile(t)}

	tests := []struct {
		name string
		env  []string
		// patient is for targets that must not time out: a TLS handshake
		// under the race detector on a loaded machine can take over 1s.
		patient bool
		targets []string
		wants   []want
	}{
		{
			name: "tcp",
			targets: []string{
				"tcp://10.213.1.1:8080", "tcp://server.test:8080", "tcp://svc.test:8080",
				"tcp://[fd00:213::1]:8080", "tcp://server6.test:8080", "tcp://10.213.1.1:8081",
			},
			wants: []want{pass(), pass(), pass(), pass(), pass(), fail("connect 10.213.1.1:8081: connection refused")},
		},
		{
			name:    "tcp to a host that does not answer",
			targets: []string{"tcp://10.213.1.77:80"},
			wants:   []want{fail("connect 10.213.1.77:80")},
		},
		{
			name:    "http",
			targets: []string{"http://10.213.1.1/ok", "http://server.test/down", "http://server.test/portal", "http://server.test/hang"},
			wants: []want{
				pass(),
				fail("HTTP 503 Service Unavailable"),
				fail("redirects to another host: http://login.portal.test/"),
				fail("no response headers before the probe timed out"),
			},
		},
		{
			name:    "https and tls with the CA",
			patient: true,
			env:     caEnv,
			targets: []string{"https://server.test/ok", "https://10.213.1.1/ok", "tls://server.test:443", "tls://server.test:8443", "https://server.test:8443/ok"},
			wants:   []want{pass(), pass(), pass(), fail("certificate for server.test is not valid until"), fail("is not valid until")},
		},
		{
			name:    "https without the CA",
			patient: true,
			targets: []string{"https://server.test/ok", "tls://server.test:443"},
			wants:   []want{fail("certificate signed by an unknown authority"), fail("certificate signed by an unknown authority")},
		},
		{
			name:    "tls to a server that does not speak it",
			patient: true,
			env:     caEnv,
			targets: []string{"tls://server.test:80"},
			wants:   []want{fail("tls handshake")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags := fast
			if tt.patient {
				flags = []string{"--probe-timeout", "10s"}
			}
			checkTargets(t, l.client, opts{env: tt.env, flags: flags}, tt.targets, tt.wants)
		})
	}
}

func TestIntegrationICMP(t *testing.T) {
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
