package probe

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// edeOpt is one Extended DNS Error a test server adds to its replies.
type edeOpt struct {
	code uint16
	text string
}

// TestDNSExtendedErrors probes dns://SERVER/NAME targets against a dnstest
// server on loopback whose replies carry Extended DNS Errors: each code
// with a clear meaning chooses the cause and the hint, and every code is
// named with its text in the message (or the detail, for an answer that
// passes).
func TestDNSExtendedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		behavior dnstest.Behavior
		edes     []edeOpt
		unsynced bool // the kernel says this host's clock is not synchronised
		target   string
		want     want // SERVER is the server's address
	}{
		{
			name:     "signature expired, clock not synchronised",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{7, "validation failure <ready.test. A IN>: signature expired from 10.213.1.20"}},
			unsynced: true,
			want: want{
				err:   []string{`SERVER: rcode SERVFAIL, extended error 7 (Signature Expired): "validation failure <ready.test. A IN>: signature expired from 10.213.1.20"`},
				cause: CauseDNSSECFailed,
				hint:  "not synchronised (adjtimex: maximum error 16s, STA_UNSYNC set): start an NTP client and wait for clock:synced first",
			},
		},
		{
			name:     "signature expired, clock synchronised",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{7, ""}},
			want: want{
				err:   []string{"SERVER: rcode SERVFAIL, extended error 7 (Signature Expired)"},
				cause: CauseDNSSECFailed,
				hint:  "is synchronised: the zone's signatures have expired, and its operator must re-sign it",
			},
		},
		{
			name:     "signature not yet valid, clock not synchronised",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{8, "signature before inception date"}},
			unsynced: true,
			want: want{
				err:   []string{`extended error 8 (Signature Not Yet Valid): "signature before inception date"`},
				cause: CauseDNSSECFailed,
				hint:  "signatures not valid yet by this host's clock",
			},
		},
		{
			name:     "DNSSEC bogus",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{6, "no signatures"}},
			want: want{
				err:   []string{`rcode SERVFAIL, extended error 6 (DNSSEC Bogus): "no signatures"`},
				cause: CauseDNSSECFailed,
				hint:  "the resolver at SERVER found the zone's DNSSEC broken (DNSSEC Bogus)",
			},
		},
		{
			name:     "no reachable authority",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{22, "RRPF"}},
			want: want{
				err:   []string{`rcode SERVFAIL, extended error 22 (No Reachable Authority): "RRPF"`},
				cause: CauseResolverUpstream,
				hint:  "the resolver at SERVER runs, but cannot get an answer from the zone's servers or its forwarders",
			},
		},
		{
			name:     "network error",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{23, "no DS"}},
			want:     want{err: []string{`extended error 23 (Network Error): "no DS"`}, cause: CauseResolverUpstream, hint: "cannot get an answer from"},
		},
		{
			name:     "prohibited",
			behavior: dnstest.Refused,
			edes:     []edeOpt{{18, ""}},
			want: want{
				err:   []string{"SERVER: rcode REFUSED, extended error 18 (Prohibited)"},
				cause: CauseResolverRefused,
				hint:  "the resolver at SERVER refuses this host by its access list (Prohibited): allow this host's address there (unbound access-control, BIND allow-query",
			},
		},
		{
			name:     "blocked, with NXDOMAIN",
			behavior: dnstest.NXDomain,
			edes:     []edeOpt{{15, "blocked by the office policy"}},
			want: want{
				err:   []string{`SERVER: rcode NXDOMAIN, extended error 15 (Blocked): "blocked by the office policy"`},
				cause: CauseDNSBlocked,
				hint:  "the resolver at SERVER blocks this name by its policy",
			},
		},
		{
			// A sinkhole address is the resolver's answer, not the
			// name's: the target fails, though the rcode is NOERROR.
			name: "censored, with an answer",
			edes: []edeOpt{{16, ""}},
			want: want{err: []string{"SERVER: blocked (rcode NOERROR), extended error 16 (Censored)"}, cause: CauseDNSBlocked, hint: "blocks this name"},
		},
		{
			name:     "filtered, with REFUSED",
			behavior: dnstest.Refused,
			edes:     []edeOpt{{17, "family filter"}},
			want:     want{err: []string{`rcode REFUSED, extended error 17 (Filtered): "family filter"`}, cause: CauseDNSBlocked},
		},
		{
			name:   "stale answer passes, and says so",
			edes:   []edeOpt{{3, ""}},
			target: "dns://SERVER/ready.test",
			want:   want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1) and 1 AAAA record (::1) over IPv4, served stale from the resolver's cache (extended error 3 (Stale Answer)): its upstream may be unreachable"},
		},
		{
			name:     "stale NXDOMAIN",
			behavior: dnstest.NXDomain,
			edes:     []edeOpt{{19, ""}},
			want:     want{err: []string{"rcode NXDOMAIN, extended error 19 (Stale NXDOMAIN Answer)"}, cause: CauseNXDomain},
		},
		{
			// Beside an answer, an upstream error explains nothing:
			// the answer came.
			name: "answer with an upstream error",
			edes: []edeOpt{{22, ""}},
			want: want{ok: true, detail: "SERVER answered 1 A record (127.0.0.1) and 1 AAAA record (::1) over IPv4 (extended error 22 (No Reachable Authority))"},
		},
		{
			name:     "other code: named, the rcode's cause stands",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{0, "exceeded iteration count limit"}},
			want: want{
				err:   []string{`rcode SERVFAIL, extended error 0 (Other): "exceeded iteration count limit"`},
				cause: CauseResolverServfail,
				hint:  "could not get an answer upstream",
			},
		},
		{
			name:     "unassigned code",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{4711, ""}},
			want:     want{err: []string{"rcode SERVFAIL, extended error 4711 (unassigned)"}, cause: CauseResolverServfail},
		},
		{
			name:     "a DNSSEC failure explains before an unreachable upstream",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{22, ""}, {9, "no DNSKEY"}},
			want: want{
				err:   []string{`rcode SERVFAIL, extended error 22 (No Reachable Authority), extended error 9 (DNSKEY Missing): "no DNSKEY"`},
				cause: CauseDNSSECFailed,
				hint:  "(DNSKEY Missing)",
			},
		},
		{
			name:     "text with control characters and invalid UTF-8, quoted",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{0, "line one\nline two\x1b[31m\xff"}},
			want:     want{err: []string{`extended error 0 (Other): "line one\nline two\x1b[31m\xff"`}},
		},
		{
			name:     "long text, bounded",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{0, strings.Repeat("é", 500)}},
			want:     want{err: []string{`extended error 0 (Other): "` + strings.Repeat("é", maxEDEText/2) + `…"`}},
		},
		{
			name:     "many options, counted",
			behavior: dnstest.ServFail,
			edes:     []edeOpt{{0, "a"}, {0, "b"}, {0, "c"}, {0, "d"}, {0, "e"}},
			want:     want{err: []string{`extended error 0 (Other): "c", 2 more extended errors`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := dnstest.Start(t, "127.0.0.1:0", testZone...)
			srv.SetBehavior(tc.behavior)
			for _, e := range tc.edes {
				srv.SetExtendedError(e.code, e.text)
			}
			env := loopbackEnv(t, noResolvers, "")
			if tc.unsynced {
				env.clock = unsyncedClock
			}
			target := tc.target
			if target == "" {
				target = "dns://SERVER/ready.test"
			}
			r := probeWithin(t, env, strings.ReplaceAll(target, "SERVER", srv.String()), passTimeout)
			tc.want.subst(strings.NewReplacer("SERVER", srv.String())).check(t, r)
		})
	}
}

