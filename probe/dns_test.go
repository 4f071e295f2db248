package probe

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// testZone is what every test resolver serves.
var testZone = []string{
	". 60 IN NS a.root.test.",
	"ready.test. 60 IN A 127.0.0.1",
	"ready.test. 60 IN AAAA ::1",
	"www.test. 60 IN CNAME alias.test.",
	"alias.test. 60 IN CNAME ready.test.",
	"v6only.test. 60 IN AAAA ::1",
	"dangling.test. 60 IN CNAME gone.test.",
	"mx.test. 60 IN MX 10 mail.test.",
}

// Timeouts of the tests: long enough for a loaded machine running -race
// when the probe should pass, short when it must run out. mixedTimeout is
// for a probe that must both run out on one server and see another fail
// at once: a process stalled for failTimeout on a busy machine would see
// the second run out too.
const (
	passTimeout  = 5 * time.Second
	failTimeout  = 300 * time.Millisecond
	mixedTimeout = time.Second
)

// TestDNSServerTarget probes dns://SERVER/NAME targets against a dnstest
// server on loopback that answers, fails or misbehaves.
func TestDNSServerTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		listen   string // where the server listens; "" for 127.0.0.1:0, "none" for nowhere
		behavior dnstest.Behavior
		types    map[uint16]dnstest.Behavior // behaviour for queries of a type, instead of behavior
		held     bool                        // AAAA replies held until an A query was handled
		delay    time.Duration
		target   string // SERVER is the server's address
		timeout  time.Duration
		want     want // SERVER is the server's address
		udp, tcp int64
	}{
		{
			name:   "an address: A and AAAA asked at once",
			target: "dns://SERVER/ready.test",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1)", phases: []string{"resolve", "query"}},
			udp:    2,
		},
		{
			name:   "A record",
			target: "dns://SERVER/ready.test?type=A",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1) over IPv4", phases: []string{"resolve", "query"}},
			udp:    1,
		},
		{
			name:   "AAAA record",
			target: "dns://SERVER/ready.test?type=AAAA",
			want:   want{ok: true, detail: "SERVER answered 1 AAAA record (::1)"},
			udp:    1,
		},
		{
			name:   "an address of family 4 only",
			target: "dns://SERVER/ready.test?family=4",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1) over IPv4"},
			udp:    1,
		},
		{
			name:   "only an AAAA record, no type=",
			held:   true,
			target: "dns://SERVER/v6only.test",
			want:   want{ok: true, detail: "SERVER answered 1 AAAA record (::1) over IPv4; A: SERVER: no A records"},
			udp:    2,
		},
		{
			name:   "A refused, AAAA answered",
			types:  map[uint16]dnstest.Behavior{dns.TypeA: dnstest.Refused},
			held:   true,
			target: "dns://SERVER/ready.test",
			want:   want{ok: true, detail: "SERVER answered 1 AAAA record (::1) over IPv4; A: SERVER: rcode REFUSED"},
			udp:    2,
		},
		{
			name:   "A dropped, AAAA answered: the A query is given up after the resolution delay",
			types:  map[uint16]dnstest.Behavior{dns.TypeA: dnstest.Silent},
			target: "dns://SERVER/ready.test",
			want:   want{ok: true, detail: "SERVER answered 1 AAAA record (::1) over IPv4; no A answer within 50ms"},
			udp:    2,
		},
		{
			name:   "neither A nor AAAA records",
			target: "dns://SERVER/mx.test",
			want:   want{err: []string{`query "mx.test." A and AAAA: SERVER: no A or AAAA records`}, cause: CauseNoRecords},
			udp:    2,
		},
		{
			// No AAAA records says nothing of A: the refusal is why
			// the name has no address.
			name:   "A refused, AAAA without records",
			types:  map[uint16]dnstest.Behavior{dns.TypeA: dnstest.Refused},
			target: "dns://SERVER/mx.test",
			want: want{
				err:   []string{`query "mx.test." A and AAAA: SERVER: A: rcode REFUSED, AAAA: no AAAA records`},
				cause: CauseResolverRefused,
			},
			udp: 2,
		},
		{
			name:   "A without records, AAAA SERVFAIL",
			types:  map[uint16]dnstest.Behavior{dns.TypeAAAA: dnstest.ServFail},
			target: "dns://SERVER/mx.test",
			want: want{
				err:   []string{`query "mx.test." A and AAAA: SERVER: A: no A records, AAAA: rcode SERVFAIL`},
				cause: CauseResolverServfail,
			},
			udp: 2,
		},
		{
			name:   "answer= an IPv6 address: AAAA only",
			target: "dns://SERVER/ready.test?answer=::1",
			want:   want{ok: true, detail: "SERVER answered 1 AAAA record (::1), the expected ::1"},
			udp:    1,
		},
		{
			name:   "answer= an IPv4 address the A records do not hold",
			target: "dns://SERVER/ready.test?answer=127.0.0.9",
			want:   want{err: []string{`query "ready.test." A: SERVER: answered 127.0.0.1, not 127.0.0.9 (answer=)`}, cause: CauseWrongAnswer},
			udp:    1,
		},
		{
			name:   "CNAME chain followed to the address records",
			target: "dns://SERVER/www.test?type=A",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1)"},
			udp:    1,
		},
		{
			name:   "root NS by default",
			target: "dns://SERVER/.",
			want:   want{ok: true, detail: "SERVER answered 1 NS record (a.root.test.)"},
			udp:    1,
		},
		{
			name:   "server on ::1",
			listen: "[::1]:0",
			target: "dns://SERVER/ready.test",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1)"},
			udp:    2,
		},
		{
			name:   "NOERROR without records of the type",
			target: "dns://SERVER/v6only.test?type=A",
			want:   want{err: []string{`query "v6only.test." A: SERVER: no A records`}},
			udp:    1,
		},
		{
			name:   "CNAME chain to nothing",
			target: "dns://SERVER/dangling.test",
			want:   want{err: []string{`query "dangling.test." A and AAAA: SERVER: no A or AAAA records (CNAME chain ends at gone.test.)`}},
			udp:    2,
		},
		{
			name:   "name not in the zone",
			target: "dns://SERVER/nope.test",
			want:   want{err: []string{`query "nope.test." A and AAAA: SERVER: rcode NXDOMAIN`}, hint: "the name does not exist"},
			udp:    2,
		},
		{
			name:     "NXDOMAIN",
			behavior: dnstest.NXDomain,
			target:   "dns://SERVER/ready.test?type=A",
			want:     want{err: []string{"SERVER: rcode NXDOMAIN"}, hint: "the name does not exist"},
			udp:      1,
		},
		{
			name:     "the root, REFUSED",
			behavior: dnstest.Refused,
			target:   "dns://SERVER/.",
			want:     want{err: []string{`query "." NS: SERVER: rcode REFUSED`}, hint: "this resolver does not resolve the root zone (dns:., of the default policy): it may serve internal names only"},
			udp:      1,
		},
		{
			name:     "the root, NXDOMAIN",
			behavior: dnstest.NXDomain,
			target:   "dns://SERVER/.",
			want:     want{err: []string{`query "." NS: SERVER: rcode NXDOMAIN`}, hint: "name a target it serves instead, e.g. dns:HOST.YOUR.DOMAIN"},
			udp:      1,
		},
		{
			name:     "SERVFAIL",
			behavior: dnstest.ServFail,
			target:   "dns://SERVER/ready.test",
			want:     want{err: []string{`query "ready.test." A and AAAA: SERVER: rcode SERVFAIL`}, hint: "could not get an answer upstream"},
			udp:      2,
		},
		{
			name:     "REFUSED",
			behavior: dnstest.Refused,
			target:   "dns://SERVER/ready.test?type=A",
			want:     want{err: []string{"SERVER: rcode REFUSED"}, hint: "access control"},
			udp:      1,
		},
		{
			name:     "wrong id first",
			behavior: dnstest.WrongIDFirst,
			target:   "dns://SERVER/ready.test?type=A",
			want:     want{ok: true, detail: "SERVER answered 1 A record"},
			udp:      1,
		},
		{
			name:     "only wrong ids",
			behavior: dnstest.OnlyWrongID,
			target:   "dns://SERVER/ready.test?type=A",
			timeout:  failTimeout,
			want:     want{err: []string{"SERVER: i/o timeout (ignored 1 reply with a wrong id)"}, hint: "no answer from SERVER"},
			udp:      1,
		},
		{
			name:     "wrong question first",
			behavior: dnstest.WrongQuestionFirst,
			target:   "dns://SERVER/ready.test?type=A",
			want:     want{ok: true, detail: "SERVER answered 1 A record"},
			udp:      1,
		},
		{
			name:     "malformed first",
			behavior: dnstest.MalformedFirst,
			target:   "dns://SERVER/ready.test?type=A",
			want:     want{ok: true, detail: "SERVER answered 1 A record"},
			udp:      1,
		},
		{
			name:     "only malformed",
			behavior: dnstest.OnlyMalformed,
			target:   "dns://SERVER/ready.test?type=A",
			timeout:  failTimeout,
			want:     want{err: []string{"SERVER: i/o timeout (ignored 1 malformed reply)"}},
			udp:      1,
		},
		{
			name:     "truncated over udp, retried over tcp",
			behavior: dnstest.Truncate,
			target:   "dns://SERVER/ready.test?type=AAAA",
			want:     want{ok: true, detail: "SERVER answered 1 AAAA record (::1) over tcp"},
			udp:      1,
			tcp:      1,
		},
		{
			name:     "silent",
			behavior: dnstest.Silent,
			target:   "dns://SERVER/ready.test",
			timeout:  failTimeout,
			want:     want{err: []string{`query "ready.test." A and AAAA: SERVER: i/o timeout`}, hint: "no answer from SERVER"},
			udp:      2,
		},
		{
			name:    "reply later than the timeout",
			delay:   2 * failTimeout,
			target:  "dns://SERVER/ready.test?type=A",
			timeout: failTimeout,
			want:    want{err: []string{"SERVER: i/o timeout"}, hint: "no answer from SERVER"},
			udp:     1,
		},
		{
			name:   "reply within the timeout",
			delay:  50 * time.Millisecond,
			target: "dns://SERVER/ready.test?type=A",
			want:   want{ok: true, detail: "SERVER answered 1 A record"},
			udp:    1,
		},
		{
			name:   "nothing listening",
			listen: "none",
			target: "dns://SERVER/ready.test",
			want: want{
				err:  []string{`query "ready.test." A and AAAA: SERVER: connection refused`},
				hint: "no resolver listens on SERVER: is the local resolver (dnsmasq, unbound) running?",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var srv *dnstest.Server
			addr := ""
			switch tc.listen {
			case "none":
				addr = deadUDPPort(t)
			case "":
				srv = dnstest.Start(t, "127.0.0.1:0", testZone...)
			default:
				srv = dnstest.Start(t, tc.listen, testZone...)
			}
			if srv != nil {
				srv.SetBehavior(tc.behavior)
				for qt, b := range tc.types {
					srv.SetTypeBehavior(qt, b)
				}
				if tc.held {
					srv.HoldUntil(dns.TypeAAAA, dns.TypeA)
				}
				srv.SetDelay(tc.delay)
				addr = srv.String()
			}
			timeout := cmp.Or(tc.timeout, passTimeout)
			env := loopbackEnv(t, noResolvers, "")
			r := probeWithin(t, env, strings.ReplaceAll(tc.target, "SERVER", addr), timeout)
			tc.want.subst(strings.NewReplacer("SERVER", addr)).check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true for a loopback server")
			}
			if limit := timeout + 2*time.Second; r.Latency > limit {
				t.Errorf("Latency: got %v, want at most %v", r.Latency, limit)
			}
			if srv != nil {
				udp, tcp := srv.Queries()
				if udp != tc.udp || tcp != tc.tcp {
					t.Errorf("queries: got %d over udp and %d over tcp, want %d and %d", udp, tcp, tc.udp, tc.tcp)
				}
			}
		})
	}
}

