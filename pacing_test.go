package main

// Pacing: how soon a failing target is probed again.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationLocalResolverLate: the name of a tcp target is to be
// resolved by a resolver on loopback that starts late, as
// systemd-resolved at boot; it announces itself by no event. The target is
// re-checked every --local-interval (250ms) meanwhile, not on the backoff
// schedule (an hour here), whatever address the name will have.
func TestIntegrationLocalResolverLate(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startNetready(t, l.client, nil, "wait", "-v", "--json", "--timeout", "20s", "--backoff-initial", "1h", "--backoff-max", "1h", "--resolv-conf", conf, "tcp://lo.test:8080")
	p.waitLog(t, "probe", "target", "tcp://lo.test:8080", "ok", "false")
	dnstest.Serve(t, l.client.ListenPacket(t, "127.0.0.1:53"), l.client.Listen(t, "127.0.0.1:53"), "lo.test. 60 IN A "+serverIP4)
	p.readyAfterChange(t, "the resolver started")
}

// nftCounter counts, in the server namespace, the packets to proto dport
// port that reach it (accepted, or dropped when drop is set).
func (l *lab) nftCounter(t *testing.T, proto string, port int, drop bool) func() int {
	t.Helper()
	verdict := ""
	if drop {
		verdict = " drop"
	}
	l.nft(t, fmt.Sprintf(`table inet netready_count {
	chain input {
		type filter hook input priority filter; policy accept;
		%s dport %d counter%s
	}
}
`, proto, port, verdict))
	return func() int {
		out, err := l.server.Command(t.Context(), "nft", "list", "chain", "inet", "netready_count", "input").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		m := regexp.MustCompile(`counter packets (\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no counter in %s", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
}

// TestIntegrationRefusedStartsLate: a resolver and a TCP service that start
// 3s after wait, on a host that is up: until then each query meets an ICMP
// port unreachable and each SYN a reset. The target is probed again every
// second while it is refused; with the schedule an hour away and netlink
// not watched (the lab's IPv6 link-local addresses finish duplicate address
// detection a moment after it is made, which is a change), only that can
// make wait ready.
func TestIntegrationRefusedStartsLate(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	tests := []struct {
		name   string
		target string
		cause  string
		start  func(t *testing.T, l *lab)
	}{
		{"a resolver", "dns://10.213.1.1/ready.test", "resolver-down", func(t *testing.T, l *lab) { l.dnsServer(t, serverIP4, dnstest.Answer) }},
		{"a TCP service", "tcp://10.213.1.1:8080", "port-closed", func(t *testing.T, l *lab) { l.server.Listen(t, serverIP4+":8080") }},
		// The name's resolver refuses: that is the target's refusal.
		{"the resolver of a name", "tcp://ready.test:8080", "resolver-down", func(t *testing.T, l *lab) { l.dnsServer(t, serverIP4, dnstest.Answer) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if tt.cause == "resolver-down" && strings.HasPrefix(tt.target, "tcp:") {
				l.server.Listen(t, serverIP4+":8080")
			}
			p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--json", "--timeout", "30s", "--hosts-file", "", "--no-netlink"}, append(noRetry, tt.target)...)...)
			p.waitLog(t, "probe", "target", tt.target, "ok", "false")
			if !strings.Contains(p.stderr.String(), "cause="+tt.cause) {
				t.Fatalf("the first round does not say %s\n%s", tt.cause, p)
			}
			time.Sleep(time.Until(p.start.Add(3 * time.Second)))
			tt.start(t, l)
			started := time.Now()
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit code: got %d, want 0\n%s", code, p)
			}
			t.Logf("ready %s after the service started (%d rounds)", p.exited.Sub(started).Round(time.Millisecond), p.doc(t).Rounds)
			if doc := p.doc(t); doc.Rounds < 3 {
				t.Errorf("got ready after %d rounds, want several, a second apart\n%s", doc.Rounds, p)
			}
		})
	}
}

// TestIntegrationRefusedManyTargets: eight targets ask one resolver whose
// port is closed, on a host that keeps the kernel's default rate limit of
// ICMP errors (a burst of six, then one a second). Each target must still
// see "refused" in every round — never silence, which would put it on the
// slow schedule — and the host must get about one query a second, not
// eight.
func TestIntegrationRefusedManyTargets(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	count := l.nftCounter(t, "udp", 53, false)
	var targets []string
	for i := range 8 {
		targets = append(targets, fmt.Sprintf("dns://10.213.1.1/n%d.test", i))
	}
	const run = 6 * time.Second
	p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--no-netlink", "--timeout", run.String()}, append(noRetry, targets...)...)...)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1 (never ready)\n%s", code, p)
	}
	probes := regexp.MustCompile(`msg=probe target=\S+ ok=false .*`).FindAllString(p.stderr.String(), -1)
	rounds := len(probes) / len(targets)
	for _, line := range probes {
		if !strings.Contains(line, "cause=resolver-down") {
			t.Errorf("a probe saw something else than a refusal: %s", line)
		}
	}
	if rounds < 4 {
		t.Errorf("got %d rounds in %s, want one a second\n%s", rounds, run, p)
	}
	// The first round asks all eight at once; each later one, one query.
	queries := count()
	t.Logf("%d rounds of %d targets; the resolver's host got %d queries", rounds, len(targets), queries)
	if limit := len(targets) + rounds; queries > limit {
		t.Errorf("the resolver's host got %d queries in %d rounds, want at most %d", queries, rounds, limit)
	}
}

// TestIntegrationSilentOnSchedule: a resolver whose host drops every query
// (a firewall, a host that is down) is silence, not a refusal: it stays on
// the backoff schedule, and gets no more queries than the schedule allows
// — rounds at 0 and 5s in 12s, each with the query and, when half of
// --probe-timeout has passed in silence, one with a small EDNS buffer
// (probe/mtu.go). Netlink is not watched, so that no change (see
// TestIntegrationRefusedStartsLate) adds a round.
func TestIntegrationSilentOnSchedule(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	count := l.nftCounter(t, "udp", 53, true)
	p := startNetready(t, l.client, nil, "wait", "-v", "--no-netlink", "--timeout", "12s", "--probe-timeout", "1s", "dns://10.213.1.1/ready.test?type=A")
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1 (never ready)\n%s", code, p)
	}
	if !strings.Contains(p.stderr.String(), "cause=resolver-timeout") {
		t.Errorf("the report does not say resolver-timeout\n%s", p)
	}
	if rounds, n := waitOverInt(t, p, "rounds"), count(); rounds != 2 || n != 2*rounds {
		t.Errorf("the silent resolver got %d queries in %d rounds in 12s, want 2 rounds (at 0 and 5s) of 2\n%s", n, rounds, p)
	}
}

// TestIntegrationAnnouncedNotPolled: targets that fail for a reason the
// kernel announces — no route, and a tcp target whose network is
// unreachable — are not re-checked every --local-interval while netlink
// is watched: the route's arrival will say when to look again. With
// --no-netlink they are polled.
func TestIntegrationAnnouncedNotPolled(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	for _, tt := range []struct {
		name      string
		flags     []string
		minRounds int
		maxRounds int
	}{
		// One round, and perhaps one for the lab's IPv6 link-local
		// addresses finishing duplicate address detection.
		{"netlink watched", nil, 1, 2},
		{"--no-netlink", []string{"--no-netlink"}, 10, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.client.IP(t, "route", "del", "default")
			args := append([]string{"wait", "-v", "--json", "--timeout", "3s", "--local-interval", "100ms"}, tt.flags...)
			p := startNetready(t, l.client, nil, append(args, "route:default4", "tcp://10.213.50.1:8080")...)
			if code := p.wait(t); code != 1 {
				t.Fatalf("exit code: got %d, want 1\n%s", code, p)
			}
			for _, c := range []string{"cause=no-route"} {
				if !strings.Contains(p.stderr.String(), c) {
					t.Errorf("no probe says %s\n%s", c, p)
				}
			}
			if rounds := p.doc(t).Rounds; rounds < tt.minRounds || rounds > tt.maxRounds {
				t.Errorf("got %d rounds in 3s, want %d to %d\n%s", rounds, tt.minRounds, tt.maxRounds, p)
			}
		})
	}
}

// TestIntegrationAnsweredNoPaced: a resolver that answers that a name a
// target needs is not there — NXDOMAIN, no records of the type, SERVFAIL,
// a REFUSED rcode — is asked again every second while it answers so: a
// name being registered (DHCP, a Kubernetes Service being created) is
// seen at the first round after it exists, not at the next step of the
// schedule. The server starts answering at an exact query, the
// (failing+1)th for the name, so the test needs no clock: with the
// schedule an hour away and netlink not watched, only the re-check every
// second can make those rounds, and the round that asks after the name
// appeared is the one that passes.
func TestIntegrationAnsweredNoPaced(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	const failing = 3 // rounds that see the "no"
	tests := []struct {
		name   string
		target string
		cause  string
		before dnstest.Behavior                      // until the name appears
		appear func(t *testing.T, s *dnstest.Server) // makes the name resolve
		qname  string
		qtype  uint16
	}{
		{"NXDOMAIN, then the name exists", "dns:late.test", "nxdomain", dnstest.Answer,
			func(t *testing.T, s *dnstest.Server) { s.AddRecords(t, "late.test. 60 IN A 10.213.1.1") }, "late.test.", dns.TypeA},
		{"no records of the type, then one", "dns:v4only.test?type=AAAA", "no-records", dnstest.Answer,
			func(t *testing.T, s *dnstest.Server) { s.AddRecords(t, "v4only.test. 60 IN AAAA fd00:213::1") }, "v4only.test.", dns.TypeAAAA},
		{"SERVFAIL, then an answer", "dns:ready.test", "resolver-servfail", dnstest.ServFail,
			func(t *testing.T, s *dnstest.Server) { s.SetBehavior(dnstest.Answer) }, "ready.test.", dns.TypeA},
		{"REFUSED, then an answer", "dns:ready.test", "resolver-refused", dnstest.Refused,
			func(t *testing.T, s *dnstest.Server) { s.SetBehavior(dnstest.Answer) }, "ready.test.", dns.TypeA},
		{"the name of a tcp target: NXDOMAIN, then it exists", "tcp://late.test:8080", "nxdomain", dnstest.Answer,
			func(t *testing.T, s *dnstest.Server) { s.AddRecords(t, "late.test. 60 IN A 10.213.1.1") }, "late.test.", dns.TypeA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.server.Listen(t, serverIP4+":8080")
			s := l.dnsServer(t, serverIP4, tt.before)
			var asked atomic.Int32
			s.OnQuery(func(q *dns.Msg) {
				if len(q.Question) == 1 && strings.EqualFold(q.Question[0].Name, tt.qname) && q.Question[0].Qtype == tt.qtype {
					if asked.Add(1) == failing+1 {
						tt.appear(t, s)
					}
				}
			})
			p := startNetready(t, l.client, nil, append([]string{"wait", "-v", "--json", "--timeout", "30s", "--hosts-file", "", "--no-netlink"}, append(noRetry, tt.target)...)...)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit code: got %d, want 0\n%s", code, p)
			}
			probes := regexp.MustCompile(`msg=probe target=\S+ ok=false .*`).FindAllString(p.stderr.String(), -1)
			for _, line := range probes {
				if !strings.Contains(line, "cause="+tt.cause) {
					t.Errorf("a failing round saw something else than %s: %s", tt.cause, line)
				}
			}
			if len(probes) != failing {
				t.Errorf("got %d failing rounds, want %d (one per query before the name appeared)\n%s", len(probes), failing, p)
			}
			if got := p.doc(t).Rounds; got != failing+1 {
				t.Errorf("got ready after %d rounds, want %d: the round after the name appeared passes\n%s", got, failing+1, p)
			}
			if n := asked.Load(); n != failing+1 {
				t.Errorf("the resolver was asked %d times for %s, want %d", n, tt.qname, failing+1)
			}
		})
	}
}
