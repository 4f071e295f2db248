package probe

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Params are a target's parameters, the query string that refines it
// ("tcp://db:5432?via=eth1&family=6"). Only those its kind takes may be
// set; the zero value of each is the default. Parse validates every one:
// a Target's Params are always well-formed, though an interface or a
// source address may not exist (yet) when the target is probed.
type Params struct {
	// Via is the interface every socket of the probe is bound to
	// (SO_BINDTODEVICE), resolver queries included; "" lets the kernel
	// choose by its routes.
	Via string
	// Src is the source address of the probe's packets (and of its
	// resolver queries to resolvers of the same family); the zero Addr
	// lets the kernel choose.
	Src netip.Addr
	// Family is 4 or 6 to use only that address family; 0 for both.
	Family int

	// Status are the statuses an http(s) target passes with; nil means
	// 200-299.
	Status []StatusRange
	// Body is an RE2 pattern the first 64 KiB of an http(s) response body
	// must match; "" for none.
	Body string
	// Proxy is how an http(s) target is fetched: "" (the environment's
	// HTTPS_PROXY, HTTP_PROXY and NO_PROXY), ProxyNone, or a proxy's URL.
	Proxy string
	// CA is a file of PEM certificates that https and tls targets trust
	// instead of the system's roots; "" for the system's.
	CA string
	// Answer is the value a dns target's answer must hold: an address
	// for A and AAAA (canonical form), a fully qualified name for the
	// types whose data is a name (CNAME, NS, PTR, MX, SRV ...), the text
	// for TXT, the record's data in presentation form otherwise.
	Answer string
}

// ProxyNone is the proxy= value that fetches an http(s) target directly,
// whatever the environment says.
const ProxyNone = "none"

// StatusRange is a range of HTTP statuses, Lo to Hi inclusive.
type StatusRange struct{ Lo, Hi int }

// A param is one parameter a target may take: which kinds take it, how its
// value is read into a Target and written back. set is called after the
// kind's own parse, in the order the parameters were written; checks that
// involve several parameters are made by the kind once all are set.
type param struct {
	name  string
	kinds []Kind
	// syntax and help are what --help and the man page say of it.
	syntax, help string
	// set reads value into t; its error says what is wrong with value.
	set func(t *Target, value string) error
	// get is the canonical form of t's value, "" when it is the default.
	get func(t Target) string
}

// netKinds are the kinds whose probes send packets from this host.
var netKinds = []Kind{KindDNS, KindTCP, KindHTTP, KindHTTPS, KindTLS, KindICMP}

// params lists every parameter, in the canonical order String writes them:
// what the target asks for first, then how its packets leave.
var params = []param{
	dnsTypeParam,
	dnsClassParam,
	dnsAnswerParam,
	httpStatusParam,
	httpBodyParam,
	httpProxyParam,
	caParam,
	{
		name:   "family",
		kinds:  append([]Kind{KindLink}, netKinds...),
		syntax: "family=4|6",
		help: "only that address family: its addresses of a name, its resolvers, its link addresses; " +
			"without it a name is tried on both families at once and the first to answer wins",
		set: func(t *Target, v string) error {
			switch v {
			case "4":
				t.Family = 4
			case "6":
				t.Family = 6
			default:
				return fmt.Errorf("family %q is neither 4 nor 6", v)
			}
			return nil
		},
		get: func(t Target) string {
			if t.Family == 0 {
				return ""
			}
			return fmt.Sprint(t.Family)
		},
	},
	{
		name:   "via",
		kinds:  netKinds,
		syntax: "via=IFACE",
		help: "every packet of the probe leaves through IFACE (SO_BINDTODEVICE), resolver queries included " +
			"(but to a loopback resolver); an IFACE that does not exist yet fails the target, naming it",
		set: func(t *Target, v string) error {
			if err := checkIfaceName(v); err != nil {
				return err
			}
			t.Via = v
			return nil
		},
		get: func(t Target) string { return t.Via },
	},
	{
		name:   "src",
		kinds:  netKinds,
		syntax: "src=ADDR",
		help: "the probe's packets leave from ADDR (and its resolver queries, to resolvers of ADDR's family); " +
			"an ADDR the host does not have yet fails the target, naming it",
		set: func(t *Target, v string) error {
			a, err := netip.ParseAddr(v)
			switch {
			case err != nil:
				return fmt.Errorf("%q is not an IP address", v)
			case a.Zone() != "":
				return fmt.Errorf("source address %q has a zone: give the interface with via=", v)
			case a.Is4In6():
				return fmt.Errorf("source address %q is IPv4-mapped: write it as %s", v, a.Unmap())
			case a.IsUnspecified() || a.IsMulticast():
				return fmt.Errorf("%s cannot be a source address", a)
			}
			t.Src = a
			return nil
		},
		get: func(t Target) string {
			if !t.Src.IsValid() {
				return ""
			}
			return t.Src.String()
		},
	},
}

// ParamDoc is what --help and the man page say of a parameter.
type ParamDoc struct {
	Name, Syntax, Help string
	Kinds              []Kind
}

// ParamDocs lists the documented parameters, in canonical order (class=,
// which RFC 4501 allows and only IN satisfies, is left out).
func ParamDocs() []ParamDoc {
	var docs []ParamDoc
	for _, p := range params {
		if p.help != "" {
			docs = append(docs, ParamDoc{Name: p.name, Syntax: p.syntax, Help: p.help, Kinds: p.kinds})
		}
	}
	return docs
}

