package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

var dnsKind = KindDef{
	Schemes: []Kind{KindDNS},
	Usage: []Usage{
		{"dns:NAME[?type=T]", "a resolver from resolv.conf answers NAME (default type A; NS for .)"},
		{"dns://SERVER[:PORT]/NAME", "that server answers NAME"},
	},
	ManTitle: "dns:NAME[?type=TYPE], dns://SERVER[:PORT]/NAME[?type=TYPE]",
	Man: `The resolvers of resolv.conf, all asked at once (or SERVER, in the RFC 4501 form), answer
NAME with rcode NOERROR and at least one record of TYPE (default A; NS for the root
**.**), following CNAMEs. Replies must match the query's id and question; others are
ignored. A truncated UDP reply is retried over TCP. A query met by silence is asked again beside
it with a 512-byte EDNS buffer: if a truncated reply comes, the cause is **mtu-blackhole**. Any
other rcode fails with its name.
Extended DNS Errors (RFC 8914) in a reply are reported with their code, name and text; a
DNSSEC failure (**dnssec-failed**; an expired or not yet valid signature points at the
clock), an unreachable upstream (**resolver-upstream**), an access list (EDE 18) and a
blocklist (**dns-blocked**, whatever the rcode) choose the cause.
Parameters: **type=**, **answer=** (wrong-answer when no record holds it), **family=** (the
resolvers of that family only; the addresses of that family of a SERVER name), **via=**,
**src=**.`,
	Complete: []string{"dns:", "dns://"},
	parse:    parseDNS,
	format:   formatDNS,
	probe:    probeDNS,
}

// parseDNS parses "dns:NAME[?query]" and the RFC 4501 "dns://SERVER[:PORT]/NAME[?query]".
func parseDNS(raw, rest string) (Target, error) {
	var t Target
	if auth, ok := strings.CutPrefix(rest, "//"); ok {
		server, name, ok := strings.Cut(auth, "/")
		if !ok {
			return Target{}, &ParseError{raw, "missing /NAME after the server (want dns://SERVER[:PORT]/NAME)"}
		}
		host, port, err := splitHostPort(server, "53")
		if err != nil {
			return Target{}, &ParseError{raw, "server: " + err.Error()}
		}
		if err := checkHost(host); err != nil {
			return Target{}, &ParseError{raw, "server: " + err.Error()}
		}
		t.Server = net.JoinHostPort(host, port)
		rest = name
	}
	escaped, query, hasQuery := strings.Cut(rest, "?")
	name, err := url.PathUnescape(escaped)
	if err != nil {
		return Target{}, &ParseError{raw, fmt.Sprintf("name %q: bad percent-escape", escaped)}
	}
	fqdn, err := checkDNSName(name)
	if err != nil {
		return Target{}, &ParseError{raw, err.Error()}
	}
	t.Name = fqdn
	t.QType = defaultQType(fqdn)
	if hasQuery {
		// RFC 4501 separates query attributes with ';'; '&' is accepted too.
		if err := setParams(raw, &t, KindDNS, query); err != nil {
			return Target{}, err
		}
	}
	if t.Answer != "" {
		a, err := canonicalAnswer(t.QType, t.Answer)
		if err != nil {
			return Target{}, &ParseError{raw, "answer=: " + err.Error()}
		}
		t.Answer = a
	}
	host, _, _ := net.SplitHostPort(t.Server)
	if err := checkFamilies(raw, t, host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// dnsTypeParam is type=, the query type of a dns target (default A; NS for
// the root).
var dnsTypeParam = param{
	name:   "type",
	kinds:  []Kind{KindDNS},
	syntax: "type=TYPE",
	help:   "the query type: A (the default; NS for the root), AAAA, TXT, MX ..., or TYPEnn",
	set: func(t *Target, v string) error {
		qt, err := parseQType(v)
		if err != nil {
			return err
		}
		t.QType = qt
		return nil
	},
	get: func(t Target) string {
		if t.QType == defaultQType(t.Name) {
			return ""
		}
		return qtypeString(t.QType)
	},
}

// dnsClassParam is class=, which RFC 4501 allows: only IN, the default.
var dnsClassParam = param{
	name:  "class",
	kinds: []Kind{KindDNS},
	set: func(_ *Target, v string) error {
		if !strings.EqualFold(v, "IN") {
			return fmt.Errorf("unsupported query class %q (only IN)", v)
		}
		return nil
	},
	get: func(Target) string { return "" },
}

// dnsAnswerParam is answer=: parseDNS checks the value against the query
// type once every parameter is read, type= may come after it.
var dnsAnswerParam = param{
	name:   "answer",
	kinds:  []Kind{KindDNS},
	syntax: "answer=VALUE",
	help: "pass only if an answer of the asked type holds VALUE: an address (A, AAAA), a name (CNAME, NS, PTR, " +
		"MX's and SRV's target), the text (TXT), the data as written in a zone otherwise",
	set: func(t *Target, v string) error {
		if v == "" {
			return fmt.Errorf("empty answer")
		}
		t.Answer = v
		return nil
	},
	get: func(t Target) string { return t.Answer },
}

func defaultQType(name string) uint16 {
	if name == "." {
		return dns.TypeNS
	}
	return dns.TypeA
}

// nameTypes are the query types whose answer= is a name: the name their
// record's data ends with (MX's exchange, SRV's target).
var nameTypes = map[uint16]bool{
	dns.TypeCNAME: true, dns.TypeNS: true, dns.TypePTR: true, dns.TypeDNAME: true,
	dns.TypeMX: true, dns.TypeSRV: true,
}

// canonicalAnswer checks v as an answer of type qt and returns its
// canonical form (see Params.Answer).
func canonicalAnswer(qt uint16, v string) (string, error) {
	switch {
	case qt == dns.TypeA || qt == dns.TypeAAAA:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%q is not an IP address", v)
		}
		if a.Is4() != (qt == dns.TypeA) {
			return "", fmt.Errorf("%s is not an address of type %s", a, qtypeString(qt))
		}
		return a.String(), nil
	case nameTypes[qt]:
		n, err := checkDNSName(v)
		if err != nil {
			return "", err
		}
		return strings.ToLower(n), nil
	}
	return v, nil
}

func parseQType(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("empty query type")
	}
	u := strings.ToUpper(s)
	if qt, ok := dns.StringToType[u]; ok && qt != dns.TypeNone && qt != dns.TypeReserved {
		return qt, nil
	}
	if n, ok := strings.CutPrefix(u, "TYPE"); ok { // RFC 3597 form, e.g. TYPE65
		if v, err := strconv.ParseUint(n, 10, 16); err == nil && uint16(v) != dns.TypeNone && uint16(v) != dns.TypeReserved {
			return uint16(v), nil
		}
	}
	return 0, fmt.Errorf("unknown query type %q", s)
}

