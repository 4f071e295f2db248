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
	"sync"
	"time"
)

// The request of an http(s) target: a transport of its own each attempt,
// timed phase by phase, and the step a failure happened at.

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
	sk := env.socketsFor(t).inAttempt(ctx)
	host, port := t.Endpoint()
	proxy, err := proxyFor(t)
	if err != nil {
		return Result{Err: fail(CauseProxyFailed, PhaseProxy, "", err)}
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
			res.Err = fail(CauseOther, PhaseTLS, t.CA, fmt.Errorf("ca=: %w", err))
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
		mu   sync.Mutex
		conn net.Conn // the last one dialled
		// With the probe's context: net/http's for the dial has its
		// values, not its deadline.
		watcher = env.watcher(ctx, t, addrs) // see mtu.go
	)
	tr := &http.Transport{
		Proxy: func(*http.Request) (*url.URL, error) { return proxy, nil },
		DialContext: func(dctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dialFirst(dctx, sk, addrs, dialPort)
			// Phases are marked only when they succeed: net/http calls
			// these hooks with the failure too after the request's context
			// ended, and httpError names the step that timed out from them.
			if err != nil {
				if proxy != nil {
					err = proxyFailure(proxy, err)
				}
				return nil, err
			}
			tm.mark(PhaseConnect)
			c = watcher.watch(c)
			mu.Lock()
			conn = c
			mu.Unlock()
			return c, nil
		},
		OnProxyConnectResponse: func(_ context.Context, pu *url.URL, _ *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return fail(CauseProxyFailed, PhaseProxy, pu.Host, fmt.Errorf("proxy %s answered CONNECT %s with HTTP %s", redact(pu), net.JoinHostPort(host, port), resp.Status))
			}
			tm.mark(PhaseProxy)
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
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				tm.mark(PhaseTLS)
			}
		},
		GotFirstResponseByte: func() { tm.mark(PhaseRequest) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, t.URL.String(), nil)
	if err != nil {
		res.Err = fmt.Errorf("build request: %w", err)
		return res
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	mu.Lock()
	dialled := conn
	mu.Unlock()
	if err != nil {
		res.Phases = tm.snapshot()
		err = httpError(ctx, env, t, err, tm)
		step := "response"
		if FailureOf(err).Phase == PhaseTLS {
			step = "TLS handshake"
		}
		err = settleMTU(dialled, err, step)
		if proxy != nil && FailureOf(err).Phase == PhaseConnect {
			// Not even connected to the proxy (net/http reports a
			// timeout as the request's, not the dial's).
			err = proxyFailure(proxy, err)
		}
		res.Err = throughProxy(err, proxy)
		return res
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	settleMTU(dialled, nil, "")
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
	} else if dialled != nil {
		remote := dialled.RemoteAddr()
		res.Detail += " from " + remote.String() + sk.pathNote(addrOf(remote))
	}
	return res
}

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
	case ctx.Err() != nil || errTimeout(err):
		step, phase := "response headers", PhaseRequest
		if !tm.has(PhaseConnect) {
			step, phase = "connection", PhaseConnect
		} else if t.Kind == KindHTTPS && !tm.has(PhaseTLS) {
			step, phase = "TLS handshake", PhaseTLS
		}
		c := CauseTimeout
		if phase == PhaseConnect {
			c = CauseFiltered
		}
		return fail(c, phase, "", fmt.Errorf("no %s before the probe timed out: %w", step, ctxErr(ctx, context.DeadlineExceeded)))
	}
	// cleanNetError drops what net/http and net put around the cause
	// ("readLoopPeekFailLocked: read tcp 10.0.0.2:41234->10.0.0.1:80:
	// read: "), which names a function and a port, not a step.
	err = cleanNetError(ctx, err)
	c := errnoCause(err, PhaseRequest)
	if c == CauseOther && errors.Is(err, io.EOF) {
		c = CauseReset // closed before the response
	}
	return fail(c, PhaseRequest, "", fmt.Errorf("request: %w", err))
}