// resolver is one nameserver line of a test's resolv.conf: a dnstest
// server at 127.213.N.i:53 behaving so, or nothing listening there.
type resolver struct {
	behavior dnstest.Behavior
	dead     bool
	zone     []string // records besides testZone
}

// startResolvers starts rs at 127.213.N.1, .2, ... and returns the
// nameserver lines of resolv.conf naming them.
func startResolvers(t testing.TB, n loopSubnet, rs []resolver) string {
	t.Helper()
	var conf strings.Builder
	for i, r := range rs {
		ip := n.addr(uint8(i + 1))
		fmt.Fprintf(&conf, "nameserver %s\n", ip)
		if !r.dead {
			serveAt53(t, ip, slices.Concat(testZone, r.zone)...).SetBehavior(r.behavior)
		}
	}
	return conf.String()
}

// TestIntegrationDNSResolvConf probes dns:NAME targets, which ask every resolver of
// resolv.conf at once.
func TestIntegrationDNSResolvConf(t *testing.T) {
	roottest.Require(t) // resolvers listen on port 53 of loopback addresses
	t.Parallel()
	tests := []struct {
		name      string
		resolvers []resolver
		target    string
		timeout   time.Duration
		want      want // {N} is the test's subnet
	}{
		{
			name:      "one resolver",
			resolvers: []resolver{{}},
			target:    "dns:ready.test",
			want:      want{ok: true, detail: "127.213.{N}.1:53 answered 1 A record (127.0.0.1)", phases: []string{"query"}},
		},
		{
			name:      "A",
			resolvers: []resolver{{}},
			target:    "dns:ready.test?type=A",
			want:      want{ok: true, detail: "127.213.{N}.1:53 answered 1 A record (127.0.0.1) over IPv4"},
		},
		{
			name:      "AAAA",
			resolvers: []resolver{{}},
			target:    "dns:ready.test?type=AAAA",
			want:      want{ok: true, detail: "127.213.{N}.1:53 answered 1 AAAA record (::1)"},
		},
		{
			name:      "silent first, good second",
			resolvers: []resolver{{behavior: dnstest.Silent}, {}},
			target:    "dns:ready.test",
			want:      want{ok: true, detail: "127.213.{N}.2:53 answered 1 A record"},
		},
		{
			name:      "dead first, good second",
			resolvers: []resolver{{dead: true}, {}},
			target:    "dns:ready.test",
			want:      want{ok: true, detail: "127.213.{N}.2:53 answered 1 A record"},
		},
		{
			name:      "good first, refusing second",
			resolvers: []resolver{{}, {behavior: dnstest.Refused}},
			target:    "dns:www.test",
			want:      want{ok: true, detail: "127.213.{N}.1:53 answered 1 A record (127.0.0.1)"},
		},
		{
			name:      "two answering",
			resolvers: []resolver{{}, {}},
			target:    "dns:www.test",
			want:      want{ok: true, detail: "answered 1 A record (127.0.0.1)"},
		},
		{
			name: "one with records, one without",
			resolvers: []resolver{
				{zone: []string{"split.test. 60 IN A 127.0.0.7"}},
				{zone: []string{"split.test. 60 IN AAAA ::7"}},
			},
			target: "dns:split.test?type=A",
			want:   want{ok: true, detail: "127.213.{N}.1:53 answered 1 A record (127.0.0.7)"},
		},
		{
			name: "each family from another resolver",
			resolvers: []resolver{
				{zone: []string{"split.test. 60 IN A 127.0.0.7"}, behavior: dnstest.ServFail},
				{zone: []string{"split.test. 60 IN AAAA ::7"}},
			},
			target: "dns:split.test",
			want:   want{ok: true, detail: "127.213.{N}.2:53 answered 1 AAAA record (::7)"},
		},
		{
			name:      "both failing",
			resolvers: []resolver{{behavior: dnstest.ServFail}, {behavior: dnstest.Refused}},
			target:    "dns:ready.test",
			want: want{
				err:  []string{`query "ready.test." A and AAAA: 127.213.{N}.1:53: rcode SERVFAIL; 127.213.{N}.2:53: rcode REFUSED`},
				hint: "could not get an answer upstream",
			},
		},
		{
			name:      "silent and dead",
			resolvers: []resolver{{behavior: dnstest.Silent}, {dead: true}},
			target:    "dns:ready.test",
			timeout:   mixedTimeout,
			want: want{
				err:  []string{"127.213.{N}.1:53: i/o timeout; 127.213.{N}.2:53: connection refused"},
				hint: "no answer from 127.213.{N}.1:53",
			},
		},
		{
			name:      "no records of the type from either",
			resolvers: []resolver{{}, {behavior: dnstest.NXDomain}},
			target:    "dns:v6only.test?type=A",
			want:      want{err: []string{"127.213.{N}.1:53: no A records; 127.213.{N}.2:53: rcode NXDOMAIN"}},
		},
		{
			name:      "no address from either",
			resolvers: []resolver{{}, {behavior: dnstest.NXDomain}},
			target:    "dns:mx.test",
			want: want{
				err:   []string{`query "mx.test." A and AAAA: 127.213.{N}.1:53: no A or AAAA records; 127.213.{N}.2:53: rcode NXDOMAIN`},
				cause: CauseNoRecords,
			},
		},
		{
			name:      "only an AAAA record, no type=",
			resolvers: []resolver{{behavior: dnstest.NXDomain}, {}},
			target:    "dns:v6only.test",
			want:      want{ok: true, detail: "127.213.{N}.2:53 answered 1 AAAA record (::1)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newLoopSubnet()
			conf := startResolvers(t, n, tc.resolvers)
			env := loopbackEnv(t, conf, "")
			r := probeWithin(t, env, tc.target, cmp.Or(tc.timeout, passTimeout))
			tc.want.subst(strings.NewReplacer("{N}", fmt.Sprint(n))).check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true for loopback resolvers")
			}
		})
	}
}

