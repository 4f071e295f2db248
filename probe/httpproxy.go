package probe

import (
	"fmt"
	"net/http"
	"net/url"
)

// The proxy of an http(s) target: which one (proxy= or the environment),
// and how a failure through it is told.

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
	g.Cause, g.Phase, g.Hop = CauseProxyFailed, PhaseProxy, proxy.Host
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
