package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"
)

var httpKind = KindDef{
	Schemes:  []Kind{KindHTTP, KindHTTPS},
	Usage:    []Usage{{"http://..., https://...", "a 2xx response arrives (redirects are not followed)"}},
	ManTitle: "http://URL, https://URL",
	Man: `A GET of the URL gets a 2xx status. Redirects are not followed; one to another host is
reported as a likely captive portal. https verifies the certificate. No proxy is used.`,
	Authority: true,
	Complete:  []string{"http://", "https://"},
	parse:     parseHTTP,
	format:    func(t Target) string { return t.URL.String() },
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
	return Target{Host: host, Port: port, URL: u}, nil
}

// userAgent is sent with every HTTP probe, so a server's logs say who asked.
const userAgent = "netready (network readiness probe)"

// maxBody is how much of a response body is read (and discarded) before the
// connection is closed.
const maxBody = 64 << 10

// probeHTTP sends GET for the target's URL and passes on a 2xx status.
// Redirects are not followed; one to another host is reported as a likely
// captive portal. The host is resolved afresh; no connection is reused and
// no proxy is used, since readiness is about this host's own network path.
func probeHTTP(ctx context.Context, env *Env, t Target) (res Result) {
	tm := newTiming()
	host, port := t.Endpoint()
	addrs, local, err := env.resolveHost(ctx, host, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: env.resolverAddrs()}
	}
	res = Result{Local: local}
	defer func() {
		if res.Err != nil || env.Explain {
			res.Dests = withPort(addrs, port) // for the path explanation
		}
	}()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dialFirst(ctx, addrs, port)
			// Phases are marked only when they succeed: net/http calls
			// these hooks with the failure too after the request's context
			// ended, and httpError names the step that timed out from them.
			if err == nil {
				tm.mark("connect")
			}
			return c, err
		},
		TLSClientConfig:    tlsConfig(host, env.RootCAs),
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
		res.Err = httpError(ctx, t, err, tm)
		return res
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	res.Phases = tm.snapshot()
	status := fmt.Sprintf("HTTP %s", resp.Status)
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		res.Detail = status
	case code >= 300 && code <= 399:
		loc, err := resp.Location()
		if err != nil {
			res.Err = fail(CauseHTTPStatus, "request", "", fmt.Errorf("%s without a usable Location header", status))
			return res
		}
		if !strings.EqualFold(loc.Hostname(), t.URL.Hostname()) {
			res.Err = fail(CauseCaptivePortal, "redirect", loc.Hostname(), fmt.Errorf("%s redirects to another host: %s", status, redact(loc)))
			return res
		}
		res.Err = fail(CauseHTTPStatus, "redirect", "", fmt.Errorf("%s redirects to %s", status, redact(loc)))
	default:
		res.Err = fail(CauseHTTPStatus, "request", "", errors.New(status))
	}
	return res
}

// redact drops credentials from a URL before it is printed.
func redact(u *url.URL) string { return u.Redacted() }

// httpError says which step of the request failed.
func httpError(ctx context.Context, t Target, err error, tm *timing) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var f *Failure
	switch {
	case errors.As(err, &f):
		return err // resolving or connecting, which said why
	case isTLSError(err):
		return tlsError(ctx, err, time.Now())
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
