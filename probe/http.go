package probe

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var httpKind = KindDef{
	Schemes:  []Kind{KindHTTP, KindHTTPS},
	Usage:    []Usage{{"http://..., https://...", "a response of status= (default 2xx) arrives; redirects are not followed"}},
	ManTitle: "http://URL, https://URL",
	Man: `A GET of the URL, less netready's own parameters (the others are sent as written), gets a
status of **status=** (default 200-299) and, with **body=**, a body whose first 64 KiB match.
Redirects are not followed. https verifies the certificate (against **ca=**, or the system's
roots). The request goes through the proxy of **proxy=**, by default the environment's
(HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as Go's net/http reads them), https with CONNECT; a
refused CONNECT, a 407, a proxy's own 403 or 5xx (no Via header), or a proxy that cannot be
reached is **proxy-failed**, naming the proxy, and the report of a target fetched through a
proxy names it. A likely captive portal (**captive-portal**): a redirect to another host
where **status=** does not take it; a 200 with an HTML page where **status=** expected no 200
(as 204) or **body=** is given; a body that does not match **body=** and is an HTML page with a
form. Otherwise a status that does not pass is **http-status**, a body that does not match
**http-body**. An exchange that stalls is tried again beside it with small segments: if that one
gets the response, the cause is **mtu-blackhole**. Headers over 100 KiB (a proxy's answer to
CONNECT too), or more than five informational responses before the response, are
**response-too-large**; HTTP/1.1 only, never compressed. Parameters: **status=**, **body=**,
**proxy=**, **ca=** (https), **via=**, **src=**, **family=**; netready's names are lower-case,
"Status=" is the server's.`,
	Authority: true,
	Complete:  []string{"http://", "https://"},
	parse:     parseHTTP,
	format:    formatHTTP,
	probe:     probeHTTP,
}

func parseHTTP(raw, _ string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		reason := err.Error()
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			reason = ue.Err.Error()
		}
		return Target{}, &ParseError{raw, reason}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme)+1:], "//") {
		return Target{}, &ParseError{raw, fmt.Sprintf("want %s://HOST[:PORT]/PATH", u.Scheme)}
	}
	if u.User != nil {
		return Target{}, &ParseError{raw, "credentials in the URL are not supported"}
	}
	if u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#") {
		return Target{}, &ParseError{raw, "a URL fragment is meaningless here"}
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return Target{}, &ParseError{raw, "empty port"}
	}
	if err := checkHost(host); err != nil {
		return Target{}, &ParseError{raw, err.Error()}
	}
	if port != "" {
		if err := checkPort(port); err != nil {
			return Target{}, &ParseError{raw, err.Error()}
		}
	}
	// net/url accepts some hosts it cannot print back in a form it accepts
	// (a raw non-ASCII byte in an IPv6 zone comes back as "%92", which it
	// refuses in a zone), and the canonical form is u.String().
	if v, err := url.Parse(u.String()); err != nil || v.String() != u.String() {
		return Target{}, &ParseError{raw, fmt.Sprintf("host %q has a character that cannot be written in a URL", host)}
	}
	t := Target{Host: host, Port: port, URL: u}
	if err := httpParams(raw, &t, Kind(u.Scheme)); err != nil {
		return Target{}, err
	}
	if err := checkFamilies(raw, t, host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// httpParams moves netready's own parameters from the query of t's URL
// into t: the names of the parameters an http(s) target takes, written
// in lower case ("ca=" too in an http URL, where it is an error). Every
// other query parameter stays in the URL, in order, as written: it is the
// server's.
func httpParams(raw string, t *Target, kind Kind) error {
	u := t.URL
	if u.RawQuery == "" {
		return nil
	}
	var (
		kept  []string
		taken bool
		seen  = map[string]bool{}
	)
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		p := paramNamed(k)
		if p == nil || !slices.Contains(p.kinds, KindHTTP) && !slices.Contains(p.kinds, KindHTTPS) {
			kept = append(kept, kv)
			continue
		}
		if err := setParam(raw, t, kind, p, v, seen); err != nil {
			return err
		}
		taken = true
	}
	if taken {
		u.RawQuery = strings.Join(kept, "&")
		u.ForceQuery = false
	}
	return nil
}

