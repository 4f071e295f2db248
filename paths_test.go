package main

// Where a probe's packets go: via= (the interface), src= (the source
// address) and family= (IPv4 or IPv6), and names tried on both families at
// once.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// uplinks makes the lab's client multi-homed: a second link, veth2
// 10.213.2.2/24, to a second server namespace (veth3 10.213.2.1), each
// server hosting what the other cannot reach:
//
//	client veth0 10.213.1.2 -> server  (uplink A): 10.213.8.1:80
//	client veth2 10.213.2.2 -> server2 (uplink B): 10.213.9.1:80, a resolver on 10.213.9.53
//
// The client has a default route through each link (A's preferred, metric
// 0; B's metric 200), as a host with two uplinks does, and a policy rule
// that sends what leaves from 10.213.2.2 through B. Neither server
// forwards: a packet for the other's addresses goes nowhere. Its
// resolv.conf names B's resolver, which A cannot reach.
func uplinks(t *testing.T, l *lab) *netnstest.NS {
	t.Helper()
	b := netnstest.New(t)
	netnstest.Veth(t, l.client, "veth2", b, "veth3")
	l.client.IP(t, "addr", "add", "10.213.2.2/24", "dev", "veth2")
	b.IP(t, "addr", "add", "10.213.2.1/24", "dev", "veth3")
	b.IP(t, "addr", "add", "10.213.9.1/32", "dev", "veth3")
	b.IP(t, "addr", "add", "10.213.9.53/32", "dev", "veth3")
	b.IP(t, "link", "set", "veth3", "up")
	l.client.IP(t, "link", "set", "veth2", "up")
	waitOperUp(t, l.client, "veth2")
	waitOperUp(t, b, "veth3")
	l.client.IP(t, "route", "add", "default", "via", "10.213.2.1", "dev", "veth2", "metric", "200")
	l.client.IP(t, "rule", "add", "from", "10.213.2.2", "table", "102")
	l.client.IP(t, "route", "add", "default", "via", "10.213.2.1", "dev", "veth2", "table", "102")
	l.addServerAddr(t, "10.213.8.1")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	l.serveHTTP(t, "10.213.8.1:80", ok, nil)
	s := &lab{server: b}
	s.serveHTTP(t, "10.213.9.1:80", ok, nil)
	dnstest.Serve(t, b.ListenPacket(t, "10.213.9.53:53"), b.Listen(t, "10.213.9.53:53"), "b.test. 60 IN A 10.213.9.1")
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.9.53\n")
	return b
}

// TestIntegrationViaSrc: two uplinks, each the only path to its server;
// via= and src= pick each, for tcp, http, tls-less dns and icmp, resolver
// queries included.
func TestIntegrationViaSrc(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	uplinks(t, l)
	targets := []string{
		// via=
		"tcp://10.213.9.1:80",
		"tcp://10.213.9.1:80?via=veth2",
		"tcp://10.213.9.1:80?via=veth0",
		"tcp://10.213.8.1:80?via=veth0",
		"tcp://10.213.8.1:80?via=veth2",
		"http://10.213.9.1/?via=veth2",
		"icmp://10.213.9.1?via=veth2",
		// resolver queries leave through via= too
		"dns://10.213.9.53/b.test?via=veth2",
		"dns://10.213.9.53/b.test?via=veth0",
		"tcp://b.test:80?via=veth2",
		"tcp://b.test:80?via=veth0",
		// src=
		"tcp://10.213.9.1:80?src=10.213.2.2",
		"tcp://10.213.9.1:80?src=10.213.1.2",
		"http://10.213.9.1/?src=10.213.2.2",
		"icmp://10.213.9.1?src=10.213.2.2",
		"dns://10.213.9.53/b.test?src=10.213.2.2",
		// what does not exist (yet)
		"tcp://10.213.9.1:80?via=veth9",
		"dns:b.test?via=veth9",
		"tcp://10.213.9.1:80?src=10.213.2.77",
	}
	wants := []want{
		fail(),
		pass().showing("connected to 10.213.9.1:80 over IPv4 via veth2"),
		fail("connect 10.213.9.1:80"),
		pass().showing("via veth0"),
		fail("connect 10.213.8.1:80"),
		pass().showing("HTTP 200 OK from 10.213.9.1:80 over IPv4 via veth2"),
		pass().showing("echo reply from 10.213.9.1"),
		pass().showing("10.213.9.53:53 answered 1 A record (10.213.9.1) over IPv4 via veth2"),
		fail("10.213.9.53:53"),
		pass().showing("via veth2"),
		fail(`resolve "b.test"`, "10.213.9.53:53"),
		pass().showing("from 10.213.2.2"),
		fail("connect 10.213.9.1:80"),
		pass().showing("from 10.213.2.2"),
		pass().showing("from 10.213.2.2"),
		pass().showing("from 10.213.2.2"),
		fail("no link named veth9 (via=veth9)").because("no-link").hinting("`ip link` lists"),
		fail("no link named veth9 (via=veth9)").because("no-link"),
		fail("10.213.2.77 is not a usable address of this host yet (src=10.213.2.77)").because("no-address"),
	}
	checkTargets(t, l.client, opts{flags: []string{"--probe-timeout", "2s"}}, targets, wants)
}

// TestIntegrationViaUnprivileged: SO_BINDTODEVICE needs no capability since
// Linux 5.7: via= works for a user without any, as netready's units run.
func TestIntegrationViaUnprivileged(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	uplinks(t, l)
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"}
	checkTargets(t, l.client, opts{wrap: nobody, flags: []string{"--probe-timeout", "2s"}},
		[]string{"tcp://10.213.9.1:80?via=veth2", "dns://10.213.9.53/b.test?via=veth2", "tcp://b.test:80?via=veth2"},
		[]want{pass().showing("via veth2"), pass().showing("via veth2"), pass().showing("via veth2")})
}