// TestDNSDefaultResolver checks that a resolv.conf without a nameserver
// makes the probe ask the loopback default, and says so when it fails.
// Nothing listens on port 53 of 127.0.0.1 and ::1 in the test
// environment, and ready.test. exists nowhere, so the probe fails whatever
// answers there.
func TestDNSDefaultResolver(t *testing.T) {
	t.Parallel()
	env := loopbackEnv(t, "search test.\noptions ndots:1\n", "")
	r := probeWithin(t, env, "dns:ready.test", passTimeout)
	want{err: []string{
		env.ResolvConf + " names no nameserver, so the default was tried",
		"127.0.0.1:53: ",
		"[::1]:53: ",
	}}.check(t, r)
}

// TestIntegrationResolveHost resolves the hosts of tcp:// targets through the hosts
// file, the search list and ndots, and checks how many queries reached the
// resolver.
func TestIntegrationResolveHost(t *testing.T) {
	roottest.Require(t) // resolvers listen on port 53 of loopback addresses
	t.Parallel()
	tests := []struct {
		name     string
		conf     string // resolv.conf lines besides the nameserver
		hosts    string
		zone     []string // {N} is the subnet, PORT the listener's port
		behavior dnstest.Behavior
		servfail []string          // names the resolver answers with SERVFAIL
		aaaa     *dnstest.Behavior // how the resolver treats AAAA queries, if not as the rest
		second   bool              // a second resolver, with the same zone, at 127.213.{N}.2
		host     string
		want     want  // {N} is the subnet, PORT the listener's port
		udp      int64 // queries the first resolver saw; -1 to not check
	}{
		{
			name: "search list",
			conf: "search test.\n",
			zone: []string{"db.test. 60 IN A 127.0.0.1"},
			host: "db",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT", phases: []string{"resolve", "connect"}},
			udp:  2, // A and AAAA of db.test.
		},
		{
			name:   "two resolvers",
			conf:   "search test.\n",
			zone:   []string{"db.test. 60 IN A 127.0.0.1", "db.test. 60 IN AAAA ::1"},
			second: true,
			host:   "db",
			want:   want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:    -1, // the slower resolver may not be asked at all
		},
		{
			name: "second search domain",
			conf: "search example.test. test.\n",
			zone: []string{"db.test. 60 IN A 127.0.0.1"},
			host: "db",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  4, // db.example.test. then db.test.
		},
		{
			name: "search list, then the name as is",
			conf: "search test.\n",
			zone: []string{"db. 60 IN A 127.0.0.1"},
			host: "db",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  4, // db.test. then db.
		},
		{
			name: "as many dots as ndots: the name as is first",
			conf: "search test.\n",
			zone: []string{"db.sub. 60 IN A 127.213.{N}.9", "db.sub.test. 60 IN A 127.0.0.1"},
			host: "db.sub",
			want: want{err: []string{"connect 127.213.{N}.9:PORT: connection refused"}, hint: "nothing is listening"},
			udp:  2,
		},
		{
			name: "fewer dots than ndots: the search list first",
			conf: "search test.\noptions ndots:2\n",
			zone: []string{"db.sub. 60 IN A 127.213.{N}.9", "db.sub.test. 60 IN A 127.0.0.1"},
			host: "db.sub",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  2,
		},
		{
			name: "trailing dot: absolute",
			conf: "search test.\n",
			zone: []string{"db.test. 60 IN A 127.0.0.1"},
			host: "db.test.",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  2,
		},
		{
			name:  "hosts file wins",
			conf:  "search test.\n",
			hosts: "# comment\n127.0.0.1 db.test db # db\n",
			zone:  []string{"db.test. 60 IN A 127.213.{N}.9"},
			host:  "db",
			want:  want{ok: true, detail: "connected to 127.0.0.1:PORT", phases: []string{"resolve", "connect"}},
			udp:   0,
		},
		{
			name:  "hosts file is case-insensitive",
			hosts: "127.0.0.1 DB.test\n",
			zone:  []string{"db.test. 60 IN A 127.213.{N}.9"},
			host:  "db.TEST",
			want:  want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:   0,
		},
		{
			name: "localhost without DNS",
			zone: []string{"localhost. 60 IN A 127.213.{N}.9"},
			host: "localhost",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  0,
		},
		{
			name: "no such host",
			conf: "search test.\n",
			host: "nope",
			want: want{err: []string{`resolve "nope": no such host`}, hint: "the name does not exist in DNS"},
			udp:  4, // nope.test. and nope.
		},
		{
			name: "AAAA only",
			conf: "search test.\n",
			zone: []string{"v6.test. 60 IN AAAA ::1"},
			host: "v6",
			want: want{err: []string{"connect [::1]:PORT: connection refused"}},
			udp:  2,
		},
		{
			// glibc's res_search goes on after SERVFAIL, as after NXDOMAIN.
			name:     "SERVFAIL under one search domain, found under the next",
			conf:     "search broken.test. test.\n",
			zone:     []string{"db.test. 60 IN A 127.0.0.1"},
			servfail: []string{"db.broken.test."},
			host:     "db",
			want:     want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:      4, // db.broken.test. then db.test.
		},
		{
			// ...and says SERVFAIL, not "no such host", if nothing else
			// resolves: the name may exist.
			name:     "SERVFAIL under one search domain, nothing under the rest",
			conf:     "search broken.test. test.\n",
			servfail: []string{"db.broken.test."},
			host:     "db",
			want:     want{err: []string{`resolve "db": 127.213.{N}.1:53: rcode SERVFAIL`}, hint: "could not get an answer upstream"},
			udp:      6, // db.broken.test., db.test. and db.
		},
		{
			// REFUSED is not SERVFAIL: glibc stops there.
			name:     "REFUSED under the first search domain ends the search",
			conf:     "search broken.test. test.\n",
			zone:     []string{"db.test. 60 IN A 127.0.0.1"},
			behavior: dnstest.Refused,
			host:     "db",
			want:     want{err: []string{`resolve "db": 127.213.{N}.1:53: rcode REFUSED`}},
			udp:      2,
		},
		{
			// The A answer is used 50ms after it came; the attempt
			// neither waits for its deadline nor blames the connect.
			name: "AAAA queries dropped",
			conf: "search test.\n",
			zone: []string{"db.test. 60 IN A 127.0.0.1"},
			aaaa: ptr(dnstest.Silent),
			host: "db",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT", phases: []string{"resolve", "connect"}},
			udp:  -1, // AAAA may be asked more than once
		},
		{
			name: "AAAA queries refused",
			conf: "search test.\n",
			zone: []string{"db.test. 60 IN A 127.0.0.1"},
			aaaa: ptr(dnstest.Refused),
			host: "db",
			want: want{ok: true, detail: "connected to 127.0.0.1:PORT"},
			udp:  2,
		},
		{
			name:     "resolver failing",
			conf:     "search test.\n",
			behavior: dnstest.ServFail,
			host:     "db",
			want:     want{err: []string{`resolve "db": 127.213.{N}.1:53: rcode SERVFAIL`}, hint: "could not get an answer upstream"},
			udp:      4, // db.test. and db., as glibc
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newLoopSubnet()
			p := tcpListener(t)
			sub := strings.NewReplacer("{N}", fmt.Sprint(n), "PORT", p)
			var zone []string
			for _, z := range tc.zone {
				zone = append(zone, sub.Replace(z))
			}
			srv := serveAt53(t, n.addr(1), zone...)
			srv.SetBehavior(tc.behavior)
			srv.SetRcode(dns.RcodeServerFailure, tc.servfail...)
			if tc.aaaa != nil {
				srv.SetTypeBehavior(dns.TypeAAAA, *tc.aaaa)
			}
			conf := fmt.Sprintf("nameserver %s\n%s", n.addr(1), tc.conf)
			if tc.second {
				serveAt53(t, n.addr(2), zone...)
				conf += fmt.Sprintf("nameserver %s\n", n.addr(2))
			}
			env := loopbackEnv(t, conf, tc.hosts)
			r := probeWithin(t, env, "tcp://"+tc.host+":"+p, passTimeout)
			tc.want.subst(sub).check(t, r)
			if tc.udp < 0 {
				return
			}
			if udp, tcp := srv.Queries(); udp != tc.udp || tcp != 0 {
				t.Errorf("queries: got %d over udp and %d over tcp, want %d and 0", udp, tcp, tc.udp)
			}
		})
	}
}

