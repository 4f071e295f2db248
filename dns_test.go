package main

// dns: targets and name resolution against resolvers that answer, fail and misbehave, and against Debian's dnsmasq.

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationDNS(t *testing.T) {
	roottest.Require(t)
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
		"dns:v4only.test",
		"dns:v6only.test",
		"dns:v6only.test?type=A",
		"dns:v6only.test?family=4",
		"dns:v6only.test?answer=fd00:213::1",
		"dns:v6only.test?answer=fd00:213::99",
		"dns:nonexistent.test",
		"dns:.",
		"dns://[fd00:213::1]/ready.test",
		"dns://10.213.1.11/ready.test",
		"dns://10.213.1.12/ready.test",
		"dns://10.213.1.13/ready.test",
		"dns://10.213.1.14/ready.test?type=A",
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
		pass().showing("10.213.1.1:53 answered 1 A record (10.213.1.1)"),
		pass().showing("10.213.1.1:53 answered 1 AAAA record (fd00:213::1)"),
		fail(`query "v6only.test." A: 10.213.1.1:53: no A records`).because("no-records"),
		fail(`query "v6only.test." A: 10.213.1.1:53: no A records`).because("no-records"),
		pass().showing("10.213.1.1:53 answered 1 AAAA record (fd00:213::1), the expected fd00:213::1"),
		fail(`query "v6only.test." AAAA: 10.213.1.1:53: answered fd00:213::1, not fd00:213::99 (answer=)`).because("wrong-answer"),
		fail(`query "nonexistent.test." A and AAAA: 10.213.1.1:53: rcode NXDOMAIN`).because("nxdomain"),
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
	roottest.Require(t)
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

// TestIntegrationDNSFaults: resolvers and resolver configurations that misbehave, each
// case one "netready check --json" in one lab.
func TestIntegrationDNSFaults(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, serverIP6, dnstest.Answer)

	spoofed4 := l.spoofer(t, "10.213.1.30", "10.213.1.130", dnstest.NXDomain, dnstest.Answer)
	spoofed6 := l.spoofer(t, "fd00:213::30", "fd00:213::130", dnstest.NXDomain, dnstest.Answer)
	onlyForged := l.spoofer(t, "10.213.1.31", "10.213.1.131", dnstest.Answer, dnstest.Silent)

	// A resolver that listens on TCP only: no UDP socket, so UDP queries
	// meet an ICMP port unreachable.
	l.addServerAddr(t, "10.213.1.32")
	tcpOnly := dnstest.Serve(t, nil, l.server.Listen(t, "10.213.1.32:53"), zone...)

	slow := l.dnsServer(t, "10.213.1.33", dnstest.Answer)
	slow.SetDelay(2 * time.Second)
	slowerThanRetransmit := l.dnsServer(t, "10.213.1.34", dnstest.Answer)
	slowerThanRetransmit.SetDelay(1500 * time.Millisecond)
	l.dnsServer(t, "10.213.1.35", dnstest.OnlyMalformed)
	l.addServerAddr(t, "10.213.1.36") // nothing listens on its port 53
	l.dnsServer(t, "10.213.1.37", dnstest.Silent)
	l.server.Listen(t, serverIP4+":8080")

	noServer := `names no nameserver, so the default was tried: 127.0.0.1:53: connection refused; [::1]:53: connection refused`
	tests := []struct {
		name    string
		conf    func(t *testing.T) string // the --resolv-conf file
		flags   []string
		targets []string
		wants   []want
		// exact, when set, is the whole error of the first target.
		exact string
		// maxLatency, when set, bounds the first target's latency: an
		// attempt that has to wait for another server to time out takes
		// far longer.
		maxLatency time.Duration
		after      func(t *testing.T)
	}{
		{
			name:    "forged replies from another address and port, then the real one",
			conf:    confFile("nameserver 10.213.1.30\n"),
			targets: []string{"dns:ready.test?type=A", "dns://[fd00:213::30]/ready.test?type=A"},
			// The forged replies say NXDOMAIN: taking one fails the target.
			wants: []want{pass(), pass()},
			after: func(t *testing.T) {
				for _, s := range []*dnstest.Spoofer{spoofed4, spoofed6} {
					if q, f := s.Queries(), s.Forged(); q != 1 || f != 2 {
						t.Errorf("spoofer %s: got %d queries and %d forged replies, want 1 and 2 (the forgers did not run)", s, q, f)
					}
				}
			},
		},
		{
			name:    "only forged replies",
			conf:    confFile("nameserver 10.213.1.1\n"),
			flags:   []string{"--probe-timeout", "1s"},
			targets: []string{"dns://10.213.1.31/ready.test?type=A"},
			wants:   []want{fail("i/o timeout")},
			// The forged replies would pass; the kernel drops them before
			// the probe reads them, so not even "ignored" is said.
			exact: `query "ready.test." A: 10.213.1.31:53: i/o timeout`,
			after: func(t *testing.T) {
				// Two for each query: the query, and the one with a
				// small EDNS buffer after half the time (probe/mtu.go).
				if f, q := onlyForged.Forged(), onlyForged.Queries(); q != 2 || f != 2*q {
					t.Errorf("got %d forged replies to %d queries, want 2 queries, each forged twice", f, q)
				}
			},
		},
		{
			// Like glibc, netready asks over TCP only after a truncated
			// UDP reply: a resolver without UDP refuses DNS.
			name:    "server on TCP only",
			conf:    confFile("nameserver 10.213.1.1\n"),
			targets: []string{"dns://10.213.1.32/ready.test"},
			wants:   []want{fail("10.213.1.32:53: connection refused")},
			exact:   `query "ready.test." A and AAAA: 10.213.1.32:53: connection refused`,
			after: func(t *testing.T) {
				if udp, tcp := tcpOnly.Queries(); udp != 0 || tcp != 0 {
					t.Errorf("got %d UDP and %d TCP queries, want none", udp, tcp)
				}
			},
		},
		{
			name:       "reply slower than --probe-timeout",
			conf:       confFile("nameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "300ms"},
			targets:    []string{"dns://10.213.1.33/ready.test"},
			wants:      []want{fail("10.213.1.33:53: i/o timeout")},
			maxLatency: 1500 * time.Millisecond, // the reply comes at 2s
		},
		{
			// The query is sent again after 1s; the reply to the first
			// one, at 1.5s, has the same id and is taken.
			name:    "reply slower than the resolver timeout, within --probe-timeout",
			conf:    confFile("options timeout:1 attempts:2\nnameserver 10.213.1.34\n"),
			flags:   []string{"--probe-timeout", "5s"},
			targets: []string{"dns:ready.test?type=A"},
			wants:   []want{pass()},
			after: func(t *testing.T) {
				if udp, _ := slowerThanRetransmit.Queries(); udp != 2 {
					t.Errorf("got %d UDP queries, want 2 (one retransmission)", udp)
				}
			},
		},
		{
			name:    "only a malformed packet",
			conf:    confFile("nameserver 10.213.1.1\n"),
			flags:   []string{"--probe-timeout", "1s"},
			targets: []string{"dns://10.213.1.35/ready.test"},
			wants:   []want{fail("10.213.1.35:53: i/o timeout (ignored 1 malformed reply)")},
		},
		{
			// Refused at once and silent, asked at the same time as the
			// good one, which answers in milliseconds.
			name:       "dead resolvers in resolv.conf next to one that works",
			conf:       confFile("nameserver 10.213.1.36\nnameserver 10.213.1.37\nnameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "10s"},
			targets:    []string{"dns:ready.test", "tcp://svc.test:8080"},
			wants:      []want{pass(), pass()},
			maxLatency: 5 * time.Second, // the silent one would take 10s
		},
		{
			name:       "a resolver host that does not exist next to one that works",
			conf:       confFile("nameserver 10.213.1.77\nnameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "10s"},
			targets:    []string{"dns:ready.test"},
			wants:      []want{pass()},
			maxLatency: 5 * time.Second, // no ARP reply: 3s before the kernel gives up
		},
		{
			name:    "empty resolv.conf",
			conf:    confFile(""),
			targets: []string{"dns:ready.test"},
			// Not "is the local resolver running?": the file is empty.
			wants: []want{fail(noServer).because("resolver-down").hinting("resolv.conf names no nameserver, and no resolver runs on this host's loopback, the C library's default: has the network configuration (DHCP, networkd, NetworkManager) written it yet?")},
		},
		{
			name:    "garbage resolv.conf",
			conf:    confFile(garbageResolvConf("")),
			targets: []string{"dns:ready.test"},
			wants:   []want{fail(noServer)},
		},
		{
			name:    "garbage resolv.conf around one good nameserver line",
			conf:    confFile(garbageResolvConf("nameserver 10.213.1.1\n")),
			targets: []string{"dns:ready.test"},
			wants:   []want{pass()},
		},
		{
			name:    "resolv.conf missing",
			conf:    confMissing,
			targets: []string{"dns:ready.test", "tcp://svc.test:8080"},
			wants: []want{
				fail("does not exist, so the default was tried: 127.0.0.1:53: connection refused; [::1]:53: connection refused").hinting("resolv.conf does not exist, and no resolver runs on this host's loopback"),
				fail(`resolve "svc.test"`, "does not exist, so the default was tried", "127.0.0.1:53: connection refused").hinting("resolv.conf does not exist, and no resolver runs on this host's loopback"),
			},
		},
		{
			name:    "resolv.conf is a directory",
			conf:    confDir,
			targets: []string{"dns:ready.test"},
			wants:   []want{fail("read resolver configuration", "is a directory")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags := append([]string{"--resolv-conf", tt.conf(t)}, tt.flags...)
			out := checkTargets(t, l.client, opts{flags: flags}, tt.targets, tt.wants)
			if tt.exact != "" && len(out.doc.Targets) > 0 && out.doc.Targets[0].Error != tt.exact {
				t.Errorf("%s: got error %q, want %q", tt.targets[0], out.doc.Targets[0].Error, tt.exact)
			}
			if tt.maxLatency > 0 && len(out.doc.Targets) > 0 {
				if got := time.Duration(out.doc.Targets[0].LatencyMS * float64(time.Millisecond)); got > tt.maxLatency {
					t.Errorf("%s: latency %s, want at most %s", tt.targets[0], got, tt.maxLatency)
				}
			}
			if tt.after != nil {
				tt.after(t)
			}
		})
	}
}

// garbageResolvConf is binary junk from a fixed seed, a 2 MB line, and lines that
// look like nameserver lines and are not, with good appended at the end.
// glibc reads lines of any length, so a nameserver line after the long one
// counts.
func garbageResolvConf(good string) string {
	r := rand.New(rand.NewPCG(5, 213))
	var b strings.Builder
	for range 4096 {
		c := byte(r.UintN(256))
		if c == '\n' || c == '#' || c == ';' {
			c = 'x'
		}
		b.WriteByte(c)
	}
	b.WriteString("\n\x00\xff\xfe\r\n")
	b.WriteString(strings.Repeat("nameserver", 200_000)) // 2 MB on one line
	b.WriteString("\nnameserver 10.213.1.1.1\nnameserver fd00:213::zz\nnameserver\nnameserver10.213.1.1\n")
	b.WriteString("nameserver 10.213.1.1/24\nnameserver 10.213.1\nnameserver [10.213.1.1]\nnameserver 10.213.1.1:53\n")
	b.WriteString("\x00nameserver 10.213.1.1\noptions timeout:x attempts:-1 ndots:99999999999999999999\nsearch " + strings.Repeat("a", 300) + "\n")
	b.WriteString(good)
	return b.String()
}

// TestIntegrationDnsmasq checks interoperability with a real third-party
// resolver: Debian's dnsmasq, serving a local zone in the server namespace
// on IPv4 and IPv6, with no upstream. "make test" installs dnsmasq-base when
// it is missing; this test fails rather than skips without it.
func TestIntegrationDnsmasq(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Fatalf("dnsmasq not found (run the tests with make test, which installs dnsmasq-base): %v", err)
	}
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	dir := t.TempDir()
	cmd := l.server.Command(t.Context(), bin,
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file="+filepath.Join(dir, "pid"),
		"--user=root", "--group=root", "--log-facility=-",
		"--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address="+serverIP4, "--listen-address="+serverIP6, "--port=53",
		"--local=/test/",
		"--host-record=db.test,"+serverIP4+","+serverIP6,
		"--cname=alias.test,db.test",
		"--txt-record=info.test,netready",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, l, serverIP4+":53")

	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\nnameserver "+serverIP6+"\n")
	targets := []string{
		"dns:db.test", "dns:db.test?type=AAAA", "dns:alias.test", "dns:info.test?type=TXT",
		"dns://[" + serverIP6 + "]/db.test", "dns:missing.test", "dns:db.test?type=MX",
		"tcp://db.test:8080", "tcp://alias.test:8080",
		"dns:.",
	}
	wants := []want{
		pass(), pass(), pass(), pass(), pass(),
		fail("10.213.1.1:53: rcode NXDOMAIN", "[fd00:213::1]:53: rcode NXDOMAIN"),
		fail("no MX records"),
		pass(), pass(),
		// The default policy's question, to a resolver that serves
		// its own zone only (no upstream): not "check its access
		// control".
		fail("10.213.1.1:53: rcode REFUSED").because("resolver-refused").
			hinting("this resolver does not resolve the root zone (dns:., of the default policy): it may serve internal names only; name a target it serves instead"),
	}
	checkTargets(t, l.client, opts{flags: fast}, targets, wants)
}

// waitListening waits until something listens on UDP addr in the lab's
// server namespace (dnsmasq binds a moment after it starts).
func waitListening(t *testing.T, l *lab, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := l.server.Command(t.Context(), "ss", "-H", "-l", "-u", "-n").Output()
		if err == nil && strings.Contains(string(out), addr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on udp %s after 10s: %s", addr, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntegrationDNSAnswer: answer= passes only on the answer expected, as
// from a split-horizon or VPN resolver: resolvers giving the expected
// answer, a different one, and none at all.
func TestIntegrationDNSAnswer(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	// 10.213.1.1 is the public view; 10.213.1.53, the VPN's resolver,
	// gives the internal address; 10.213.1.54 knows no such name.
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.addServerAddr(t, "10.213.1.53")
	dnstest.Serve(t, l.server.ListenPacket(t, "10.213.1.53:53"), l.server.Listen(t, "10.213.1.53:53"),
		"ready.test. 60 IN A 10.213.1.99", "ready.test. 60 IN TXT \"v=internal\" \"; ok\"", "mail.test. 60 IN MX 10 MX1.ready.test.")
	l.dnsServer(t, "10.213.1.54", dnstest.NXDomain)
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.1.1\nnameserver 10.213.1.53\n")
	targets := []string{
		"dns://10.213.1.53/ready.test?answer=10.213.1.99",
		"dns://10.213.1.1/ready.test?answer=10.213.1.99",
		"dns://10.213.1.54/ready.test?answer=10.213.1.99",
		"dns:ready.test?answer=10.213.1.99",
		"dns:ready.test?answer=10.213.1.1",
		"dns:ready.test?answer=10.213.1.7",
		"dns:ready.test?type=AAAA&answer=fd00:213::1",
		"dns:alias.test?type=CNAME&answer=READY.test",
		"dns://10.213.1.53/ready.test?type=TXT&answer=v=internal%3B%20ok",
		"dns://10.213.1.53/mail.test?type=MX&answer=mx1.ready.test",
		"dns:v4only.test?type=AAAA&answer=fd00:213::1",
	}
	wants := []want{
		pass().showing("10.213.1.53:53 answered 1 A record (10.213.1.99), the expected 10.213.1.99"),
		fail("10.213.1.1:53: answered 10.213.1.1, not 10.213.1.99 (answer=)").because("wrong-answer").hinting("split-horizon"),
		fail("10.213.1.54:53: rcode NXDOMAIN").because("nxdomain"),
		pass().showing("10.213.1.53:53"), // one resolver of two suffices
		pass().showing("10.213.1.1:53"),
		fail("10.213.1.1:53: answered 10.213.1.1, not 10.213.1.7", "10.213.1.53:53: answered 10.213.1.99, not 10.213.1.7").because("wrong-answer"),
		pass(),
		pass(),
		pass(),
		pass(),
		fail("no AAAA records").because("no-records"),
	}
	checkTargets(t, l.client, opts{flags: fast}, targets, wants)
}
