package main

// Extended DNS Errors (RFC 8914) from a real resolver: Debian's Unbound,
// unpacked (never installed: its package starts a resolver on the host)
// and run in a lab namespace with a configuration of its own, in front of
// authoritative servers of the test (internal/dnstest, some serving zones
// signed here). Each case first checks its premise — the resolver's reply
// carries the extended error — then what netready makes of it.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// The authoritative servers of the Unbound labs, in the server namespace.
const (
	authIP    = "10.213.1.20" // test.
	subAuthIP = "10.213.1.21" // sub.test., a child of test.
)

var (
	unboundOnce sync.Once
	unboundRoot string
	unboundErr  error
)

// unbound returns Debian's unbound binary and the environment that runs
// it: the package and the libraries the host lacks, unpacked by
// scripts/container-root.sh (make deps fetches them; they are cached in
// /var/cache/netready-e2e, a download happens the first time only).
func unbound(t *testing.T) (bin string, env []string) {
	t.Helper()
	unboundOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var stderr strings.Builder
		cmd := exec.CommandContext(ctx, "scripts/container-root.sh", "unbound")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			unboundErr = fmt.Errorf("scripts/container-root.sh unbound: %v\n%s", err, stderr.String())
			return
		}
		unboundRoot = strings.TrimSpace(string(out))
	})
	if unboundErr != nil {
		t.Fatal(unboundErr)
	}
	bin = filepath.Join(unboundRoot, "usr/sbin/unbound")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no unbound in %s: %v", unboundRoot, err)
	}
	libs, _ := filepath.Glob(filepath.Join(unboundRoot, "usr/lib/*-linux-gnu"))
	return bin, []string{"LD_LIBRARY_PATH=" + strings.Join(libs, ":")}
}

// unboundConf is what every lab's Unbound is told, before its own lines:
// listen on ADDR:53, stay in the foreground, log to stderr, keep its files
// in DIR, no chroot, no user switch, no control socket, and send extended
// errors (or not: EDE). test. is resolved, not answered NXDOMAIN as
// RFC 6761 lets a resolver do. A bogus answer is not cached: Unbound 1.17
// answers one from its cache with EDE 6 (DNSSEC Bogus) whatever the first
// validation found (1.18 keeps the code), and every query of a case must
// see what the first did. Its root hints name a lab address nothing answers on, so that
// nothing it is not told of leaves the lab.
const unboundConf = `server:
	interface: {ADDR}
	port: 53
	do-daemonize: no
	use-syslog: no
	logfile: ""
	log-servfail: yes
	verbosity: 1
	chroot: ""
	username: ""
	directory: "{DIR}"
	pidfile: "{DIR}/unbound.pid"
	root-hints: "{DIR}/root.hints"
	use-systemd: no
	do-ip6: no
	qname-minimisation: no
	module-config: "validator iterator"
	local-zone: "test." nodefault
	val-bogus-ttl: 0
	access-control: 10.213.0.0/16 allow
	access-control: 127.0.0.0/8 allow
	ede: {EDE}
`

// startUnbound runs Unbound in ns, listening on addr:53, with the lines of
// conf after unboundConf's, and waits until it answers. It is stopped when
// the test ends, or by stop.
func startUnbound(t *testing.T, ns *netnstest.NS, addr string, ede bool, conf string) (stop func()) {
	t.Helper()
	bin, env := unbound(t)
	dir := t.TempDir()
	r := strings.NewReplacer("{ADDR}", addr, "{DIR}", dir, "{EDE}", map[bool]string{true: "yes", false: "no"}[ede])
	hints := ". 3600 IN NS root.lab.\nroot.lab. 3600 IN A 10.213.1.99\n"
	if err := os.WriteFile(filepath.Join(dir, "root.hints"), []byte(hints), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(r.Replace(unboundConf)+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, ns, env, bin, "-d", "-c", path)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), "start of service") {
		select {
		case <-p.done:
			t.Fatalf("unbound exited: %v\n%s", p.cmd.ProcessState, p)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("unbound has not started after 20s\n%s", p)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("unbound's log:\n%s", p.stderr.String())
		}
	})
	return func() {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// query asks server (ADDR:PORT) for name and qtype from inside ns, as
// netready's queries are sent: EDNS0, recursion desired. It fails the test
// if no reply comes.
func query(t *testing.T, ns *netnstest.NS, server, name string, qtype uint16) *dns.Msg {
	t.Helper()
	var (
		c   net.Conn
		err error
	)
	ns.Do(t, func() { c, err = net.Dial("udp", server) })
	if err != nil {
		t.Fatalf("dial %s in %s: %v", server, ns.Name, err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	cl := &dns.Client{Timeout: 10 * time.Second}
	r, _, err := cl.ExchangeWithConn(m, &dns.Conn{Conn: c})
	if err != nil {
		t.Fatalf("premise: query %s %s at %s: %v", name, dns.TypeToString[qtype], server, err)
	}
	return r
}

// extendedError is the first EDE option of r: its code, and whether there
// is one.
func extendedError(r *dns.Msg) (uint16, string, bool) {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode, e.ExtraText, true
			}
		}
	}
	return 0, "", false
}

