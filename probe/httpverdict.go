package probe

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// The verdict on a response: its status and body, and the signs of a
// captive portal or of a proxy answering for the server.

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
			return fail(CauseProxyFailed, PhaseProxy, proxy.Host, fmt.Errorf("proxy %s answered %s", redact(proxy), status))
		}
		if code >= 300 && code <= 399 {
			loc, err := resp.Location()
			if err != nil {
				return fail(CauseHTTPStatus, PhaseRequest, "", fmt.Errorf("%s without a usable Location header", status))
			}
			if !strings.EqualFold(loc.Hostname(), t.URL.Hostname()) {
				return fail(CauseCaptivePortal, PhaseRedirect, loc.Hostname(), fmt.Errorf("%s redirects to another host: %s", status, redact(loc)))
			}
			return fail(CauseHTTPStatus, PhaseRedirect, "", fmt.Errorf("%s redirects to %s", status, redact(loc)))
		}
		check := t.Body != "" || !statusPasses(t.Status, http.StatusOK)
		if check && code == http.StatusOK && htmlPage(resp, body) {
			return fail(CauseCaptivePortal, PhaseRequest, t.URL.Hostname(), fmt.Errorf("%s with an HTML page where status %s was expected", status, wantStatus(t)))
		}
		return fail(CauseHTTPStatus, PhaseRequest, "", fmt.Errorf("%s, want status %s", status, wantStatus(t)))
	}
	if t.Body == "" {
		return nil
	}
	re, err := regexp.Compile(t.Body)
	if err != nil { // checked by Parse
		return fail(CauseOther, PhaseRequest, "", fmt.Errorf("body=: %w", err))
	}
	if re.Match(body) {
		return nil
	}
	if htmlPage(resp, body) && hasForm(body) {
		return fail(CauseCaptivePortal, PhaseRequest, t.URL.Hostname(), fmt.Errorf("%s is an HTML page with a form (a login page?) where the body should match %q", status, t.Body))
	}
	return fail(CauseHTTPBody, PhaseRequest, "", fmt.Errorf("%s, but the body (%s) does not match %q", status, plural(len(body), "byte", "bytes"), t.Body))
}

// redact drops credentials from a URL before it is printed.
func redact(u *url.URL) string { return u.Redacted() }