// ParamNames lists the parameters a target of kind takes, as "via=".
func ParamNames(kind Kind) []string {
	var names []string
	for _, p := range params {
		if slices.Contains(p.kinds, kind) {
			names = append(names, p.name+"=")
		}
	}
	return names
}

// KindList writes kinds as "dns, tcp or tls".
func KindList(kinds []Kind) string { return kindNames(kinds) }

// paramNamed returns the parameter called name, or nil.
func paramNamed(name string) *param {
	for i := range params {
		if params[i].name == name {
			return &params[i]
		}
	}
	return nil
}

// paramNames lists the parameters kind takes, as "type=, answer= or via=".
func paramNames(kind Kind) string {
	var names []string
	for _, p := range params {
		if slices.Contains(p.kinds, kind) {
			names = append(names, p.name+"=")
		}
	}
	if len(names) == 0 {
		return "none"
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// kindNames lists kinds as "dns, tcp or tls".
func kindNames(kinds []Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// setParams reads the parameters of query, as written in raw, into t, a
// target of kind. Parameters are separated by '&' (or ';', as RFC 4501
// writes them); names are case-insensitive, values percent-decoded. An
// unknown, repeated or malformed parameter, or one kind does not take, is
// an error naming it.
func setParams(raw string, t *Target, kind Kind, query string) error {
	seen := map[string]bool{}
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == ';' || r == '&' }) {
		k, v, _ := strings.Cut(kv, "=")
		k = strings.ToLower(k)
		p := paramNamed(k)
		if p == nil {
			if s := Closest(k+"=", ParamNames(kind)); s != "" {
				return &ParseError{raw, fmt.Sprintf("unknown query parameter %q (did you mean %s?)", k, s)}
			}
			return &ParseError{raw, fmt.Sprintf("unknown query parameter %q (%s takes %s)", k, article(kind)+" target", paramNames(kind))}
		}
		if err := setParam(raw, t, kind, p, v, seen); err != nil {
			return err
		}
	}
	return nil
}

// setParam sets parameter p of t, a target of kind, to value, still
// percent-encoded as written in raw. seen records the parameters set so
// far.
func setParam(raw string, t *Target, kind Kind, p *param, value string, seen map[string]bool) error {
	if !slices.Contains(p.kinds, kind) {
		return &ParseError{raw, fmt.Sprintf("%s target takes no %s= parameter (%s= is for %s targets)", article(kind), p.name, p.name, kindNames(p.kinds))}
	}
	if seen[p.name] {
		return &ParseError{raw, fmt.Sprintf("%s= given twice", p.name)}
	}
	seen[p.name] = true
	v, err := url.PathUnescape(value)
	if err != nil {
		return &ParseError{raw, fmt.Sprintf("%s=: bad percent-escape in %q", p.name, value)}
	}
	if err := p.set(t, v); err != nil {
		return &ParseError{raw, fmt.Sprintf("%s=: %v", p.name, err)}
	}
	return nil
}

// formatParams is the canonical query of t's parameters ("via=eth1&family=6"),
// in the order of params; "" when all are defaults.
func formatParams(t Target) string {
	var b strings.Builder
	for _, p := range params {
		if !slices.Contains(p.kinds, t.Kind) {
			continue
		}
		v := p.get(t)
		if v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(escapeParam(v))
	}
	return b.String()
}

// withParams appends t's parameters to s, the rest of its canonical form.
func withParams(s string, t Target) string {
	if q := formatParams(t); q != "" {
		return s + "?" + q
	}
	return s
}

// escapeParam percent-encodes what a value cannot hold as written: '%',
// the separators '&' ';' and '#', spaces, control characters and bytes
// outside ASCII. Everything else (':' '/' '?' '=' '+' ...) reads back as it
// is, so "body=^ok$" and "proxy=http://10.0.0.1:3128" stay legible.
func escapeParam(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%&;#\"<>\\^`{|}", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// checkIfaceName validates an interface name as the kernel's
// dev_valid_name does: at most IFNAMSIZ-1 bytes, not "." or "..", no '/',
// ':' or whitespace.
func checkIfaceName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty interface name")
	case len(name) > 15:
		return fmt.Errorf("interface name %q is longer than 15 bytes", name)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Errorf("%q is not a valid interface name", name)
	}
	return nil
}

// checkFamilies checks that what t names agrees on the address family:
// family=, src= and the literal address of the host (or of a dns://
// server), if there is one.
func checkFamilies(raw string, t Target, literal string) error {
	fam := func(a netip.Addr) int {
		if a.Unmap().Is4() {
			return 4
		}
		return 6
	}
	if t.Src.IsValid() && t.Family != 0 && fam(t.Src) != t.Family {
		return &ParseError{raw, fmt.Sprintf("src=%s is an IPv%d address, but family=%d", t.Src, fam(t.Src), t.Family)}
	}
	a, err := netip.ParseAddr(literal)
	if err != nil {
		return nil
	}
	if t.Family != 0 && fam(a) != t.Family {
		return &ParseError{raw, fmt.Sprintf("%s is an IPv%d address, but family=%d", literal, fam(a), t.Family)}
	}
	if t.Src.IsValid() && fam(t.Src) != fam(a) {
		return &ParseError{raw, fmt.Sprintf("%s is an IPv%d address, but src=%s is IPv%d", literal, fam(a), t.Src, fam(t.Src))}
	}
	return nil
}
