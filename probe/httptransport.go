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
	"net/textproto"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The request of an http(s) target: a transport of its own each attempt,
// timed phase by phase, and the step a failure happened at.

// userAgent is sent with every HTTP probe, so a server's logs say who asked.
const userAgent = "netready (network readiness probe)"

// What an HTTP probe reads from a server, whatever the server sends: a
// response over either bound fails with response-too-large, naming it.
const (
	// maxBody is how much of a response body is read (and discarded)
	// before the connection is closed: body= matches the first 64 KiB, a
	// longer body is not read further and is no failure. Compression is
	// never asked for (and a compressed body sent anyway is never
	// inflated), so these are the bytes the server sent.
	maxBody = 64 << 10
	// maxResponseHeader is the most a response's headers may take, as
	// curl's 100 KiB (CURL_MAX_HTTP_HEADER), where net/http would read
	// 10 MB; a proxy's answer to CONNECT has the same bound.
	maxResponseHeader = 100 << 10
	// maxInformational is how many informational (1xx) responses may come
	// before the response: a server sends one or two (100 Continue, 103
	// Early Hints). Their headers together are held to maxResponseHeader
	// too, the response's own to maxResponseHeader again.
	maxInformational = 5
)

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
		conn net.Conn // the last one dialled, as watcher returned it
		// What the server sent, for a failure (see tooLarge): it counts
		// what net/http reads through the watcher, below TLS.
		meter readMeter
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
			// Outside the watcher, which settleMTU finds in conn and
			// which needs the socket beneath it.
			return meter.conn(c), nil
		},
		OnProxyConnectResponse: func(_ context.Context, pu *url.URL, _ *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return fail(CauseProxyFailed, PhaseProxy, pu.Host, fmt.Errorf("proxy %s answered CONNECT %s with HTTP %s", redact(pu), net.JoinHostPort(host, port), resp.Status))
			}
			tm.mark(PhaseProxy)
			meter.reset()
			return nil
		},
		TLSClientConfig:        tlsConf,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeader,
		// HTTP/1.1 only (with a DialContext of its own, the transport
		// offers h2 only when told to). Over HTTP/2, net/http enforces
		// the header bound inside its copy of x/net/http2 and reports
		// it as a bare PROTOCOL_ERROR, which cannot be told from any
		// other; and a probe's one GET on a connection of its own gains
		// nothing from HTTP/2, which every server also answers as 1.1.
		ForceAttemptHTTP2: false,
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
				meter.reset()
			}
		},
		GotFirstResponseByte: func() { tm.mark(PhaseRequest) },
		// Set, this hook makes net/http count each informational
		// response's headers apart: their sum is held to
		// maxResponseHeader here.
		Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if meter.informational.Add(1) > maxInformational {
				return fail(CauseResponseTooLarge, PhaseRequest, "", fmt.Errorf("more than %d informational responses (the last %d) before the response", maxInformational, code))
			}
			if meter.since() >= maxResponseHeader {
				return fail(CauseResponseTooLarge, PhaseRequest, "", fmt.Errorf("informational responses larger than %d KiB, the most netready reads", maxResponseHeader>>10))
			}
			return nil
		},
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
		connecting := proxy
		if t.Kind != KindHTTPS || tm.has(PhaseProxy) {
			connecting = nil // no CONNECT, or answered
		}
		var big *Failure
		if connecting != nil || t.Kind != KindHTTPS || tm.has(PhaseTLS) {
			big = meter.tooLarge(err, connecting)
		}
		if big != nil {
			// Not a stall: settleMTU ends a retry the exchange may
			// have started, and keeps big.
			settleMTU(dialled, big, "")
			res.Err = big
			if connecting == nil {
				res.Err = throughProxy(big, proxy)
			}
			return res
		}
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
	case errors.Is(err, http.ErrSchemeMismatch):
		// net/http's word for a reply to the ClientHello that starts
		// "HTTP/" (it drops the record header it saw).
		return fail(CauseTLSFailed, PhaseTLS, "", fmt.Errorf("tls handshake: %w", err))
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

// readMeter counts the bytes an HTTP probe reads from the server's
// connection (below TLS) since the response began: after the TLS
// handshake or a proxy's answer to CONNECT. It is how a failed request
// tells that the server sent more than a bound allows, which net/http says
// only in the words of its error. (Before a TLS handshake is done, the
// bytes are the handshake's: a failure then is not the response's.)
type readMeter struct {
	n, mark       atomic.Int64
	informational atomic.Int32
}

// conn is c, its reads counted by m.
func (m *readMeter) conn(c net.Conn) net.Conn { return &meteredConn{c, m} }

// reset starts counting the bytes of a new response.
func (m *readMeter) reset() { m.mark.Store(m.n.Load()) }

// since is how many bytes were read since the last reset.
func (m *readMeter) since() int64 { return m.n.Load() - m.mark.Load() }

type meteredConn struct {
	net.Conn
	m *readMeter
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.m.n.Add(int64(n))
	return n, err
}

// tooLarge is the failure of a request that err ended, if it ended
// because the server sent more than a bound allows: headers over
// maxResponseHeader (or an answer to CONNECT, when connecting names the
// proxy that had not answered it yet), more than maxInformational
// informational responses. It is nil otherwise.
func (m *readMeter) tooLarge(err error, connecting *url.URL) *Failure {
	if f := (*Failure)(nil); errors.As(err, &f) && f.Cause == CauseResponseTooLarge {
		return f // too many informational responses
	}
	// The transport reads at most maxResponseHeader bytes of a response's
	// headers: to have read that many is to have been stopped there.
	// (Over TLS, the bytes below it are a little more than the headers.)
	if m.since() < maxResponseHeader {
		return nil
	}
	if connecting != nil {
		return fail(CauseResponseTooLarge, PhaseProxy, connecting.Host, fmt.Errorf("proxy %s: its answer to CONNECT is larger than %d KiB, the most netready reads", redact(connecting), maxResponseHeader>>10))
	}
	return fail(CauseResponseTooLarge, PhaseRequest, "", fmt.Errorf("response headers larger than %d KiB, the most netready reads", maxResponseHeader>>10))
}