// TestIntegrationDNSNotCached changes the zone, the behaviour of the resolver and
// resolv.conf between rounds, each with a fresh Env, and checks that every
// round sees the change.
func TestIntegrationDNSNotCached(t *testing.T) {
	roottest.Require(t) // resolvers listen on port 53 of loopback addresses
	t.Parallel()
	n := newLoopSubnet()
	p := tcpListener(t)
	first := serveAt53(t, n.addr(1), fmt.Sprintf("db.test. 60 IN A %s", n.addr(9)))
	second := serveAt53(t, n.addr(2), "db.test. 60 IN A 127.0.0.1", "fresh.test. 60 IN A 127.0.0.2")
	rcPath := loopbackEnv(t, "", "").ResolvConf
	conf := func(ip string) func() {
		return func() {
			err := os.WriteFile(rcPath, []byte("search test.\nnameserver "+ip+"\n"), 0o644)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	targets := []Target{mustParse(t, "dns:fresh.test"), mustParse(t, "tcp://db:"+p)}
	sub := strings.NewReplacer("{N}", fmt.Sprint(n), "PORT", p)
	steps := []struct {
		name   string
		change func()
		want   []want // one per target
	}{
		{
			name:   "first resolver",
			change: conf(n.addr(1).String()),
			want: []want{
				{err: []string{"127.213.{N}.1:53: rcode NXDOMAIN"}},
				{err: []string{"connect 127.213.{N}.9:PORT: connection refused"}},
			},
		},
		{
			name:   "record added",
			change: func() { first.AddRecords(t, "fresh.test. 60 IN A 127.0.0.3") },
			want: []want{
				{ok: true, detail: "127.213.{N}.1:53 answered 1 A record (127.0.0.3)"},
				{err: []string{"connect 127.213.{N}.9:PORT: connection refused"}},
			},
		},
		{
			name:   "resolver fails",
			change: func() { first.SetBehavior(dnstest.ServFail) },
			want: []want{
				{err: []string{"127.213.{N}.1:53: rcode SERVFAIL"}},
				{err: []string{`resolve "db": 127.213.{N}.1:53: rcode SERVFAIL`}},
			},
		},
		{
			name:   "resolv.conf names another resolver",
			change: conf(n.addr(2).String()),
			want: []want{
				{ok: true, detail: "127.213.{N}.2:53 answered 1 A record (127.0.0.2)"},
				{ok: true, detail: "connected to 127.0.0.1:PORT"},
			},
		},
	}
	for _, st := range steps {
		st.change()
		// A new round reads resolv.conf again.
		env := NewEnv(rcPath, "", nil)
		results := Round(t.Context(), env, targets, passTimeout)
		for i, r := range results {
			t.Run(fmt.Sprintf("%s/%s", st.name, targets[i]), func(t *testing.T) {
				st.want[i].subst(sub).check(t, r)
			})
		}
	}
	if udp, _ := second.Queries(); udp != 4 { // fresh.test. and db.test., A and AAAA of each
		t.Errorf("queries to the second resolver: got %d, want 4", udp)
	}
}

// TestRoundOrder checks that Round returns the results in the order of the
// targets, not in the order the probes ended, and that each attempt is
// bounded by the per-probe timeout.
func TestRoundOrder(t *testing.T) {
	t.Parallel()
	slow := dnstest.Start(t, "127.0.0.1:0", testZone...)
	slow.SetDelay(200 * time.Millisecond)
	silent := dnstest.Start(t, "127.0.0.1:0", testZone...)
	silent.SetBehavior(dnstest.Silent)
	fast := dnstest.Start(t, "127.0.0.1:0", testZone...)
	live := tcpListener(t)
	dead := deadTCPPort(t)
	tests := []struct {
		target string
		ok     bool
	}{
		{"dns://" + slow.String() + "/ready.test", true},
		{"dns://" + silent.String() + "/ready.test", false},
		{"tcp://127.0.0.1:" + live, true},
		{"tcp://" + dead, false},
		{"dns://" + fast.String() + "/www.test", true},
		{"dns://" + fast.String() + "/nope.test", false},
	}
	var targets []Target
	for _, tc := range tests {
		targets = append(targets, mustParse(t, tc.target))
	}
	env := loopbackEnv(t, noResolvers, "")
	perProbe := time.Second
	start := time.Now()
	results := Round(context.Background(), env, targets, perProbe)
	if el := time.Since(start); el > perProbe+time.Second {
		t.Errorf("round took %v, want at most %v", el, perProbe+time.Second)
	}
	if len(results) != len(tests) {
		t.Fatalf("results: got %d, want %d", len(results), len(tests))
	}
	for i, tc := range tests {
		r := results[i]
		if got := r.Target.String(); got != targets[i].String() {
			t.Errorf("results[%d].Target: got %s, want %s", i, got, targets[i])
		}
		if r.OK != tc.ok {
			t.Errorf("results[%d] (%s) OK: got %v, want %v (err: %v)", i, tc.target, r.OK, tc.ok, r.Err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestResolveFailureIsLocal: a name that a loopback resolver could not
// resolve (nothing listens there yet: systemd-resolved at boot) makes the
// attempt a local one, re-checked every --local-interval, whatever the
// name would resolve to.
func TestResolveFailureIsLocal(t *testing.T) {
	t.Parallel()
	n := newLoopSubnet()
	env := loopbackEnv(t, fmt.Sprintf("nameserver %s\n", n.addr(1)), "")
	for _, target := range []string{"tcp://db.test:1", "http://db.test:1/", "tls://db.test:1"} {
		r := probeWithin(t, env, target, passTimeout)
		if r.OK || !r.Local || !strings.Contains(r.Err.Error(), "connection refused") {
			t.Errorf("%s: got ok=%v local=%v err=%v, want a local failure to resolve", target, r.OK, r.Local, r.Err)
		}
	}
}

// TestRefusal: which failures of a name are a resolver's prompt "no",
// asked again every second by wait (Failure.Refusal), and which stay on
// the schedule. A target is refused only if every resolver said no at
// once: one silent resolver beside them keeps it on the schedule.
func TestRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		resolvers []resolver
		target    string
		timeout   time.Duration
		want      bool
	}{
		{"NXDOMAIN", []resolver{{}}, "dns:nope.test", passTimeout, true},
		{"no records of the type", []resolver{{}}, "dns:v6only.test?type=A", passTimeout, true},
		{"SERVFAIL", []resolver{{behavior: dnstest.ServFail}}, "dns:ready.test", passTimeout, true},
		{"REFUSED", []resolver{{behavior: dnstest.Refused}}, "dns:ready.test", passTimeout, true},
		{"port unreachable", []resolver{{dead: true}}, "dns:ready.test", passTimeout, true},
		{"SERVFAIL and port unreachable", []resolver{{behavior: dnstest.ServFail}, {dead: true}}, "dns:ready.test", passTimeout, true},
		{"a host name: NXDOMAIN", []resolver{{}}, "tcp://nope.test:9", passTimeout, true},
		{"a host name: SERVFAIL", []resolver{{behavior: dnstest.ServFail}}, "tcp://ready.test:9", passTimeout, true},
		{"silence", []resolver{{behavior: dnstest.Silent}}, "dns:ready.test", failTimeout, false},
		{"NXDOMAIN and silence", []resolver{{}, {behavior: dnstest.Silent}}, "dns:nope.test", mixedTimeout, false},
		{"a wrong answer", []resolver{{}}, "dns:ready.test?answer=127.0.0.9", passTimeout, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newLoopSubnet()
			env := loopbackEnv(t, startResolvers(t, n, tc.resolvers), "")
			r := probeWithin(t, env, tc.target, tc.timeout)
			f, ok := r.Err.(*Failure)
			if !ok {
				t.Fatalf("got result ok=%v err=%v, want a *Failure", r.OK, r.Err)
			}
			if got := f.Refusal(); got != tc.want {
				t.Errorf("Refusal: got %v, want %v (cause %s: %v)", got, tc.want, f.Cause, f)
			}
		})
	}
}