// TestIntegrationViaAppears: a via= link that does not exist yet is waited
// for, and the wait ends once it appears with a path to the server.
func TestIntegrationViaAppears(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	b := uplinks(t, l)
	p := startNetready(t, l.client, nil, append(waitArgs("-v", "--local-interval", "100ms"), "tcp://10.213.9.1:80?via=veth5")...)
	p.waitStderr(t, "no link named veth5 (via=veth5)")
	netnstest.Veth(t, l.client, "veth5", b, "veth6")
	l.client.IP(t, "addr", "add", "10.213.5.2/24", "dev", "veth5")
	b.IP(t, "addr", "add", "10.213.5.1/24", "dev", "veth6")
	b.IP(t, "link", "set", "veth6", "up")
	l.client.IP(t, "link", "set", "veth5", "up")
	l.client.IP(t, "route", "add", "default", "via", "10.213.5.1", "dev", "veth5", "metric", "300")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
}

// TestIntegrationFamilies: a name with an IPv4 and an IPv6 address, servers
// that listen on one family only, and family= restricting the probe to
// one.
func TestIntegrationFamilies(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	l.serveHTTP(t, serverIP4+":8081", ok, nil)      // IPv4 only
	l.serveHTTP(t, "["+serverIP6+"]:8082", ok, nil) // IPv6 only
	targets := []string{
		"tcp://ready.test:8081",
		"tcp://ready.test:8082",
		"http://ready.test:8081/",
		"http://ready.test:8082/",
		"tcp://ready.test:8081?family=4",
		"tcp://ready.test:8082?family=6",
		"tcp://ready.test:8081?family=6",
		"tcp://ready.test:8082?family=4",
		"tcp://ready.test:8083",
		"icmp://ready.test?family=6",
		"icmp://ready.test?family=4",
		"link:veth0?family=4",
		"link:veth0?family=6",
		"dns:ready.test?family=6",
	}
	wants := []want{
		pass().showing("connected to 10.213.1.1:8081 over IPv4"),
		pass().showing("connected to [fd00:213::1]:8082 over IPv6"),
		pass().showing("over IPv4"),
		pass().showing("over IPv6"),
		pass().showing("over IPv4"),
		pass().showing("over IPv6"),
		fail("connect [fd00:213::1]:8081: connection refused").because("port-closed"),
		fail("connect 10.213.1.1:8082: connection refused").because("port-closed"),
		fail("IPv4: connect 10.213.1.1:8083: connection refused; IPv6: connect [fd00:213::1]:8083: connection refused").because("port-closed"),
		pass().showing("echo reply from fd00:213::1"),
		pass().showing("echo reply from 10.213.1.1"),
		pass().showing("10.213.1.2/24"),
		pass().showing("fd00:213::2/64"),
		fail("no IPv6 resolver").because("no-resolver"),
	}
	out := checkTargets(t, l.client, opts{flags: fast}, targets, wants)
	for i, tg := range out.doc.Targets {
		if strings.Contains(targets[i], "family=6") && strings.Contains(tg.Error, "10.213.1.1") ||
			strings.Contains(targets[i], "family=4") && strings.Contains(tg.Error, "fd00:213::1") {
			t.Errorf("%s: error %q names an address of the other family", targets[i], tg.Error)
		}
	}
}

// TestIntegrationFamilyBlackholed: one family of a dual-stack name is
// blackholed (nft drops its SYNs: no reset, no ICMP). The other wins at
// once: the target passes in its first round, naming that family, well
// before --probe-timeout, which is what the blackholed attempt would take.
func TestIntegrationFamilyBlackholed(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	for _, addr := range []string{serverIP4 + ":8084", "[" + serverIP6 + "]:8084", serverIP4 + ":8085", "[" + serverIP6 + "]:8085"} {
		l.serveHTTP(t, addr, ok, nil)
	}
	l.nft(t, `table inet netready_blackhole {
	chain input {
		type filter hook input priority filter; policy accept;
		ip6 daddr fd00:213::1 tcp dport 8084 drop
		ip daddr 10.213.1.1 tcp dport 8085 drop
	}
}
`)
	const probeTimeout = 10 * time.Second
	targets := []string{"tcp://ready.test:8084", "http://ready.test:8084/", "tcp://ready.test:8085", "http://ready.test:8085/", "tcp://ready.test:8084?family=6"}
	wants := []want{
		pass().showing("over IPv4"), pass().showing("over IPv4"),
		pass().showing("over IPv6"), pass().showing("over IPv6"),
		fail("connect [fd00:213::1]:8084: i/o timeout").because("filtered"),
	}
	// Only the last target waits for its timeout: check the others alone
	// first, so that the report's elapsed time is theirs.
	out := checkTargets(t, l.client, opts{flags: []string{"--probe-timeout", probeTimeout.String()}}, targets[:4], wants[:4])
	if out.doc.Rounds != 1 {
		t.Errorf("rounds: got %d, want 1", out.doc.Rounds)
	}
	for _, tg := range out.doc.Targets {
		t.Logf("%s: %.1fms, %s", tg.Target, tg.LatencyMS, tg.Detail)
		if tg.LatencyMS > float64(probeTimeout/time.Millisecond)/4 {
			t.Errorf("%s: took %.0fms, want well under --probe-timeout %s: the blackholed family was waited for", tg.Target, tg.LatencyMS, probeTimeout)
		}
	}
	checkTargets(t, l.client, opts{flags: fast}, targets[4:], wants[4:])
}