// qtypeString is the inverse of parseQType.
func qtypeString(qt uint16) string {
	if s, ok := dns.TypeToString[qt]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(qt))
}

// formatDNS is the canonical form of a dns target.
func formatDNS(t Target) string {
	var b strings.Builder
	b.WriteString("dns:")
	if t.Server != "" {
		host, port, _ := net.SplitHostPort(t.Server)
		b.WriteString("//")
		b.WriteString(joinHostPort(host, port, "53"))
		b.WriteString("/")
	}
	if t.Name == "." {
		b.WriteString(".")
	} else {
		// Parse unescapes the name: a literal '%' must be escaped back.
		b.WriteString(strings.ReplaceAll(strings.TrimSuffix(t.Name, "."), "%", "%25"))
	}
	return withParams(b.String(), t)
}

// probeDNS asks the target's server, or every resolver from resolv.conf at
// once, for t.Name and t.QType. It passes on the first reply with rcode
// NOERROR and at least one record of the asked type (after CNAMEs); when none
// passes, the error names every server and what it answered.
//
// With answer=, a reply passes only if one of its records of the asked type
// holds that value; via=, src= and family= say how the queries leave (and,
// for family=, which of the resolvers are asked).
func probeDNS(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	sk := env.socketsFor(t)
	if f := sk.checkVia(); f != nil {
		return Result{Err: f, Local: true}
	}
	rc, err := env.Resolvers()
	if err != nil {
		return Result{Err: err}
	}
	var servers []netip.AddrPort
	if t.Server != "" {
		servers, err = env.serverAddrs(ctx, rc, sk, t.Family, t.Server)
		if err != nil {
			return Result{Err: FailureOf(err).With(fmt.Errorf("server %s: %w", t.Server, err)), Phases: tm.done(PhaseResolve)}
		}
		tm.mark(PhaseResolve)
	} else {
		servers = rc.Servers
		if t.Family != 0 {
			servers = nil
			for _, s := range rc.Servers {
				if len(ofFamily([]netip.Addr{s.Addr()}, t.Family)) > 0 {
					servers = append(servers, s)
				}
			}
			if len(servers) == 0 {
				return Result{Err: fail(CauseNoResolver, PhaseQuery, "", fmt.Errorf("no IPv%d resolver in %s (family=%d)", t.Family, env.ResolvConf, t.Family)), Local: true}
			}
		}
	}
	res := Result{Local: allLoopback(servers), Dests: servers}
	q := dns.Question{Name: t.Name, Qtype: t.QType, Qclass: dns.ClassINET}
	// accept runs in askAll's goroutines, one per server: it must not
	// write to anything they share.
	ok, all := env.askAll(ctx, rc, sk, servers, q, func(r *dns.Msg) error {
		if r.Rcode != dns.RcodeSuccess {
			return &rcodeError{r.Rcode}
		}
		rrs, err := answers(r, q)
		if err == nil && t.Answer != "" {
			err = matchAnswer(rrs, t.Answer)
		}
		return err
	})
	tm.mark(PhaseQuery)
	res.Phases = tm.snapshot()
	if ok == nil {
		f := joinServerErrors(all)
		var err error = f
		if t.Server == "" && rc.Defaulted {
			err = &defaultedError{rc: rc, err: err}
		}
		res.Err = f.With(&queryError{name: t.Name, qtype: t.QType, err: err})
		return res
	}
	rrs, _ := answers(ok.msg, q)
	res.Detail = fmt.Sprintf("%s answered %s%s", ok.server, describeRRs(rrs), map[string]string{"tcp": " over tcp"}[ok.transport])
	if t.Answer != "" {
		res.Detail += ", the expected " + t.Answer
	}
	if sk != (sockets{}) {
		res.Detail += sk.forResolver(ok.server.Addr()).pathNote(ok.server.Addr())
	}
	res.Detail += edeNote(ok.msg)
	return res
}

