package probe

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Kind is the scheme of a target URI.
type Kind string

// The target kinds, one per probe file.
const (
	KindLink  Kind = "link"
	KindRoute Kind = "route"
	KindDNS   Kind = "dns"
	KindTCP   Kind = "tcp"
	KindHTTP  Kind = "http"
	KindHTTPS Kind = "https"
	KindTLS   Kind = "tls"
	KindICMP  Kind = "icmp"
)

// Route selectors accepted by route: besides an IP address.
const (
	RouteDefault  = "default"  // an IPv4 or an IPv6 default route
	RouteDefault4 = "default4" // an IPv4 default route
	RouteDefault6 = "default6" // an IPv6 default route
)

// LinkAny is the link: selector meaning "some non-loopback link".
const LinkAny = "any"

// Target is one parsed target URI. Only the fields of its Kind are set.
// Parse is the only constructor; String gives the canonical form, which
// Parse accepts and maps back to an equal Target.
type Target struct {
	Kind Kind

	// Iface is the interface name of a link target, or LinkAny.
	Iface string

	// Route is RouteDefault, RouteDefault4, RouteDefault6, or empty when
	// Addr names the destination of a route target.
	Route string
	Addr  netip.Addr

	// Name is the fully qualified (dot-terminated) query name of a dns target
	// and QType its query type. Server is "host:port" for the RFC 4501 form
	// dns://SERVER/NAME, empty to use the resolvers from resolv.conf.
	Name   string
	QType  uint16
	Server string

	// Host and Port are the endpoint of tcp, tls and icmp targets (Port is
	// empty for icmp) and of http(s) targets (Port empty for the scheme's
	// default). Host is a DNS name or an IP literal without brackets.
	Host string
	Port string

	// URL is the URL an http or https target requests: as written, less
	// netready's own parameters.
	URL *url.URL

	// Params are the target's parameters (via=, src=, family= ...).
	Params
}

// ParseError is the error of a target that cannot be parsed. Its message
// quotes the target as written and says what is wrong with it.
type ParseError struct {
	Target string
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid target %q: %s", e.Target, e.Reason)
}

// Parse parses one target URI such as "dns:example.com?type=AAAA" or
// "tcp://db.internal:5432". The scheme is case-insensitive.
func Parse(raw string) (Target, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return Target{}, &ParseError{raw, "missing scheme (want " + schemeList(prefix) + ")"}
	}
	kind := Kind(strings.ToLower(scheme))
	d := kindOf(kind)
	if d == nil {
		if _, err := strconv.ParseUint(rest, 10, 16); err == nil && strings.Contains(scheme, ".") {
			// "db.internal:5432": a host and port without a scheme.
			return Target{}, &ParseError{raw, fmt.Sprintf("missing scheme (did you mean tcp://%s?)", raw)}
		}
		if s := Closest(scheme, schemes()); s != "" {
			// "tpc://db:5432": the target as it was meant.
			return Target{}, &ParseError{raw, fmt.Sprintf("unknown scheme %q (did you mean %s:%s?)", scheme, s, rest)}
		}
		return Target{}, &ParseError{raw, fmt.Sprintf("unknown scheme %q (want %s)", scheme, schemeList(func(_ *KindDef, s Kind) string { return string(s) }))}
	}
	t, err := d.parse(raw, rest)
	if err != nil {
		return Target{}, err
	}
	t.Kind = kind
	return t, nil
}

// ParseAll parses every target, stopping at the first malformed one. It
// also reads the files that parameters name (ca=), so that a file that
// is missing or holds no certificate is an error before any probing,
// naming the target and the parameter.
func ParseAll(raws []string) ([]Target, error) {
	ts := make([]Target, 0, len(raws))
	for _, r := range raws {
		t, err := Parse(r)
		if err != nil {
			return nil, err
		}
		if t.CA != "" {
			if _, err := readCA(t.CA); err != nil {
				return nil, &ParseError{r, "ca=: " + err.Error()}
			}
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// checkDNSName validates a DNS name and returns it fully qualified.
func checkDNSName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty DNS name")
	}
	if name == "." {
		return ".", nil
	}
	trimmed := strings.TrimSuffix(name, ".")
	if len(trimmed) > 253 {
		return "", fmt.Errorf("DNS name is %d bytes long, over the limit of 253", len(trimmed))
	}
	for _, label := range strings.Split(trimmed, ".") {
		switch {
		case label == "":
			return "", fmt.Errorf("DNS name %q has an empty label", name)
		case len(label) > 63:
			return "", fmt.Errorf("DNS name label %q is %d bytes long, over the limit of 63", label, len(label))
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`\"()/;@?#`, c) >= 0 {
				return "", fmt.Errorf("DNS name %q has a character that is not allowed: %q", name, c)
			}
		}
	}
	return trimmed + ".", nil
}

