package probe

import (
	"cmp"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
)

// TestTLS probes tls:// targets against TLS servers on 127.0.0.1 whose
// certificates are trusted, untrusted, not yet valid or expired, and
// against servers that do not speak TLS.
func TestTLS(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t)
	other := certtest.NewCA(t)
	now := time.Now()
	day := 24 * time.Hour
	valid := tlsServer(t, ca.Leaf(t, now.Add(-day), now.Add(day), "127.0.0.1", "::1"))
	early := tlsServer(t, ca.Leaf(t, now.Add(day), now.Add(2*day), "127.0.0.1"))
	expired := tlsServer(t, ca.Leaf(t, now.Add(-2*day), now.Add(-day), "127.0.0.1"))
	ssh := plainServer(t, "SSH-2.0-OpenSSH_9.6\r\n", false)
	hangup := plainServer(t, "", false)
	// A plain-HTTP server answers a ClientHello with a status line, or,
	// taking it for an HTTP/0.9 request, with a page alone (Python's).
	http11 := plainServer(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", false)
	http09 := plainServer(t, "<!DOCTYPE HTML>\n<html lang=\"en\"><head><title>Error response</title></head></html>\n", false)
	reset := plainServer(t, "", true)
	_, mute, _ := net.SplitHostPort(muteServer(t))
	_, dead, _ := net.SplitHostPort(deadTCPPort(t))

	tests := []struct {
		name    string
		target  string
		hosts   string
		roots   *x509.CertPool
		timeout time.Duration
		clock   func() (clockState, error) // nil: synchronised
		want    want                       // VALID, EARLY, EXPIRED, SSH, HANGUP, RESET, MUTE and DEAD are those servers' ports
	}{
		{
			name:   "trusted",
			target: "tls://127.0.0.1:VALID",
			roots:  ca.Pool(),
			want:   want{ok: true, detail: "TLS 1.3, certificate for 127.0.0.1 valid until " + now.Add(day).UTC().Format(time.DateOnly), phases: []string{"connect", "tls"}},
		},
		{
			name:   "host name not in the certificate",
			target: "tls://wrong.test:VALID",
			hosts:  "127.0.0.1 wrong.test\n",
			roots:  ca.Pool(),
			want:   want{err: []string{"tls: x509: certificate is not valid for any names, but wanted to match wrong.test"}, phases: []string{"resolve", "connect", "tls"}},
		},
		{
			name:   "untrusted",
			target: "tls://127.0.0.1:VALID",
			roots:  other.Pool(),
			want: want{
				err:  []string{`tls: certificate signed by an unknown authority (issuer "netready test CA")`},
				hint: "point SSL_CERT_FILE at it",
			},
		},
		{
			name:   "system roots",
			target: "tls://127.0.0.1:VALID",
			want:   want{err: []string{"tls: certificate signed by an unknown authority"}, hint: "SSL_CERT_FILE"},
		},
		{
			name:   "not yet valid",
			target: "tls://127.0.0.1:EARLY",
			roots:  ca.Pool(),
			want: want{
				err:   []string{"tls: certificate for 127.0.0.1 is not valid until " + certTime(now.Add(day))},
				cause: CauseTLSClock,
				hint:  "the kernel says it is synchronised: is the certificate issued for the future",
			},
		},
		{
			name:   "not yet valid while the clock is not synchronised",
			target: "tls://127.0.0.1:EARLY",
			roots:  ca.Pool(),
			clock:  unsyncedClock,
			want: want{
				err:   []string{"tls: certificate for 127.0.0.1 is not valid until " + certTime(now.Add(day)), "and the system clock, which reads", "is not synchronised (adjtimex: maximum error 16s, STA_UNSYNC set)"},
				cause: CauseTLSClock,
				hint:  "the clock is not synchronised yet: is an NTP client",
			},
		},
		{
			name:   "expired while the clock is not synchronised",
			target: "tls://127.0.0.1:EXPIRED",
			roots:  ca.Pool(),
			clock:  unsyncedClock,
			want: want{
				err:   []string{"tls: certificate for 127.0.0.1 expired at " + certTime(now.Add(-day)), "is not synchronised (adjtimex: maximum error 16s"},
				cause: CauseTLSClock,
				hint:  "the clock is not synchronised yet",
			},
		},
		{
			name:   "expired",
			target: "tls://127.0.0.1:EXPIRED",
			roots:  ca.Pool(),
			want: want{
				err:   []string{"tls: certificate for 127.0.0.1 expired at " + certTime(now.Add(-day))},
				cause: CauseTLSExpired,
				hint:  "if the certificate is still current, the clock is wrong",
			},
		},
		{
			name:   "not tls",
			target: "tls://127.0.0.1:SSH",
			roots:  ca.Pool(),
			want:   want{err: []string{"tls handshake: tls: first record does not look like a TLS handshake"}},
		},
		{
			name:   "plain HTTP: a status line",
			target: "tls://127.0.0.1:HTTP11",
			roots:  ca.Pool(),
			want: want{err: []string{`tls handshake: tls: first record does not look like a TLS handshake (the reply starts "HTTP/": plain HTTP)`},
				cause: CauseTLSFailed, hint: "the port speaks plain HTTP, not TLS: use http://"},
		},
		{
			name:   "plain HTTP: a page alone",
			target: "tls://127.0.0.1:HTTP09",
			roots:  ca.Pool(),
			want:   want{err: []string{`(the reply starts "<!DOC": plain HTTP)`}, cause: CauseTLSFailed, hint: "the port speaks plain HTTP, not TLS: use http://"},
		},
		{
			name:   "https:// to a page alone",
			target: "https://127.0.0.1:HTTP09/",
			roots:  ca.Pool(),
			want:   want{err: []string{`plain HTTP`}, cause: CauseTLSFailed, hint: "the port speaks plain HTTP, not TLS: use http://"},
		},
		{
			name:   "hangs up",
			target: "tls://127.0.0.1:HANGUP",
			roots:  ca.Pool(),
			want:   want{err: []string{"tls handshake: EOF"}},
		},
		{
			name:   "resets",
			target: "tls://127.0.0.1:RESET",
			roots:  ca.Pool(),
			want:   want{err: []string{"tls handshake: connection reset by peer"}},
		},
		{
			name:    "never answers",
			target:  "tls://127.0.0.1:MUTE",
			roots:   ca.Pool(),
			timeout: failTimeout,
			want:    want{err: []string{"tls handshake: i/o timeout"}, phases: []string{"connect", "tls"}},
		},
		{
			name:   "closed port",
			target: "tls://127.0.0.1:DEAD",
			roots:  ca.Pool(),
			want:   want{err: []string{"connect 127.0.0.1:DEAD: connection refused"}, hint: "nothing is listening"},
		},
	}
	sub := strings.NewReplacer("VALID", valid, "EARLY", early, "EXPIRED", expired, "SSH", ssh, "HTTP11", http11, "HTTP09", http09,
		"HANGUP", hangup, "RESET", reset, "MUTE", mute, "DEAD", dead)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := loopbackEnv(t, noResolvers, tc.hosts)
			env.RootCAs = tc.roots
			if tc.clock != nil {
				env.clock = tc.clock
			}
			r := probeWithin(t, env, sub.Replace(tc.target), cmp.Or(tc.timeout, passTimeout))
			tc.want.subst(sub).check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true for a loopback server")
			}
		})
	}
}

// certTime is how an error names a time that a certificate holds (to the
// second, in UTC).
func certTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// plainServer accepts TCP connections on 127.0.0.1 until the test ends.
// It reads what the client sends first (a TLS ClientHello), writes greeting
// and closes the connection, with a reset if reset is set. It returns the
// port.
func plainServer(t testing.TB, greeting string, reset bool) string {
	t.Helper()
	l := serve(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 64<<10))
		io.WriteString(c, greeting)
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
	})
	return port(t, l.Addr())
}