// queryError is the failure of a dns target's query for name.
type queryError struct {
	name  string
	qtype uint16
	err   error
}

func (e *queryError) Error() string {
	return fmt.Sprintf("query %q %s: %v", e.name, qtypeString(e.qtype), e.err)
}

func (e *queryError) Unwrap() error { return e.err }

// rootHint is the hint of a query for the root zone that a resolver
// answered REFUSED or NXDOMAIN, if f is one: the default policy's dns:.
// asks a question that a resolver serving only internal names (a dnsmasq
// or a corporate resolver without upstream) declines, while it works for
// the names it serves.
func rootHint(f *Failure) string {
	var q *queryError
	if !errors.As(f.Err, &q) || q.name != "." || f.Phase != PhaseAnswer {
		return ""
	}
	return "this resolver does not resolve the root zone (dns:., of the default policy): it may serve internal names only; " +
		"name a target it serves instead, e.g. dns:HOST.YOUR.DOMAIN (on the command line, or in NETREADY_TARGETS)"
}

// answerValue is what answer= compares with rr's data (see Params.Answer).
func answerValue(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.A:
		a, _ := netip.AddrFromSlice(rr.A.To4())
		return a.String()
	case *dns.AAAA:
		a, _ := netip.AddrFromSlice(rr.AAAA.To16())
		return a.String()
	case *dns.CNAME:
		return strings.ToLower(rr.Target)
	case *dns.NS:
		return strings.ToLower(rr.Ns)
	case *dns.PTR:
		return strings.ToLower(rr.Ptr)
	case *dns.DNAME:
		return strings.ToLower(rr.Target)
	case *dns.MX:
		return strings.ToLower(rr.Mx)
	case *dns.SRV:
		return strings.ToLower(rr.Target)
	case *dns.TXT:
		return strings.Join(rr.Txt, "")
	}
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// matchAnswer passes when one of rrs holds want.
func matchAnswer(rrs []dns.RR, want string) error {
	got := make([]string, len(rrs))
	for i, rr := range rrs {
		if got[i] = answerValue(rr); got[i] == want {
			return nil
		}
	}
	return &wrongAnswerError{got: got, want: want}
}

// wrongAnswerError is a reply whose records do not hold the answer=
// value.
type wrongAnswerError struct {
	got  []string
	want string
}

func (e *wrongAnswerError) Error() string {
	const most = 3
	got := e.got
	if len(got) > most {
		got = append(got[:most:most], fmt.Sprintf("and %d more", len(e.got)-most))
	}
	return fmt.Sprintf("answered %s, not %s (answer=)", strings.Join(got, ", "), e.want)
}

// done marks the last phase and returns all of them.
func (tm *timing) done(name PhaseName) []Phase {
	tm.mark(name)
	return tm.snapshot()
}

// serverAddrs turns the "host:port" of a dns:// target into addresses,
// resolving a host name with the system resolvers.
func (e *Env) serverAddrs(ctx context.Context, rc *ResolvConf, s sockets, family int, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	host, portStr, _ := strings.Cut(hostport, ":")
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	addrs, err := e.lookupHost(ctx, rc, s, family, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a, uint16(port))
	}
	return out, nil
}

func allLoopback(servers []netip.AddrPort) bool {
	for _, s := range servers {
		if !s.Addr().IsLoopback() {
			return false
		}
	}
	return len(servers) > 0
}

// describeRRs summarises an answer: "1 A record (10.213.1.1)".
func describeRRs(rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "no records"
	}
	typ := qtypeString(rrs[0].Header().Rrtype)
	first := strings.TrimPrefix(rrs[0].String(), rrs[0].Header().String())
	return fmt.Sprintf("%s (%s)", plural(len(rrs), typ+" record", typ+" records"), first)
}