// TestDNSSECHintRemoteResolver: a resolver on another host judges
// signatures by its own clock, so the hint asks about that host's clock,
// and says this host's state only when it is known unsynchronised.
func TestDNSSECHintRemoteResolver(t *testing.T) {
	t.Parallel()
	unsynced, _ := unsyncedClock()
	synced, _ := syncedClock()
	for _, tc := range []struct {
		name  string
		clock *clockState
		want  []string
		not   []string
	}{
		{"this host synchronised", &synced,
			[]string{"the resolver at 10.213.1.1:53 judges signatures by its own clock: is that host's clock right (NTP)? If it is, the zone's signatures have expired"},
			[]string{"this host's clock"}},
		{"this host not synchronised", &unsynced,
			[]string{"judges signatures by its own clock", "this host's clock is not synchronised (adjtimex: maximum error 16s, STA_UNSYNC set): if the resolver takes its time from the same source, wait for clock:synced"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ee := &edeError{err: &rcodeError{dns.RcodeServerFailure}, edes: []extendedError{{code: 7}}, clock: tc.clock}
			ee.why = &ee.edes[0]
			f := fail(CauseDNSSECFailed, PhaseAnswer, "10.213.1.1:53", ee)
			h := f.Hint()
			for _, s := range tc.want {
				if !strings.Contains(h, s) {
					t.Errorf("hint %q does not contain %q", h, s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(h, s) {
					t.Errorf("hint %q contains %q", h, s)
				}
			}
		})
	}
}

// TestIntegrationExtendedErrorsResolvConf: the resolvers of resolv.conf,
// asked at once, with Extended DNS Errors in some replies: the cause is
// that of the resolver whose reply says most, and the hint names that
// resolver; the host name of a tcp target fails with the same cause.
func TestIntegrationExtendedErrorsResolvConf(t *testing.T) {
	roottest.Require(t) // resolvers listen on port 53 of loopback addresses
	t.Parallel()
	type res struct {
		behavior dnstest.Behavior
		edes     []edeOpt
	}
	tests := []struct {
		name      string
		resolvers []res
		target    string
		want      want // {N} is the test's subnet
	}{
		{
			name:      "bare SERVFAIL first, an unreachable upstream second",
			resolvers: []res{{dnstest.ServFail, nil}, {dnstest.ServFail, []edeOpt{{22, ""}}}},
			target:    "dns:ready.test",
			want: want{
				err:   []string{"127.213.{N}.1:53: rcode SERVFAIL; 127.213.{N}.2:53: rcode SERVFAIL, extended error 22 (No Reachable Authority)"},
				cause: CauseResolverUpstream,
				hint:  "the resolver at 127.213.{N}.2:53 runs, but cannot get an answer",
			},
		},
		{
			// The hint is of the resolver whose reply chose the
			// cause, not of the first with an extended error.
			name:      "an unreachable upstream first, an expired signature second",
			resolvers: []res{{dnstest.ServFail, []edeOpt{{23, ""}}}, {dnstest.ServFail, []edeOpt{{7, ""}}}},
			target:    "dns:ready.test",
			want: want{
				cause: CauseDNSSECFailed,
				hint:  "this host's clock, which the local resolver validates with, reads",
			},
		},
		{
			name:      "NXDOMAIN from one, blocked by the other",
			resolvers: []res{{dnstest.NXDomain, nil}, {dnstest.NXDomain, []edeOpt{{15, ""}}}},
			target:    "dns:ready.test",
			want:      want{cause: CauseDNSBlocked, hint: "the resolver at 127.213.{N}.2:53 blocks this name"},
		},
		{
			name:      "the host name of a tcp target: expired signature",
			resolvers: []res{{dnstest.ServFail, []edeOpt{{7, "signature expired"}}}},
			target:    "tcp://ready.test:9",
			want: want{
				err:   []string{`resolve "ready.test": 127.213.{N}.1:53: rcode SERVFAIL, extended error 7 (Signature Expired): "signature expired"`},
				cause: CauseDNSSECFailed,
				hint:  "clock",
			},
		},
		{
			name:      "the host name of a tcp target: a sinkhole answer",
			resolvers: []res{{dnstest.Answer, []edeOpt{{15, "malware"}}}},
			target:    "tcp://ready.test:9",
			want: want{
				err:   []string{`127.213.{N}.1:53: blocked (rcode NOERROR), extended error 15 (Blocked): "malware"`},
				cause: CauseDNSBlocked,
			},
		},
		{
			name:      "the host name of a tcp target: prohibited",
			resolvers: []res{{dnstest.Refused, []edeOpt{{18, ""}}}},
			target:    "tcp://ready.test:9",
			want:      want{cause: CauseResolverRefused, hint: "refuses this host by its access list"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newLoopSubnet()
			var conf strings.Builder
			for i, r := range tc.resolvers {
				ip := n.addr(uint8(i + 1))
				fmt.Fprintf(&conf, "nameserver %s\n", ip)
				srv := serveAt53(t, ip, testZone...)
				srv.SetBehavior(r.behavior)
				for _, e := range r.edes {
					srv.SetExtendedError(e.code, e.text)
				}
			}
			env := loopbackEnv(t, conf.String(), "")
			r := probeWithin(t, env, tc.target, passTimeout)
			tc.want.subst(strings.NewReplacer("{N}", fmt.Sprint(n))).check(t, r)
		})
	}
}

// FuzzExtendedErrors reads the Extended DNS Errors of any message that
// parses: what a report says of them is bounded, valid UTF-8 without
// control characters, names every code it reports, and the cause is one
// of the vocabulary's words.
func FuzzExtendedErrors(f *testing.F) {
	for _, edes := range [][]edeOpt{
		{{7, "signature expired"}},
		{{18, ""}},
		{{22, "RRPF"}, {23, strings.Repeat("x", 1000)}},
		{{15, "line\n\x1b[31m\xff\xfe"}},
		{{0, strings.Repeat("é", 300)}, {4711, ""}, {3, ""}, {19, ""}},
	} {
		for _, rcode := range []int{dns.RcodeSuccess, dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNameError} {
			m := new(dns.Msg)
			m.SetQuestion("ready.test.", dns.TypeA)
			m.Response, m.Rcode = true, rcode
			o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			for _, e := range edes {
				o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: e.code, ExtraText: e.text})
			}
			m.Extra = append(m.Extra, o)
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		edes := extendedErrors(m)
		s := describeEDEs(edes)
		if note := edeNote(m); len(edes) > 0 && !strings.Contains(note, s) {
			t.Errorf("note %q does not hold %q", note, s)
		}
		// Each option says at most "extended error 65535 (…): " and
		// its quoted text (each byte escaped to at most 4).
		if limit := maxEDEs*(64+4*maxEDEText+len("…")) + 64; len(s) > limit {
			t.Errorf("description of %d options is %d bytes, want at most %d", len(edes), len(s), limit)
		}
		if !utf8.ValidString(s) {
			t.Errorf("description %q is not valid UTF-8", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				t.Errorf("description %q holds control character %U", s, r)
			}
		}
		for _, e := range edes[:min(len(edes), maxEDEs)] {
			if !strings.Contains(s, fmt.Sprintf("extended error %d (", e.code)) {
				t.Errorf("description %q does not name code %d", s, e.code)
			}
		}
		c, why := edeCause(m.Rcode, edes)
		if (c == CauseNone) != (why == nil) {
			t.Errorf("edeCause: cause %q with option %v", c, why)
		}
		if c != CauseNone && causes[c].hint == nil && c != CauseResolverRefused {
			t.Errorf("edeCause: cause %q has no hint", c)
		}
		if c == CauseDNSBlocked && checkBlocked(m) == nil {
			t.Errorf("edeCause says %q of %v (rcode %d), checkBlocked nothing", c, edes, m.Rcode)
		}
	})
}