// requireEDE checks the premise of a case: the resolver at server answers
// name with rcode and the extended error code (none when code is -1).
func requireEDE(t *testing.T, ns *netnstest.NS, server, name string, rcode, code int) {
	t.Helper()
	r := query(t, ns, server, name, dns.TypeA)
	got, text, ok := extendedError(r)
	switch {
	case r.Rcode != rcode:
		t.Fatalf("premise: %s answered %s rcode %s, want %s\n%s", server, name, dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode], r)
	case code < 0 && ok:
		t.Fatalf("premise: %s answered %s with extended error %d %q, want none\n%s", server, name, got, text, r)
	case code >= 0 && (!ok || int(got) != code):
		t.Fatalf("premise: %s answered %s without extended error %d\n%s", server, name, code, r)
	}
	t.Logf("premise: %s answers %s %s, extended error %d %q (%v)", server, name, dns.RcodeToString[r.Rcode], got, text, ok)
}

// authZone is test.'s zone: ready.test. and stale.test. are the names the
// cases ask for.
var authZone = []string{
	"test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60",
	"test. 3600 IN NS ns.test.",
	"ns.test. 3600 IN A " + authIP,
	"ready.test. 60 IN A 10.213.1.1",
}

// authServer serves records at addr:53 in the lab's server namespace.
func (l *lab) authServer(t *testing.T, addr string, records ...string) *dnstest.Server {
	t.Helper()
	l.addServerAddr(t, addr)
	hp := net.JoinHostPort(addr, "53")
	return dnstest.Serve(t, l.server.ListenPacket(t, hp), l.server.Listen(t, hp), records...)
}

// signedTest serves test. (authZone and extra) signed with signatures
// valid from inception to expiration, and returns its server and the
// Unbound lines that make test. validated with its key and asked of that
// server.
func (l *lab) signedTest(t *testing.T, inception, expiration time.Time, extra ...string) (*dnstest.Server, string) {
	t.Helper()
	z := dnstest.Sign(t, "test.", inception, expiration, append(authZone, extra...)...)
	srv := l.authServer(t, authIP, z.Records...)
	srv.SetSigned(true)
	anchor := strings.Join(strings.Fields(z.Anchor), " ")
	return srv, fmt.Sprintf("\ttrust-anchor: \"%s\"\nstub-zone:\n\tname: \"test.\"\n\tstub-addr: %s\n", anchor, authIP)
}

// dnssecLab is Unbound on the server's address validating test., whose
// signatures are valid from inception to expiration; ede says whether it
// sends extended errors.
func dnssecLab(inception, expiration time.Duration, ede bool, code int) func(t *testing.T, l *lab) {
	return func(t *testing.T, l *lab) {
		now := time.Now()
		_, conf := l.signedTest(t, now.Add(inception), now.Add(expiration))
		startUnbound(t, l.server, serverIP4, ede, conf)
		requireEDE(t, l.client, serverIP4+":53", "ready.test", dns.RcodeServerFailure, code)
	}
}

// The signatures' periods: well beyond Unbound's allowance for clock skew
// (val-sig-skew-max, one day).
const (
	day       = 24 * time.Hour
	expired   = -10 * day // the end of a period ended ten days ago
	notYet    = 10 * day  // the start of one that starts in ten days
	aLongTime = 30 * day
)

