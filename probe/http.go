package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
**http-body**. Parameters: **status=**, **body=**, **proxy=**, **ca=** (https), **via=**,
**src=**, **family=**; netready's names are lower-case, "Status=" is the server's.`,
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

// userAgent is sent with every HTTP probe, so a server's logs say who asked.
const userAgent = "netready (network readiness probe)"

// maxBody is how much of a response body is read (and discarded) before the
// connection is closed.
const maxBody = 64 << 10

// probeHTTP sends GET for the target's URL and passes on a status of
// status= (default 2xx) and, with body=, a body whose first 64 KiB match.
// Redirects are not followed. The host is resolved afresh and no
// connection is reused. The request goes through the proxy that proxy=
// names or, by default, the one the environment names for the URL
// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, as net/http reads them); https
// through a proxy is tunnelled with CONNECT.
func probeHTTP(ctx context.Context, env *Env, t Target) (res Result) {
	tm := newTiming()
	sk := env.socketsFor(t)
	host, port := t.Endpoint()
	proxy, err := proxyFor(t)
	if err != nil {
		return Result{Err: fail(CauseProxyFailed, "proxy", "", err)}
	}
	dialHost, dialPort := host, port
	if proxy != nil {
		dialHost, dialPort = proxy.Hostname(), proxyPort(proxy)
	}
	addrs, local, err := env.resolveHost(ctx, t, dialHost, tm)
	if err != nil {
		if proxy != nil {
			err = FailureOf(err).With(fmt.Errorf("proxy %s: %w", redact(proxy), err))
		}
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: env.resolverAddrs()}
	}
	res = Result{Local: local}
	defer func() {
		if res.Err != nil || env.Explain {
			res.Dests = withPort(addrs, dialPort) // for the path explanation
		}
	}()
	roots := env.RootCAs
	if t.CA != "" {
		if roots, err = readCA(t.CA); err != nil {
			res.Err = fail(CauseOther, "tls", t.CA, fmt.Errorf("ca=: %w", err))
			return res
		}
	}
	tlsConf := tlsConfig(host, roots)
	if proxy != nil {
		// net/http names the proxy (https://) and then the server in
		// their TLS handshakes when ServerName is left empty.
		tlsConf.ServerName = ""
	}
	var (
		mu     sync.Mutex
		remote net.Addr
	)
	tr := &http.Transport{
		Proxy: func(*http.Request) (*url.URL, error) { return proxy, nil },
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dialFirst(ctx, sk, addrs, dialPort)
			// Phases are marked only when they succeed: net/http calls
			// these hooks with the failure too after the request's context
			// ended, and httpError names the step that timed out from them.
			if err != nil {
				if proxy != nil {
					err = proxyFailure(proxy, err)
				}
				return nil, err
			}
			tm.mark("connect")
			return c, nil
		},
		OnProxyConnectResponse: func(_ context.Context, pu *url.URL, _ *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return fail(CauseProxyFailed, "proxy", pu.Host, fmt.Errorf("proxy %s answered CONNECT %s with HTTP %s", redact(pu), net.JoinHostPort(host, port), resp.Status))
			}
			tm.mark("proxy")
			return nil
		},
		TLSClientConfig:    tlsConf,
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			remote = info.Conn.RemoteAddr()
			mu.Unlock()
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				tm.mark("tls")
			}
		},
		GotFirstResponseByte: func() { tm.mark("request") },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, t.URL.String(), nil)
	if err != nil {
		res.Err = fmt.Errorf("build request: %w", err)
		return res
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		res.Phases = tm.snapshot()
		err = httpError(ctx, env, t, err, tm)
		if proxy != nil && FailureOf(err).Phase == "connect" {
			// Not even connected to the proxy (net/http reports a
			// timeout as the request's, not the dial's).
			err = proxyFailure(proxy, err)
		}
		res.Err = throughProxy(err, proxy)
		return res
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	res.Phases = tm.snapshot()
	if err := checkResponse(t, resp, body, proxy); err != nil {
		res.Err = throughProxy(err, proxy)
		return res
	}
	res.Detail = "HTTP " + resp.Status
	if t.Body != "" {
		res.Detail += ", body matches"
	}
	if proxy != nil {
		res.Detail += " through proxy " + redact(proxy)
	} else {
		mu.Lock()
		if remote != nil {
			res.Detail += " from " + remote.String() + sk.pathNote(addrOf(remote))
		}
		mu.Unlock()
	}
	return res
}

// proxyFor is the proxy t is fetched through, nil for none: proxy= or, by
// default, the environment's, as net/http reads it (HTTPS_PROXY for https,
// HTTP_PROXY for http, NO_PROXY, in upper or lower case; a request to
// localhost or a loopback address is never proxied).
func proxyFor(t Target) (*url.URL, error) {
	switch t.Proxy {
	case ProxyNone:
		return nil, nil
	case "":
		// net/http reads the variables once per process, as its own
		// Transports do.
		u, err := http.ProxyFromEnvironment(&http.Request{URL: t.URL})
		if err != nil {
			return nil, fmt.Errorf("proxy from the environment: %w", err)
		}
		return u, nil
	}
	return url.Parse(t.Proxy) // checked by Parse
}

// proxyPort is the port of proxy u, its scheme's default if it has none.
func proxyPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// proxyFailure is a connection to proxy that failed: cause proxy-failed,
// naming the proxy and what happened (a refusal stays a refusal, for
// pacing).
func proxyFailure(proxy *url.URL, err error) *Failure {
	f := FailureOf(err)
	if f.Cause == CauseNoLink || f.Cause == CauseNoAddress || f.Cause == CauseLinkDown || f.Cause == CauseNoCarrier {
		return f // this host's own link or address, not the proxy
	}
	g := *f
	g.Cause, g.Phase, g.Hop = CauseProxyFailed, "proxy", proxy.Host
	g.Err = fmt.Errorf("proxy %s: %w", redact(proxy), err)
	return &g
}

// throughProxy adds the proxy to the message of err, a failure of a
// request sent through it, unless the message names it already.
func throughProxy(err error, proxy *url.URL) error {
	if err == nil || proxy == nil {
		return err
	}
	f := FailureOf(err)
	if f.Cause == CauseProxyFailed {
		return err
	}
	return f.With(fmt.Errorf("%w (through proxy %s)", err, redact(proxy)))
}

// statusPasses reports whether code is one of list (nil: 200-299).
func statusPasses(list []StatusRange, code int) bool {
	if list == nil {
		return code >= 200 && code <= 299
	}
	for _, r := range list {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// wantStatus says which statuses pass, for a message.
func wantStatus(t Target) string {
	if t.Status == nil {
		return "200-299"
	}
	return httpStatusParam.get(t)
}

// checkResponse judges a response to t by its status and, with body=, by
// body, its first 64 KiB. The rule for captive portals, which answer a
// connectivity check with their login page or a redirect to it:
//
//   - a redirect to another host, where status= does not accept it;
//   - a connectivity check (status= without 200, as "204", or body=)
//     answered with 200 and an HTML page;
//   - a body that does not match body= and is an HTML page with a form.
//
// Through a plain-http proxy, a 407, or a 403 or 5xx without a Via header
// (a response the proxy forwards carries one, RFC 9110 section 7.6.3), is
// the proxy's own answer: proxy-failed.
func checkResponse(t Target, resp *http.Response, body []byte, proxy *url.URL) error {
	status := "HTTP " + resp.Status
	code := resp.StatusCode
	if !statusPasses(t.Status, code) {
		if proxy != nil && t.Kind == KindHTTP && (code == http.StatusProxyAuthRequired ||
			(code == http.StatusForbidden || code >= 500) && resp.Header.Get("Via") == "") {
			return fail(CauseProxyFailed, "proxy", proxy.Host, fmt.Errorf("proxy %s answered %s", redact(proxy), status))
		}
		if code >= 300 && code <= 399 {
			loc, err := resp.Location()
			if err != nil {
				return fail(CauseHTTPStatus, "request", "", fmt.Errorf("%s without a usable Location header", status))
			}
			if !strings.EqualFold(loc.Hostname(), t.URL.Hostname()) {
				return fail(CauseCaptivePortal, "redirect", loc.Hostname(), fmt.Errorf("%s redirects to another host: %s", status, redact(loc)))
			}
			return fail(CauseHTTPStatus, "redirect", "", fmt.Errorf("%s redirects to %s", status, redact(loc)))
		}
		check := t.Body != "" || !statusPasses(t.Status, http.StatusOK)
		if check && code == http.StatusOK && htmlPage(resp, body) {
			return fail(CauseCaptivePortal, "request", t.URL.Hostname(), fmt.Errorf("%s with an HTML page where status %s was expected", status, wantStatus(t)))
		}
		return fail(CauseHTTPStatus, "request", "", fmt.Errorf("%s, want status %s", status, wantStatus(t)))
	}
	if t.Body == "" {
		return nil
	}
	re, err := regexp.Compile(t.Body)
	if err != nil { // checked by Parse
		return fail(CauseOther, "request", "", fmt.Errorf("body=: %w", err))
	}
	if re.Match(body) {
		return nil
	}
	if htmlPage(resp, body) && hasForm(body) {
		return fail(CauseCaptivePortal, "request", t.URL.Hostname(), fmt.Errorf("%s is an HTML page with a form (a login page?) where the body should match %q", status, t.Body))
	}
	return fail(CauseHTTPBody, "request", "", fmt.Errorf("%s, but the body (%s) does not match %q", status, plural(len(body), "byte", "bytes"), t.Body))
}

// hasForm reports whether an HTML body has a form: "<form" in any case,
// then white space or ">". (Not a regular expression: one compiled at
// package level would cost every netready command its compilation.)
func hasForm(body []byte) bool {
	for {
		i := bytes.IndexByte(body, '<')
		if i < 0 {
			return false
		}
		body = body[i+1:]
		if len(body) > 4 && bytes.EqualFold(body[:4], []byte("form")) {
			switch body[4] {
			case ' ', '\t', '\n', '\f', '\r', '>':
				return true
			}
		}
	}
}

// htmlPage reports whether a response is an HTML page: by its Content-Type,
// or by what its body starts with.
func htmlPage(resp *http.Response, body []byte) bool {
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(ct), "text/html") {
		return true
	}
	head := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 512)])))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

// redact drops credentials from a URL before it is printed.
func redact(u *url.URL) string { return u.Redacted() }

// httpError says which step of the request failed.
func httpError(ctx context.Context, env *Env, t Target, err error, tm *timing) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var f *Failure
	switch {
	case errors.As(err, &f):
		return err // resolving or connecting, which said why
	case isTLSError(err):
		return tlsError(ctx, env, err, time.Now())
	case errors.Is(err, http.ErrSchemeMismatch):
		// net/http's word for a reply to the ClientHello that starts
		// "HTTP/" (it drops the record header it saw).
		return fail(CauseTLSFailed, "tls", "", fmt.Errorf("tls handshake: %w", err))
	case ctx.Err() != nil || errTimeout(err):
		step, phase := "response headers", "request"
		if !tm.has("connect") {
			step, phase = "connection", "connect"
		} else if t.Kind == KindHTTPS && !tm.has("tls") {
			step, phase = "TLS handshake", "tls"
		}
		c := CauseTimeout
		if phase == "connect" {
			c = CauseFiltered
		}
		return fail(c, phase, "", fmt.Errorf("no %s before the probe timed out: %w", step, ctxErr(ctx, context.DeadlineExceeded)))
	}
	// cleanNetError drops what net/http and net put around the cause
	// ("readLoopPeekFailLocked: read tcp 10.0.0.2:41234->10.0.0.1:80:
	// read: "), which names a function and a port, not a step.
	err = cleanNetError(ctx, err)
	c := errnoCause(err, "request")
	if c == CauseOther && errors.Is(err, io.EOF) {
		c = CauseReset // closed before the response
	}
	return fail(c, "request", "", fmt.Errorf("request: %w", err))
}
