package probe

import (
	"cmp"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
)

// TestHTTP probes http:// and https:// targets against httptest servers
// on 127.0.0.1.
func TestHTTP(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header.Get("User-Agent"); ua != userAgent {
			http.Error(w, "unexpected User-Agent "+ua, http.StatusBadRequest)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/portal", func(w http.ResponseWriter, r *http.Request) {
		// Not followed: nothing is sent to portal.example.net.
		http.Redirect(w, r, "http://portal.example.net/login?from=netready", http.StatusFound)
	})
	mux.HandleFunc("/nolocation", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) })

	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(mux)
	t.Cleanup(secure.Close)
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected

	ca := certtest.NewCA(t)
	early := httptest.NewUnstartedServer(mux)
	early.TLS = &tls.Config{Certificates: []tls.Certificate{
		ca.Leaf(t, time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour), "127.0.0.1"),
	}}
	early.Config.ErrorLog = log.New(io.Discard, "", 0)
	early.StartTLS()
	t.Cleanup(early.Close)

	mute := muteServer(t)
	dead := deadTCPPort(t)

	tests := []struct {
		name    string
		target  string
		hosts   string
		roots   string // "" for the system's roots, "secure" or "ca" for those servers' CAs
		timeout time.Duration
		want    want // PLAIN, SECURE, EARLY, MUTE and DEAD are replaced by those servers' host:port
	}{
		{
			name:   "200",
			target: "http://PLAIN/ok",
			want:   want{ok: true, detail: "HTTP 200 OK", phases: []string{"connect", "request"}},
		},
		{
			name:   "204",
			target: "http://PLAIN/empty",
			want:   want{ok: true, detail: "HTTP 204 No Content"},
		},
		{
			name:   "host from the hosts file",
			hosts:  "127.0.0.1 web.test\n",
			target: "http://web.test:PLAINPORT/ok",
			want:   want{ok: true, detail: "HTTP 200 OK", phases: []string{"resolve", "connect", "request"}},
		},
		{
			name:   "503",
			target: "http://PLAIN/down",
			want:   want{err: []string{"HTTP 503 Service Unavailable"}},
		},
		{
			name:   "404",
			target: "http://PLAIN/missing",
			want:   want{err: []string{"HTTP 404 Not Found"}},
		},
		{
			name:   "redirect to the same host",
			target: "http://PLAIN/moved",
			want: want{
				err:  []string{"HTTP 302 Found redirects to http://PLAIN/ok"},
				hint: "redirects are not followed: use the final URL as the target",
			},
		},
		{
			name:   "redirect to another host",
			target: "http://PLAIN/portal",
			want: want{
				err:  []string{"HTTP 302 Found redirects to another host: http://portal.example.net/login?from=netready"},
				hint: "captive portal",
			},
		},
		{
			name:   "redirect without a location",
			target: "http://PLAIN/nolocation",
			want:   want{err: []string{"HTTP 302 Found without a usable Location header"}},
		},
		{
			name:    "no response headers",
			target:  "http://MUTE/",
			timeout: mixedTimeout, // the connection must be made before it runs out
			want: want{
				err:    []string{"no response headers before the probe timed out: i/o timeout"},
				phases: []string{"connect"},
			},
		},
		{
			name:    "no TLS handshake",
			target:  "https://MUTE/",
			timeout: mixedTimeout, // the connection must be made before it runs out
			want:    want{err: []string{"no TLS handshake before the probe timed out: i/o timeout"}},
		},
		{
			name:   "closed port",
			target: "http://DEAD/",
			want:   want{err: []string{"connect DEAD: connection refused"}, hint: "nothing is listening on that port"},
		},
		{
			name:   "https with the server's CA",
			target: "https://SECURE/ok",
			roots:  "secure",
			want:   want{ok: true, detail: "HTTP 200 OK", phases: []string{"connect", "tls", "request"}},
		},
		{
			name:   "https without the server's CA",
			target: "https://SECURE/ok",
			want: want{
				err:  []string{`tls: certificate signed by an unknown authority (issuer "O=Acme Co")`},
				hint: "add the CA to the system trust store, give its file with ca=, or point SSL_CERT_FILE at it",
			},
		},
		{
			name:   "https with another CA",
			target: "https://SECURE/ok",
			roots:  "ca",
			want:   want{err: []string{"tls: certificate signed by an unknown authority"}, hint: "SSL_CERT_FILE"},
		},
		{
			name:   "https with a certificate not valid yet",
			target: "https://EARLY/ok",
			roots:  "ca",
			want: want{
				err:  []string{"tls: certificate for 127.0.0.1 is not valid until "},
				hint: "the kernel says it is synchronised",
			},
		},
		{
			name:   "https to an http server",
			target: "https://PLAIN/ok",
			want: want{err: []string{"tls handshake: http: server gave HTTP response to HTTPS client"},
				cause: CauseTLSFailed, hint: "the port speaks plain HTTP, not TLS: use http://"},
		},
		{
			name:   "http to an https server",
			target: "http://SECURE/ok",
			want:   want{err: []string{"HTTP 400 Bad Request"}},
		},
	}
	sub := strings.NewReplacer(
		"PLAINPORT", port(t, plain.Listener.Addr()),
		"PLAIN", plain.Listener.Addr().String(),
		"SECURE", secure.Listener.Addr().String(),
		"EARLY", early.Listener.Addr().String(),
		"MUTE", mute,
		"DEAD", dead,
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := loopbackEnv(t, noResolvers, tc.hosts)
			switch tc.roots {
			case "secure":
				env.RootCAs = secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			case "ca":
				env.RootCAs = ca.Pool()
			}
			r := probeWithin(t, env, sub.Replace(tc.target), cmp.Or(tc.timeout, passTimeout))
			tc.want.subst(sub).check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true for a loopback server")
			}
		})
	}
}

// muteServer accepts connections on 127.0.0.1 and reads from them, but
// never writes, until the test ends. It returns host:port.
func muteServer(t testing.TB) string {
	t.Helper()
	l := serve(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c) // until the client hangs up
	})
	return l.Addr().String()
}

// TestHasForm: hasForm finds what the regular expression (?i)<form[\s>]
// it replaced finds, in the cases a captive portal's page holds and at the
// edges.
func TestHasForm(t *testing.T) {
	re := regexp.MustCompile(`(?i)<form[\s>]`)
	for _, body := range []string{
		`<html><body><form action="/login" method="post">`,
		`<FORM>`, "<Form\tid=x>", "<form\n", "<form\f", "<form\r", "<form ",
		`<form`, `<formation>`, `<forms>`, `< form>`, `<p>form</p>`, `<<form>`,
		`<form-x>`, `</form>`, ``, `<`, `<fo`, `<html>` + strings.Repeat("<p>", 1000) + `<form>`,
		"<form\v>", "<form\u00a0>",
	} {
		if got, want := hasForm([]byte(body)), re.MatchString(body); got != want {
			t.Errorf("hasForm(%q) = %v, want %v", body, got, want)
		}
	}
}

func FuzzHasForm(f *testing.F) {
	re := regexp.MustCompile(`(?i)<form[\s>]`)
	f.Add([]byte(`<form action=x>`))
	f.Add([]byte(`<FoRm>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := hasForm(body), re.Match(body); got != want {
			t.Errorf("hasForm(%q) = %v, want %v", body, got, want)
		}
	})
}