// extendedErrorCases are TestIntegrationCauses's cases with Unbound:
// DNSSEC signatures expired or not valid yet (the clock), an upstream
// that fails, an access list, each with the extended error Unbound sends,
// and the twin without it.
func extendedErrorCases(t *testing.T) []labCase {
	return []labCase{
		{name: "DNSSEC signature expired (Unbound, EDE 7)", setup: dnssecLab(expired-aLongTime, expired, true, int(dns.ExtendedErrorCodeSignatureExpired)),
			targets: []string{"dns:ready.test", "tcp://ready.test:8080"},
			wants: []want{
				// A and AAAA at once: the zone holds no AAAA, and its
				// signed denial is found bogus too (EDE 12: the lab's
				// signer makes no NSEC records).
				fail("10.213.1.1:53: A: rcode SERVFAIL, extended error 7 (Signature Expired), AAAA: rcode SERVFAIL, extended error").because("dnssec-failed").
					hinting("the resolver at 10.213.1.1:53 judges signatures by its own clock"),
				fail(`resolve "ready.test": 10.213.1.1:53: rcode SERVFAIL, extended error 7 (Signature Expired)`).because("dnssec-failed"),
			}},
		{name: "DNSSEC signature not yet valid (Unbound, EDE 8)", setup: dnssecLab(notYet, notYet+aLongTime, true, int(dns.ExtendedErrorCodeSignatureNotYetValid)),
			targets: []string{"dns:ready.test"},
			wants: []want{fail("10.213.1.1:53: A: rcode SERVFAIL, extended error 8 (Signature Not Yet Valid)").because("dnssec-failed").
				hinting("the zone's signatures are not valid yet")}},
		// Without the extended error, a SERVFAIL says nothing of DNSSEC.
		{name: "DNSSEC signature expired (Unbound without ede)", setup: dnssecLab(expired-aLongTime, expired, false, -1),
			targets: []string{"dns:ready.test"},
			wants:   []want{fail("10.213.1.1:53: rcode SERVFAIL").because("resolver-servfail").hinting("could not get an answer upstream")}},
		// One target per lab: Unbound 1.17 says why only to the
		// queries that wait for the failing DS query; one that comes
		// after finds sub.test.'s key marked bad in its cache, for a
		// minute, and is told EDE 6 (DNSSEC Bogus).
		{name: "resolver's upstream fails (Unbound, EDE 23)", setup: upstreamLab,
			targets: []string{"dns:ready.sub.test"},
			wants: []want{fail("10.213.1.1:53: rcode SERVFAIL, extended error 23 (Network Error)").because("resolver-upstream").
				hinting("the resolver at 10.213.1.1:53 runs, but cannot get an answer from the zone's servers or its forwarders")}},
		{name: "resolver's upstream fails, a host name (Unbound, EDE 23)", setup: upstreamLab,
			targets: []string{"tcp://ready.sub.test:8080?family=4"}, // an A query only
			wants:   []want{fail(`resolve "ready.sub.test": 10.213.1.1:53: rcode SERVFAIL, extended error 23 (Network Error)`).because("resolver-upstream")}},
		{name: "resolver's access list refuses this host (Unbound, EDE 18)", setup: prohibitedLab,
			targets: []string{"dns:ready.test", "tcp://ready.test:8080"},
			wants: []want{
				fail("10.213.1.1:53: rcode REFUSED, extended error 18 (Prohibited)").because("resolver-refused").
					hinting("the resolver at 10.213.1.1:53 refuses this host by its access list (Prohibited): allow this host's address there"),
				fail("10.213.1.1:53: rcode REFUSED, extended error 18 (Prohibited)").because("resolver-refused").hinting("access list"),
			}},
	}
}

// upstreamLab: Unbound validates test., which answers, and sub.test., a
// child zone whose own server answers too; but test.'s server answers
// SERVFAIL when asked for sub.test.'s DS record, so the chain of trust
// cannot be built: Unbound says Network Error (EDE 23), an error of its
// upstream.
func upstreamLab(t *testing.T, l *lab) {
	now := time.Now()
	sub := dnstest.Sign(t, "sub.test.", now.Add(-day), now.Add(aLongTime),
		"sub.test. 3600 IN SOA ns.sub.test. hostmaster.test. 1 3600 600 86400 60",
		"sub.test. 3600 IN NS ns.sub.test.",
		"ns.sub.test. 3600 IN A "+subAuthIP,
		"ready.sub.test. 60 IN A 10.213.1.1")
	l.authServer(t, subAuthIP, sub.Records...).SetSigned(true)
	parent, conf := l.signedTest(t, now.Add(-day), now.Add(aLongTime), sub.Anchor)
	parent.SetTypeBehavior(dns.TypeDS, dnstest.ServFail)
	conf += fmt.Sprintf("stub-zone:\n\tname: \"sub.test.\"\n\tstub-addr: %s\n", subAuthIP)
	stop := startUnbound(t, l.server, serverIP4, true, conf)
	requireEDE(t, l.client, serverIP4+":53", "ready.sub.test", dns.RcodeServerFailure, int(dns.ExtendedErrorCodeNetworkError))
	// The premise left sub.test.'s key marked bad in the cache: a fresh
	// Unbound, as the premise found it, for the case.
	stop()
	startUnbound(t, l.server, serverIP4, true, conf)
}

