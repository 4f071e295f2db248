package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

var dnsKind = KindDef{
	Schemes: []Kind{KindDNS},
	Usage: []Usage{
		{"dns:NAME[?type=T]", "a resolver from resolv.conf answers NAME: an address, A or AAAA (NS for .)"},
		{"dns://SERVER[:PORT]/NAME", "that server answers NAME"},
	},
	ManTitle: "dns:NAME[?type=TYPE], dns://SERVER[:PORT]/NAME[?type=TYPE]",
	Man: `The resolvers of resolv.conf, all asked at once (or SERVER, in the RFC 4501 form), answer
NAME with rcode NOERROR and at least one record, following CNAMEs. Without **type=**, NAME must
resolve to an address: A and AAAA are asked at once (only the type of **family=**, or of
**answer=**'s address, when given), records of either family pass, and the report names the
family that answered and what the other said; the root **.** is asked NS. With **type=**, only
that type is asked, and only its records pass. Replies must match the query's id and
question; others are ignored, 64 at most per query (more are **response-too-large**). A
truncated UDP reply is retried over TCP, where the reply must be whole within 5 s of connecting
(else, begun, it is **response-too-large**). A query met by silence
is asked again beside it with a 512-byte EDNS buffer: if a truncated reply comes, the cause is
**mtu-blackhole**. Any other rcode fails with its name.
Extended DNS Errors (RFC 8914) in a reply are reported with their code, name and text; a
DNSSEC failure (**dnssec-failed**; an expired or not yet valid signature points at the
clock), an unreachable upstream (**resolver-upstream**), an access list (EDE 18) and a
blocklist (**dns-blocked**, whatever the rcode) choose the cause.
Parameters: **type=**, **answer=** (wrong-answer when no record holds it), **family=** (the
resolvers of that family only, and without **type=** that family's records; the addresses of
that family of a SERVER name), **via=**, **src=**.`,
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
		if fam := answerFamily(t); t.QType == QTypeAddress && t.Family != 0 && fam != t.Family {
			return Target{}, &ParseError{raw, fmt.Sprintf("answer=%s is an IPv%d address, but family=%d", a, fam, t.Family)}
		}
	}
	host, _, _ := net.SplitHostPort(t.Server)
	if err := checkFamilies(raw, t, host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// dnsTypeParam is type=, the query type of a dns target (default: an
// address, A and AAAA; NS for the root).
var dnsTypeParam = param{
	name:   "type",
	kinds:  []Kind{KindDNS},
	syntax: "type=TYPE",
	help: "the query type, strictly: A, AAAA, TXT, MX ..., or TYPEnn (default: an address, A and AAAA asked " +
		"at once and either passing; NS for the root .)",
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
	help: "pass only if an answer of the asked type holds VALUE: an address (A, AAAA; without type=, a record " +
		"of the address's family), a name (CNAME, NS, PTR, MX's and SRV's target), the text (TXT), " +
		"the data as written in a zone otherwise",
	set: func(t *Target, v string) error {
		if v == "" {
			return fmt.Errorf("empty answer")
		}
		t.Answer = v
		return nil
	},
	get: func(t Target) string { return t.Answer },
}

// QTypeAddress is the QType of a dns target without type=: NAME must
// resolve to an address, so A and AAAA are asked at once (of the families
// family= allows) and records of either family pass.
const QTypeAddress uint16 = 0

func defaultQType(name string) uint16 {
	if name == "." {
		return dns.TypeNS
	}
	return QTypeAddress
}

// answerFamily is the address family, 4 or 6, of the answer= address of t,
// a dns target without type=; 0 otherwise.
func answerFamily(t Target) int {
	a, err := netip.ParseAddr(t.Answer)
	switch {
	case t.QType != QTypeAddress || err != nil:
		return 0
	case a.Is4():
		return 4
	}
	return 6
}

// queryTypes are the types a dns target asks for: its type=, or without
// one the address types of the families that family= and answer= allow.
func queryTypes(t Target) []uint16 {
	if t.QType != QTypeAddress {
		return []uint16{t.QType}
	}
	switch cmp.Or(answerFamily(t), t.Family) {
	case 4:
		return []uint16{dns.TypeA}
	case 6:
		return []uint16{dns.TypeAAAA}
	}
	return []uint16{dns.TypeA, dns.TypeAAAA}
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
	case qt == QTypeAddress:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%q is not an IP address (without type=, the answer is an address)", v)
		}
		return a.String(), nil
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
// once, for t.Name and each of queryTypes(t) at once. It passes on the
// first reply with rcode NOERROR and at least one record of its type (after
// CNAMEs); when none passes, the error names every server and what it
// answered to each type.
//
// With answer=, a reply passes only if one of its records of the asked type
// holds that value; via=, src= and family= say how the queries leave (and,
// for family=, which of the resolvers are asked, and without type= which
// family's records).
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
	// accept runs in askAll's goroutines, one per server and type: it
	// must not write to anything they share.
	outs := env.askTypes(ctx, rc, sk, servers, t.Name, queryTypes(t), func(q dns.Question, r *dns.Msg) error {
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
	passed := slices.IndexFunc(outs, func(o typeOutcome) bool { return o.ok != nil })
	if passed < 0 {
		f, msg := typesFailure(outs)
		err := error(msg)
		if t.Server == "" && rc.Defaulted {
			err = &defaultedError{rc: rc, err: err}
		}
		res.Err = f.With(&queryError{name: t.Name, types: typesString(outs), err: err})
		return res
	}
	ok := outs[passed].ok
	note := ""
	if t.Answer != "" {
		note += ", the expected " + t.Answer
	}
	if sk != (sockets{}) {
		note += sk.forResolver(ok.server.Addr()).pathNote(ok.server.Addr())
	}
	res.Detail = describeOutcomes(outs, passed, note)
	return res
}

// queryError is the failure of a dns target's queries for name, of types
// ("A", "A and AAAA").
type queryError struct {
	name  string
	types string
	err   error
}

func (e *queryError) Error() string {
	return fmt.Sprintf("query %q %s: %v", e.name, e.types, e.err)
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

// typeOutcome is what the servers said to one query type of a target.
type typeOutcome struct {
	q   dns.Question
	ok  *serverReply  // the first reply that passed; nil if none did
	all []serverReply // every server's outcome (see askAll)
	// cut: no reply had passed when the other type's answer had waited
	// resolutionDelay for this one, and its queries were cancelled.
	cut bool
}

// askTypes asks every server for name with each of types at once (askAll
// per type). It returns once every type has an outcome, or
// resolutionDelay after a reply of one type passed: the answer of the
// other family, which a resolver that drops AAAA queries never sends,
// adds to the report and must not hold the verdict (RFC 8305's wait for
// the other family's answer). What is in flight then is cancelled.
func (e *Env) askTypes(ctx context.Context, rc *ResolvConf, sk sockets, servers []netip.AddrPort, name string, types []uint16, accept func(dns.Question, *dns.Msg) error) []typeOutcome {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([]typeOutcome, len(types))
	done := make(chan int, len(types))
	for i, qt := range types {
		q := dns.Question{Name: name, Qtype: qt, Qclass: dns.ClassINET}
		outs[i].q = q
		pool.Go(func() {
			ok, all := e.askAll(ctx, rc, sk, servers, q, func(r *dns.Msg) error { return accept(q, r) })
			outs[i].ok, outs[i].all = ok, all
			done <- i
		})
	}
	var delay <-chan time.Time
	for pending := len(types); pending > 0; {
		select {
		case i := <-done:
			pending--
			if outs[i].ok != nil && delay == nil {
				t := time.NewTimer(resolutionDelay)
				defer t.Stop()
				delay = t.C
			}
		case <-delay:
			cancel()
			for ; pending > 0; pending-- {
				i := <-done
				outs[i].cut = outs[i].ok == nil
			}
		}
	}
	return outs
}

// typesString names the types of outs: "A", "A and AAAA".
func typesString(outs []typeOutcome) string {
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = qtypeString(o.q.Qtype)
	}
	return strings.Join(names, " and ")
}

// typesFailure is the failure of a target none of whose types passed: the
// cause of the server and type that got furthest, and every server's
// answer to each type ("10.213.1.1:53: A: rcode REFUSED, AAAA: no AAAA
// records"), said once where the types fared alike. A server's "no
// records" of one type says nothing of the others: while another type
// failed otherwise at that server (no answer, an error, a blackhole), that
// failure is why the name has no address there, and "no records" is its
// cause only when it has none of any type.
func typesFailure(outs []typeOutcome) (*Failure, error) {
	if len(outs) == 1 {
		f := joinServerErrors(outs[0].all)
		return f, f
	}
	var (
		all   []serverReply
		fs    []*Failure
		parts []string
	)
	otherwise := make([]bool, len(outs[0].all)) // by server: a type failed otherwise than without records
	for _, o := range outs {
		for i, r := range o.all {
			if f := FailureOf(r.err); f != nil && f.Cause != CauseNoRecords {
				otherwise[i] = true
			}
		}
	}
	for _, o := range outs {
		all = append(all, o.all...)
		for i, r := range o.all {
			if f := FailureOf(r.err); !(otherwise[i] && f != nil && f.Cause == CauseNoRecords) {
				fs = append(fs, f)
			}
		}
	}
	for i, r := range outs[0].all {
		var (
			texts  []string
			cnames []string // where each type's CNAME chain ended, for NODATA
		)
		for _, o := range outs {
			err := o.all[i].err
			texts = append(texts, err.Error())
			if nd := (*noDataError)(nil); errors.As(err, &nd) {
				cnames = append(cnames, nd.cname)
			}
		}
		switch {
		case len(slices.Compact(slices.Clone(texts))) == 1:
			parts = append(parts, fmt.Sprintf("%s: %s", r.server, texts[0]))
		case len(cnames) == len(outs) && len(slices.Compact(cnames)) == 1:
			// As noDataError says it, of every type: "no A or AAAA records".
			text := "no " + strings.ReplaceAll(typesString(outs), " and ", " or ") + " records"
			if cnames[0] != "" {
				text += " (CNAME chain ends at " + cnames[0] + ")"
			}
			parts = append(parts, fmt.Sprintf("%s: %s", r.server, text))
		default:
			for j, o := range outs {
				texts[j] = qtypeString(o.q.Qtype) + ": " + texts[j]
			}
			parts = append(parts, fmt.Sprintf("%s: %s", r.server, strings.Join(texts, ", ")))
		}
	}
	se := &serversError{all: all, msg: strings.Join(parts, "; ")}
	return furthest(fs).With(se), se
}

// describeOutcomes says what the servers answered to each type, the
// passing one first, note after it, then what the Extended DNS Errors of
// its reply say (edeNote): "10.213.1.1:53 answered 1 AAAA record (fd00::1)
// over tcp; A: 10.213.1.1:53: no A records". A type that passed at the
// same server is said with the first, its EDE note once if it is the
// same.
func describeOutcomes(outs []typeOutcome, passed int, note string) string {
	answered := func(o typeOutcome) string {
		rrs, _ := answers(o.ok.msg, o.q)
		return describeRRs(rrs)
	}
	over := func(r *serverReply) string { return map[string]string{"tcp": " over tcp"}[r.transport] }
	first := outs[passed]
	parts := []string{fmt.Sprintf("%s answered %s", first.ok.server, answered(first))}
	edes := []string{edeNote(first.ok.msg)}
	var others []string
	for i, o := range outs {
		switch {
		case i == passed:
		case o.ok != nil && o.ok.server == first.ok.server && o.ok.transport == first.ok.transport:
			parts[0] += " and " + answered(o)
			if n := edeNote(o.ok.msg); !slices.Contains(edes, n) {
				edes = append(edes, n)
			}
		case o.ok != nil:
			others = append(others, fmt.Sprintf("%s answered %s%s%s", o.ok.server, answered(o), over(o.ok), edeNote(o.ok.msg)))
		case o.cut:
			others = append(others, fmt.Sprintf("no %s answer within %v", qtypeString(o.q.Qtype), resolutionDelay))
		default:
			others = append(others, qtypeString(o.q.Qtype)+": "+joinServerErrors(o.all).Error())
		}
	}
	parts[0] += over(first.ok) + note + strings.Join(edes, "")
	return strings.Join(append(parts, others...), "; ")
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