// checkHost validates the host of a tcp/tls/icmp/http target or a DNS server.
func checkHost(host string) error {
	if host == "" {
		return fmt.Errorf("empty host")
	}
	// Brackets delimit IPv6 literals: in a host name or an IPv6 zone they
	// cannot survive String (net.SplitHostPort rejects them).
	if i := strings.IndexAny(host, "[]"); i >= 0 {
		return fmt.Errorf("host %q has a character that is not allowed: %q", host, host[i])
	}
	if strings.Contains(host, ":") { // only IPv6 literals contain ':'
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q is not a valid IPv6 address", host)
		}
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if _, err := checkDNSName(host); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	return nil
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]" and
// validates the port. defPort is used when the port is absent; if defPort is
// empty a port is required.
func splitHostPort(s, defPort string) (host, port string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("empty host")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("missing ']' in %q", s)
		}
		host, rest := s[1:end], s[end+1:]
		if host == "" {
			return "", "", fmt.Errorf("empty host")
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", "", fmt.Errorf("%q is not a valid IPv6 address", host)
		}
		switch {
		case rest == "":
			port = defPort
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return "", "", fmt.Errorf("unexpected %q after ']'", rest)
		}
		if port == "" && defPort == "" {
			return "", "", fmt.Errorf("missing port (want [%s]:PORT)", host)
		}
		return host, port, checkPort(port)
	}
	if strings.Count(s, ":") > 1 {
		return "", "", fmt.Errorf("IPv6 address %q must be in brackets, as in [%s]:PORT", s, s)
	}
	host, port, hasPort := strings.Cut(s, ":")
	if host == "" {
		return "", "", fmt.Errorf("empty host")
	}
	if !hasPort {
		if defPort == "" {
			return "", "", fmt.Errorf("missing port (want %s:PORT)", host)
		}
		port = defPort
	}
	return host, port, checkPort(port)
}

func checkPort(p string) error {
	if p == "" {
		return fmt.Errorf("empty port")
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 || p[0] == '0' {
		return fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return nil
}

// authority strips "//", splits off the query and rejects anything else
// after the authority but a final '/'.
func authority(raw, rest string, kind Kind) (auth, query string, err error) {
	auth, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return "", "", &ParseError{raw, fmt.Sprintf("want %s://HOST%s", kind, map[bool]string{true: "", false: ":PORT"}[kind == KindICMP])}
	}
	auth, query, _ = strings.Cut(auth, "?")
	if i := strings.IndexAny(auth, "/#"); i >= 0 {
		if auth[i:] != "/" {
			return "", "", &ParseError{raw, fmt.Sprintf("unexpected %q after the host (%s target has no path or fragment)", auth[i:], article(kind))}
		}
		auth = auth[:i]
	}
	if i := strings.IndexByte(query, '#'); i >= 0 {
		return "", "", &ParseError{raw, fmt.Sprintf("unexpected %q after the query (%s target has no fragment)", query[i:], article(kind))}
	}
	if strings.Contains(auth, "@") {
		return "", "", &ParseError{raw, "a user name is not allowed in " + article(kind) + " target"}
	}
	return auth, query, nil
}

// article returns kind with its indefinite article: "a tcp", "an icmp".
func article(kind Kind) string {
	if kind == KindICMP || kind == KindHTTP || kind == KindHTTPS {
		return "an " + string(kind)
	}
	return "a " + string(kind)
}

// String returns the canonical form of t, which Parse maps back to t.
func (t Target) String() string {
	if d := kindOf(t.Kind); d != nil {
		return d.format(t)
	}
	return string(t.Kind) + ":?"
}

func joinHostPort(host, port, def string) string {
	if port == def {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// Endpoint returns the host and port a tcp, tls or http(s) target connects
// to, with the scheme's default port filled in.
func (t Target) Endpoint() (host, port string) {
	port = t.Port
	if port == "" {
		switch t.Kind {
		case KindHTTP:
			port = "80"
		case KindHTTPS:
			port = "443"
		}
	}
	return t.Host, port
}

// UsesResolvConf reports whether probing t may read the resolver
// configuration: a dns target that asks the system's resolvers or a server
// given by name, a host given by name, an http(s) target that may go
// through a proxy (from the environment, or named by proxy=).
func (t Target) UsesResolvConf() bool {
	isName := func(host string) bool {
		_, err := netip.ParseAddr(host)
		return host != "" && err != nil
	}
	switch t.Kind {
	case KindDNS:
		if t.Server == "" {
			return true
		}
		host, _, err := net.SplitHostPort(t.Server)
		return err != nil || isName(host)
	case KindHTTP, KindHTTPS:
		if t.Proxy != ProxyNone {
			return true
		}
	}
	return isName(t.Host)
}