// prohibitedLab: Unbound's access list refuses the client's address.
func prohibitedLab(t *testing.T, l *lab) {
	l.authServer(t, authIP, authZone...)
	startUnbound(t, l.server, serverIP4, true, fmt.Sprintf("\taccess-control: %s/32 refuse\nstub-zone:\n\tname: \"test.\"\n\tstub-addr: %s\n", clientIP4, authIP))
	requireEDE(t, l.client, serverIP4+":53", "ready.test", dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited))
}

// TestIntegrationExtendedErrorsLocal: Unbound on this host's loopback
// validates with this host's clock, so an expired signature's hint says
// what the kernel says of that clock: not synchronised (wait for
// clock:synced), or synchronised (the zone is at fault).
func TestIntegrationExtendedErrorsLocal(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	now := time.Now()
	_, conf := l.signedTest(t, now.Add(expired-aLongTime), now.Add(expired))
	startUnbound(t, l.client, "127.0.0.1", true, conf)
	requireEDE(t, l.client, "127.0.0.1:53", "ready.test", dns.RcodeServerFailure, int(dns.ExtendedErrorCodeSignatureExpired))
	l.client.WriteEtc(t, "resolv.conf", "nameserver 127.0.0.1\n")
	hint := "is synchronised: the zone's signatures have expired, and its operator must re-sign it"
	if !clockSynced(t) {
		hint = "and is not synchronised (adjtimex: "
	}
	checkTargets(t, l.client, opts{}, []string{"dns:ready.test"}, []want{
		fail("127.0.0.1:53: A: rcode SERVFAIL, extended error 7 (Signature Expired)").because("dnssec-failed").hinting(hint),
	})
}

// TestIntegrationExtendedErrorsStale: Unbound serving an expired answer
// from its cache while its upstream is silent (serve-expired) says so
// (EDE 3): the target passes, and its detail says the answer is stale.
func TestIntegrationExtendedErrorsStale(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	auth := l.authServer(t, authIP, append(authZone, "stale.test. 1 IN A 10.213.1.1")...)
	startUnbound(t, l.server, serverIP4, true, fmt.Sprintf(
		"\tserve-expired: yes\n\tede-serve-expired: yes\n\tserve-expired-client-timeout: 0\nstub-zone:\n\tname: \"test.\"\n\tstub-addr: %s\n", authIP))
	requireEDE(t, l.client, serverIP4+":53", "stale.test", dns.RcodeSuccess, -1) // cached now, for a second
	auth.SetBehavior(dnstest.Silent)
	// The premise: once the record's second is over, Unbound answers
	// from its cache, saying the answer is stale.
	poll(t, "a stale answer from Unbound", 5*time.Millisecond, func() bool {
		code, _, ok := extendedError(query(t, l.client, serverIP4+":53", "stale.test", dns.TypeA))
		return ok && code == dns.ExtendedErrorCodeStaleAnswer
	})
	checkTargets(t, l.client, opts{}, []string{"dns:stale.test", "tcp://stale.test:8080"}, []want{
		pass().showing("10.213.1.1:53 answered 1 A record (10.213.1.1) over IPv4, served stale from the resolver's cache (extended error 3 (Stale Answer)"),
		pass(),
	})
}

// TestIntegrationExtendedErrorsExplain: check --explain shows a
// resolver's extended error in the resolver's hop.
func TestIntegrationExtendedErrorsExplain(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dnssecLab(expired-aLongTime, expired, true, int(dns.ExtendedErrorCodeSignatureExpired))(t, l)
	o := netready(t, l.client, opts{}, "check", "--explain", "dns:ready.test")
	var hop string
	for _, line := range splitLines(o.stdout) {
		if strings.Contains(line, "FAIL resolver") {
			hop = line
		}
	}
	for _, want := range []string{`query "ready.test." A and AAAA: 10.213.1.1:53: A: rcode SERVFAIL, extended error 7 (Signature Expired)`, "[dnssec-failed]"} {
		if !strings.Contains(hop, want) {
			t.Errorf("the resolver's hop %q lacks %q\n%s", hop, want, o)
		}
	}
}
