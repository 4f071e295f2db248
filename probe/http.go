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

// userAgent is sent with every HTTP probe, so a server's logs say who asked.
const userAgent = "netready (network readiness probe)"

// maxBody is how much of a response body is read (and discarded) before the
// connection is closed.
const maxBody = 64 << 10

// probeHTTP sends GET for the target's URL and passes on a 2xx status.
// Redirects are not followed; one to another host is reported as a likely
// captive portal. The host is resolved afresh; no connection is reused and
// no proxy is used, since readiness is about this host's own network path.
func probeHTTP(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	host, port := t.Endpoint()
	addrs, local, err := env.resolveHost(ctx, host, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local}
	}
	res := Result{Local: local}
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
		res.Err, res.Hint = httpError(ctx, t, err, tm)
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
			res.Err = fmt.Errorf("%s without a usable Location header", status)
			return res
		}
		if !strings.EqualFold(loc.Hostname(), t.URL.Hostname()) {
			res.Err = fmt.Errorf("%s redirects to another host: %s", status, redact(loc))
			res.Hint = "a captive portal is likely intercepting traffic (log in to the network), or the URL is wrong"
			return res
		}
		res.Err = fmt.Errorf("%s redirects to %s", status, redact(loc))
		res.Hint = "redirects are not followed: use the final URL as the target"
	default:
		res.Err = errors.New(status)
	}
	return res
}

// redact drops credentials from a URL before it is printed.
func redact(u *url.URL) string { return u.Redacted() }

// httpError says which step of the request failed.
func httpError(ctx context.Context, t Target, err error, tm *timing) (error, string) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var de *dialError
	var re *resolveError
	switch {
	case errors.As(err, &de), errors.As(err, &re):
		return err, ""
	case isTLSError(err):
		return tlsError(ctx, err, time.Now())
	case ctx.Err() != nil || errTimeout(err):
		step := "response headers"
		if !tm.has("connect") {
			step = "connection"
		} else if t.Kind == KindHTTPS && !tm.has("tls") {
			step = "TLS handshake"
		}
		return fmt.Errorf("no %s before the probe timed out: %w", step, ctxErr(ctx, context.DeadlineExceeded)), ""
	}
	// cleanNetError drops what net/http and net put around the cause
	// ("readLoopPeekFailLocked: read tcp 10.0.0.2:41234->10.0.0.1:80:
	// read: "), which names a function and a port, not a step.
	return fmt.Errorf("request: %w", cleanNetError(ctx, err)), ""
}