// formatHTTP is the canonical form of an http(s) target: the URL it
// requests, then netready's parameters.
func formatHTTP(t Target) string {
	q := formatParams(t)
	if q == "" {
		return t.URL.String()
	}
	u := *t.URL
	if u.RawQuery == "" {
		u.ForceQuery = false
		return u.String() + "?" + q
	}
	return u.String() + "&" + q
}

// httpStatusParam is status=: a list of statuses and ranges of them,
// "204" or "200-299,301".
var httpStatusParam = param{
	name:   "status",
	kinds:  []Kind{KindHTTP, KindHTTPS},
	syntax: "status=LIST",
	help:   "the statuses that pass, as 204 or 200-299,301 (default 200-299)",
	set: func(t *Target, v string) error {
		if v == "" {
			return errors.New("empty status list")
		}
		var list []StatusRange
		for _, item := range strings.Split(v, ",") {
			lo, hi, isRange := strings.Cut(item, "-")
			if !isRange {
				hi = lo
			}
			r := StatusRange{statusCode(lo), statusCode(hi)}
			switch {
			case r.Lo == 0 || r.Hi == 0:
				return fmt.Errorf("%q is neither a status from 100 to 599 nor a range of them (as 200-299)", item)
			case r.Lo > r.Hi:
				return fmt.Errorf("range %q ends before it starts", item)
			}
			list = append(list, r)
		}
		t.Status = list
		return nil
	},
	get: func(t Target) string {
		s := make([]string, len(t.Status))
		for i, r := range t.Status {
			s[i] = fmt.Sprint(r.Lo)
			if r.Hi != r.Lo {
				s[i] += fmt.Sprintf("-%d", r.Hi)
			}
		}
		return strings.Join(s, ",")
	},
}

// statusCode is s as an HTTP status from 100 to 599 written in three
// digits, or 0.
func statusCode(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 || n < 100 || n > 599 {
		return 0
	}
	return n
}

// httpBodyParam is body=, an RE2 pattern.
var httpBodyParam = param{
	name:   "body",
	kinds:  []Kind{KindHTTP, KindHTTPS},
	syntax: "body=REGEX",
	help:   "the first 64 KiB of the body must match REGEX (RE2; percent-encode &, ; # % and spaces)",
	set: func(t *Target, v string) error {
		if v == "" {
			return errors.New("empty pattern")
		}
		if _, err := regexp.Compile(v); err != nil {
			return fmt.Errorf("bad regular expression: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		t.Body = v
		return nil
	},
	get: func(t Target) string { return t.Body },
}

// httpProxyParam is proxy=URL|env|none.
var httpProxyParam = param{
	name:   "proxy",
	kinds:  []Kind{KindHTTP, KindHTTPS},
	syntax: "proxy=URL|env|none",
	help: "through that proxy (http:// or https://, CONNECT for https); default env: HTTPS_PROXY for https, " +
		"HTTP_PROXY for http, NO_PROXY, in upper or lower case, as Go's net/http reads them",
	set: func(t *Target, v string) error {
		switch v {
		case "env":
			t.Proxy = ""
			return nil
		case ProxyNone:
			t.Proxy = ProxyNone
			return nil
		}
		u, err := parseProxyURL(v)
		if err != nil {
			return err
		}
		t.Proxy = u.String()
		return nil
	},
	get: func(t Target) string { return t.Proxy },
}

// parseProxyURL checks a proxy's URL: http:// or https://, a host, an
// optional port, nothing after them but "/".
func parseProxyURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || u.Opaque != "" || !strings.Contains(v, "://") {
		return nil, fmt.Errorf("%q is neither env, none nor a proxy's URL (as http://proxy.internal:3128)", v)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("proxy scheme %q is not supported (want http:// or https://)", u.Scheme)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return nil, fmt.Errorf("proxy %v", err)
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if err := checkPort(p); err != nil {
			return nil, fmt.Errorf("proxy %v", err)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("a proxy's URL has nothing after the host and port")
	}
	u.Path, u.RawPath = "", ""
	if w, err := url.Parse(u.String()); err != nil || w.String() != u.String() {
		return nil, fmt.Errorf("proxy %q cannot be written back as a URL", v)
	}
	return u, nil
}