// A name asked A and AAAA at once: each passing type's reply says its
// extended errors, once where they are the same.
func TestDescribeOutcomesExtendedErrors(t *testing.T) {
	s1, s2 := netip.MustParseAddrPort("10.213.1.1:53"), netip.MustParseAddrPort("10.213.2.1:53")
	reply := func(qt uint16, rr string, codes ...uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("ready.test.", qt)
		m.Answer = []dns.RR{mustRR(t, rr)}
		if len(codes) > 0 {
			opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			for _, c := range codes {
				opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: c})
			}
			m.Extra = append(m.Extra, opt)
		}
		return m
	}
	outcome := func(qt uint16, server netip.AddrPort, m *dns.Msg) typeOutcome {
		r := &serverReply{server: server, msg: m, transport: "udp"}
		return typeOutcome{q: dns.Question{Name: "ready.test.", Qtype: qt, Qclass: dns.ClassINET}, ok: r, all: []serverReply{*r}}
	}
	const a, aaaa = "ready.test. 60 IN A 10.213.9.9", "ready.test. 60 IN AAAA fd00:213::9"
	for _, c := range []struct {
		name string
		outs []typeOutcome
		want string
	}{
		{"the same code on both, said once", []typeOutcome{
			outcome(dns.TypeA, s1, reply(dns.TypeA, a, 22)), outcome(dns.TypeAAAA, s1, reply(dns.TypeAAAA, aaaa, 22))},
			"10.213.1.1:53 answered 1 A record (10.213.9.9) and 1 AAAA record (fd00:213::9) (extended error 22 (No Reachable Authority))"},
		{"different codes at one server, each", []typeOutcome{
			outcome(dns.TypeA, s1, reply(dns.TypeA, a, 22)), outcome(dns.TypeAAAA, s1, reply(dns.TypeAAAA, aaaa, 3))},
			"10.213.1.1:53 answered 1 A record (10.213.9.9) and 1 AAAA record (fd00:213::9) (extended error 22 (No Reachable Authority))" +
				", served stale from the resolver's cache (extended error 3 (Stale Answer)): its upstream may be unreachable"},
		{"a code on one of them only", []typeOutcome{
			outcome(dns.TypeA, s1, reply(dns.TypeA, a)), outcome(dns.TypeAAAA, s1, reply(dns.TypeAAAA, aaaa, 22))},
			"10.213.1.1:53 answered 1 A record (10.213.9.9) and 1 AAAA record (fd00:213::9) (extended error 22 (No Reachable Authority))"},
		{"another server's, after its answer", []typeOutcome{
			outcome(dns.TypeA, s1, reply(dns.TypeA, a)), outcome(dns.TypeAAAA, s2, reply(dns.TypeAAAA, aaaa, 3))},
			"10.213.1.1:53 answered 1 A record (10.213.9.9); 10.213.2.1:53 answered 1 AAAA record (fd00:213::9), served stale from the resolver's cache (extended error 3 (Stale Answer)): its upstream may be unreachable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describeOutcomes(c.outs, 0, ""); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// Of a server's replies to A and AAAA, the hint reads the extended error
// of the one whose cause the target's failure is.
func TestEDEOfTypes(t *testing.T) {
	const hop = "10.213.1.1:53"
	server := netip.MustParseAddrPort(hop)
	reply := func(c Cause, code uint16) serverReply {
		e := extendedError{code: code}
		return serverReply{server: server, err: fail(c, PhaseAnswer, hop, &edeError{err: &rcodeError{dns.RcodeServerFailure}, edes: []extendedError{e}, why: &e})}
	}
	a, aaaa := reply(CauseResolverUpstream, edeNoReachableAuthority), reply(CauseDNSSECFailed, edeSignatureExpired)
	se := &serversError{all: []serverReply{a, aaaa}, msg: "both"}
	for _, c := range []struct {
		cause Cause
		want  uint16
	}{{CauseDNSSECFailed, edeSignatureExpired}, {CauseResolverUpstream, edeNoReachableAuthority}} {
		ee := edeOf(fail(c.cause, PhaseAnswer, hop, se))
		if ee == nil || ee.why == nil || ee.why.code != c.want {
			t.Errorf("%s: got %+v, want the reply with extended error %d", c.cause, ee, c.want)
		}
	}
}
