package main

// What an http(s) or tls target checks of the answer: status=, body=,
// captive portals, ca=, a certificate out of its validity while the clock
// is not synchronised, and the bounds on a response (here through the
// path-MTU watch that every connection beyond loopback gets).

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/roottest"
)

// loginPage is what a captive portal serves instead of the page asked for.
const loginPage = `<!DOCTYPE html>
<html><head><title>Welcome to Airport Wi-Fi</title></head>
<body><form method="post" action="/login"><input name="room"><input type="password" name="code"></form></body></html>
`

func TestIntegrationHTTPChecks(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/generate_204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/success", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>")
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, loginPage)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>version 2</body></html>")
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://portal.example.test/login", http.StatusFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "query="+r.URL.RawQuery) })
	mux.HandleFunc("/huge-headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Fill", strings.Repeat("a", 200<<10))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/long-body", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 64<<10)+"tail")
	})
	l.serveHTTP(t, serverIP4+":80", mux, nil)

	ca, other := certtest.NewCA(t), certtest.NewCA(t)
	valid := ca.Valid(t, "server.test")
	expired := ca.Leaf(t, time.Now().Add(-72*time.Hour), time.Now().Add(-48*time.Hour), "server.test")
	l.serveHTTP(t, serverIP4+":443", mux, &valid)
	l.serveHTTP(t, serverIP4+":8443", mux, &expired)
	caFile, otherFile := ca.WriteFile(t), other.WriteFile(t)

	// Whether the kernel says the clock is synchronised decides the cause
	// of an expired certificate; read it independently of netready.
	synced := clockSynced(t)
	expiredCause := "tls-expired"
	if !synced {
		expiredCause = "tls-clock"
	}

	const u = "http://10.213.1.1"
	targets := []string{
		// status=
		u + "/generate_204?status=204",
		u + "/ok?status=204",
		u + "/moved",
		u + "/moved?status=200-299,302",
		u + "/ok?status=100-199,300-599",
		// captive portals
		u + "/login?status=204",
		u + "/away?status=204",
		u + "/away",
		// body=
		u + "/success?body=%3ESuccess%3C",
		u + "/ok?body=Success",
		u + "/login?body=Success",
		u + "/page?body=version%201",
		// the server's own query parameters are sent, netready's are not
		u + "/echo?a=1&status=200&b=2&body=%5Equery=a=1%26b=2$",
		// ca=
		"https://server.test/ok?ca=" + caFile,
		"https://server.test/ok",
		"https://server.test/ok?ca=" + otherFile,
		"tls://server.test:443?ca=" + caFile,
		"tls://server.test:443?ca=" + otherFile,
		// the clock
		"tls://server.test:8443?ca=" + caFile,
		"https://server.test:8443/ok?ca=" + caFile,
		// bounds: headers over 100 KiB, and a body read to 64 KiB only
		u + "/huge-headers",
		"https://server.test/huge-headers?ca=" + caFile,
		u + "/long-body?body=%5Ex",
		u + "/long-body?body=tail",
	}
	wants := []want{
		pass().showing("HTTP 204 No Content"),
		fail("HTTP 200 OK, want status 204").because("http-status"),
		fail("HTTP 302 Found redirects to http://10.213.1.1/ok").because("http-status").hinting("redirects are not followed"),
		pass().showing("HTTP 302 Found"),
		fail("HTTP 200 OK, want status 100-199,300-599").because("http-status"),
		fail("HTTP 200 OK with an HTML page where status 204 was expected").because("captive-portal").hinting("captive portal"),
		fail("HTTP 302 Found redirects to another host: http://portal.example.test/login").because("captive-portal"),
		fail("redirects to another host").because("captive-portal"),
		pass().showing("HTTP 200 OK, body matches"),
		fail(`HTTP 200 OK, but the body (3 bytes) does not match "Success"`).because("http-body"),
		fail(`HTTP 200 OK is an HTML page with a form (a login page?) where the body should match "Success"`).because("captive-portal"),
		fail(`does not match "version 1"`).because("http-body"),
		pass().showing("body matches"),
		pass().showing("HTTP 200 OK from 10.213.1.1:443 over IPv4"),
		fail("certificate signed by an unknown authority").because("tls-untrusted").hinting("give its file with ca="),
		fail("certificate signed by an unknown authority").because("tls-untrusted"),
		pass().showing("(ca=" + caFile + ")"),
		fail("certificate signed by an unknown authority").because("tls-untrusted"),
		fail("tls: certificate for server.test expired at").because(expiredCause),
		fail("tls: certificate for server.test expired at").because(expiredCause),
		fail("response headers larger than 100 KiB, the most netready reads").because("response-too-large"),
		fail("response headers larger than 100 KiB, the most netready reads").because("response-too-large"),
		pass().showing("body matches"),
		fail(`HTTP 200 OK, but the body (65536 bytes) does not match "tail"`).because("http-body"),
	}
	if !synced {
		wants[18] = wants[18].hinting("the clock is not synchronised yet")
		wants[18].errs = append(wants[18].errs, "and the system clock, which reads")
	}
	checkTargets(t, l.client, opts{flags: []string{"--probe-timeout", "10s"}}, targets, wants)
}
