package probe

import (
	"context"
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
ignored. A truncated UDP reply is retried over TCP. Any other rcode fails with its name.`,
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
	t.QType = dns.TypeA
	if fqdn == "." {
		t.QType = dns.TypeNS
	}
	if hasQuery {
		// RFC 4501 separates query attributes with ';'; '&' is accepted too.
		seen := map[string]bool{}
		for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == ';' || r == '&' }) {
			k, v, _ := strings.Cut(kv, "=")
			k = strings.ToLower(k)
			if seen[k] && (k == "type" || k == "class") {
				return Target{}, &ParseError{raw, fmt.Sprintf("%s= given twice", k)}
			}
			seen[k] = true
			switch k {
			case "type":
				qt, err := parseQType(v)
				if err != nil {
					return Target{}, &ParseError{raw, err.Error()}
				}
				t.QType = qt
			case "class":
				if !strings.EqualFold(v, "IN") {
					return Target{}, &ParseError{raw, fmt.Sprintf("unsupported query class %q (only IN)", v)}
				}
			default:
				return Target{}, &ParseError{raw, fmt.Sprintf("unknown query parameter %q (want type= or class=)", k)}
			}
		}
	}
	return t, nil
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
	def := uint16(dns.TypeA)
	if t.Name == "." {
		def = dns.TypeNS
	}
	if t.QType != def {
		b.WriteString("?type=")
		b.WriteString(qtypeString(t.QType))
	}
	return b.String()
}

// probeDNS asks the target's server, or every resolver from resolv.conf at
// once, for t.Name and t.QType. It passes on the first reply with rcode
// NOERROR and at least one record of the asked type (after CNAMEs); when none
// passes, the error names every server and what it answered.
func probeDNS(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	rc, err := env.Resolvers()
	if err != nil {
		return Result{Err: err}
	}
	var servers []netip.AddrPort
	if t.Server != "" {
		servers, err = env.serverAddrs(ctx, rc, t.Server)
		if err != nil {
			return Result{Err: FailureOf(err).With(fmt.Errorf("server %s: %w", t.Server, err)), Phases: tm.done("resolve")}
		}
		tm.mark("resolve")
	} else {
		servers = rc.Servers
	}
	res := Result{Local: allLoopback(servers), Dests: servers}
	q := dns.Question{Name: t.Name, Qtype: t.QType, Qclass: dns.ClassINET}
	// accept runs in askAll's goroutines, one per server: it must not
	// write to anything they share.
	ok, all := env.askAll(ctx, rc, servers, q, func(r *dns.Msg) error {
		if r.Rcode != dns.RcodeSuccess {
			return &rcodeError{r.Rcode}
		}
		_, err := answers(r, q)
		return err
	})
	tm.mark("query")
	res.Phases = tm.snapshot()
	if ok == nil {
		f := joinServerErrors(all)
		var err error = f
		if t.Server == "" && rc.Defaulted {
			err = fmt.Errorf("%s, so the default was tried: %w", rc.defaultReason(), err)
		}
		res.Err = f.With(fmt.Errorf("query %q %s: %w", t.Name, qtypeString(t.QType), err))
		return res
	}
	rrs, _ := answers(ok.msg, q)
	res.Detail = fmt.Sprintf("%s answered %s%s", ok.server, describeRRs(rrs), map[string]string{"tcp": " over tcp"}[ok.transport])
	return res
}

// done marks the last phase and returns all of them.
func (tm *timing) done(name string) []Phase {
	tm.mark(name)
	return tm.snapshot()
}

// serverAddrs turns the "host:port" of a dns:// target into addresses,
// resolving a host name with the system resolvers.
func (e *Env) serverAddrs(ctx context.Context, rc *ResolvConf, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	host, portStr, _ := strings.Cut(hostport, ":")
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	addrs, err := e.lookupHost(ctx, rc, host)
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
