package main

// tcp, http, https and tls targets against real servers, and servers that misbehave.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

func TestIntegrationTCPHTTPTLS(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.server.Listen(t, serverIP4+":8080")
	l.server.Listen(t, "["+serverIP6+"]:8080")

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/portal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://login.portal.test/", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	l.serveHTTP(t, serverIP4+":80", mux, nil)

	ca := certtest.NewCA(t)
	valid := ca.Valid(t, "server.test", serverIP4)
	notYet := ca.Leaf(t, time.Now().Add(48*time.Hour), time.Now().Add(72*time.Hour), "server.test")
	l.serveHTTP(t, serverIP4+":443", mux, &valid)
	l.serveHTTP(t, serverIP4+":8443", mux, &notYet)
	caEnv := []string{"SSL_CERT_FILE=" + ca.WriteFile(t)}

	tests := []struct {
		name string
		env  []string
		// patient is for targets that must not time out: a TLS handshake
		// under the race detector on a loaded machine can take over 1s.
		patient bool
		targets []string
		wants   []want
	}{
		{
			name: "tcp",
			targets: []string{
				"tcp://10.213.1.1:8080", "tcp://server.test:8080", "tcp://svc.test:8080",
				"tcp://[fd00:213::1]:8080", "tcp://server6.test:8080", "tcp://10.213.1.1:8081",
			},
			wants: []want{pass(), pass(), pass(), pass(), pass(), fail("connect 10.213.1.1:8081: connection refused")},
		},
		{
			name:    "tcp to a host that does not answer",
			targets: []string{"tcp://10.213.1.77:80"},
			wants:   []want{fail("connect 10.213.1.77:80")},
		},
		{
			name:    "http",
			targets: []string{"http://10.213.1.1/ok", "http://server.test/down", "http://server.test/portal", "http://server.test/hang"},
			wants: []want{
				pass(),
				fail("HTTP 503 Service Unavailable"),
				fail("redirects to another host: http://login.portal.test/"),
				fail("no response headers before the probe timed out"),
			},
		},
		{
			name:    "https and tls with the CA",
			patient: true,
			env:     caEnv,
			targets: []string{"https://server.test/ok", "https://10.213.1.1/ok", "tls://server.test:443", "tls://server.test:8443", "https://server.test:8443/ok"},
			wants:   []want{pass(), pass(), pass(), fail("certificate for server.test is not valid until"), fail("is not valid until")},
		},
		{
			name:    "https without the CA",
			patient: true,
			targets: []string{"https://server.test/ok", "tls://server.test:443"},
			wants:   []want{fail("certificate signed by an unknown authority"), fail("certificate signed by an unknown authority")},
		},
		{
			name:    "tls to a server that does not speak it",
			patient: true,
			env:     caEnv,
			targets: []string{"tls://server.test:80"},
			wants:   []want{fail("tls handshake")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags := fast
			if tt.patient {
				flags = []string{"--probe-timeout", "10s"}
			}
			checkTargets(t, l.client, opts{env: tt.env, flags: flags}, tt.targets, tt.wants)
		})
	}
}

// TestIntegrationEndpointFaults: endpoints that drop SYNs, and that accept and reset.
func TestIntegrationEndpointFaults(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	// Port 81 has a listener, but every packet to it is dropped before it
	// gets there: no reply to the SYN, no RST, no ICMP.
	l.server.Listen(t, serverIP4+":81")
	l.nft(t, `table inet netready_fault {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 81 drop
	}
}
`)
	l.resetServer(t, serverIP4+":82", 0)
	l.resetServer(t, serverIP4+":83", 200*time.Millisecond)
	l.server.Listen(t, serverIP4+":8080") // accepts, never speaks

	t.Run("check", func(t *testing.T) {
		t.Parallel()
		targets := []string{
			"tcp://10.213.1.1:81",
			"http://10.213.1.1:81/",
			// Port 83 resets 200ms after accepting. The handshake is
			// complete by then, which is all tcp:// asks...
			"tcp://10.213.1.1:83",
			// ...but what needs the server to speak fails.
			"http://10.213.1.1:83/",
			"tls://10.213.1.1:83",
			// Port 82 resets at once: the reset may even beat the
			// client's check that connect(2) completed, so only the
			// cause is asserted, not the step.
			"http://10.213.1.1:82/",
			"tls://10.213.1.1:82",
			// Port 8080 accepts and never speaks.
			"https://10.213.1.1:8080/",
		}
		wants := []want{
			fail("connect 10.213.1.1:81: i/o timeout"),
			fail("no connection before the probe timed out: i/o timeout"),
			pass(),
			fail("request: connection reset by peer"),
			fail("tls handshake: connection reset by peer"),
			fail("connection reset by peer"),
			fail("connection reset by peer"),
			fail("no TLS handshake before the probe timed out"),
		}
		out := checkTargets(t, l.client, opts{flags: fast}, targets, wants)
		if got, want := out.doc.Targets[3].Error, "request: connection reset by peer"; got != want {
			t.Errorf("%s: got error %q, want %q", targets[3], got, want)
		}
	})
	t.Run("hint for a blackhole", func(t *testing.T) {
		t.Parallel()
		o := netready(t, l.client, opts{}, "check", "--probe-timeout", "1s", "tcp://10.213.1.1:81")
		if o.code != 1 {
			t.Errorf("exit code: got %d, want 1\n%s", o.code, o)
		}
		for _, s := range []string{"FAIL", "connect 10.213.1.1:81: i/o timeout", "hint: no answer at all: a firewall may be dropping the traffic"} {
			if !strings.Contains(o.stdout, s) {
				t.Errorf("report does not contain %q\n%s", s, o)
			}
		}
	})
	t.Run("wait ends at --timeout while a SYN goes unanswered", func(t *testing.T) {
		t.Parallel()
		p := startNetready(t, l.client, nil, "wait", "--timeout", "2s", "--probe-timeout", "30s", "tcp://10.213.1.1:81")
		code := p.wait(t)
		took := p.exited.Sub(p.start)
		t.Logf("wait --timeout 2s with a 30s probe stuck on a SYN: exited after %s", took)
		if code != 1 {
			t.Fatalf("exit code: got %d, want 1\n%s", code, p)
		}
		// 2s is the promise; 10s only keeps a loaded machine from failing
		// the test, and is still far from the 30s probe timeout.
		if took < 2*time.Second || took > 10*time.Second {
			t.Errorf("exited after %s, want soon after --timeout 2s", took)
		}
		for _, s := range []string{"not ready after 2s", "connect 10.213.1.1:81: i/o timeout"} {
			if !strings.Contains(p.stderr.String(), s) {
				t.Errorf("stderr does not contain %q\n%s", s, p)
			}
		}
	})
}
