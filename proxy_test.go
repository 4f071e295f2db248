package main

// http(s) targets through a proxy: Debian's tinyproxy in the server
// namespace, which allows the client, denies it, asks it for credentials,
// or is not there at all.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/roottest"
)

// tinyproxy runs Debian's tinyproxy (package tinyproxy-bin) in the lab's
// server namespace on serverIP4:port, with its configuration under a
// temporary directory plus the lines of extra; it is stopped when the test
// ends. The test fails without it.
func (l *lab) tinyproxy(t *testing.T, port int, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Fatalf("tinyproxy not found (apt-get install tinyproxy-bin; make deps does): %v", err)
	}
	conf := filepath.Join(t.TempDir(), "tinyproxy.conf")
	lines := append([]string{
		fmt.Sprintf("Port %d", port),
		"Listen " + serverIP4,
		"Timeout 10",
		"MaxClients 16",
		"LogLevel Error",
	}, extra...)
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.server.Command(ctx, bin, "-d", "-c", conf)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	addr := fmt.Sprintf("%s:%d", serverIP4, port)
	poll(t, "tinyproxy listening on "+addr, 5*time.Millisecond, func() bool {
		o, _ := l.server.Command(context.Background(), "ss", "-Hltn", "src", addr).Output()
		return strings.Contains(string(o), addr) || cmd.ProcessState != nil
	})
	if cmd.ProcessState != nil {
		t.Fatalf("tinyproxy exited: %s", out.String())
	}
	return "http://" + addr
}

func TestIntegrationProxy(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	// The origin: http on :80, https on :443 with a private CA. The proxy
	// resolves server.test with the server namespace's hosts file.
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("/ok", ok)
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	l.serveHTTP(t, serverIP4+":80", mux, nil)
	ca := certtest.NewCA(t)
	cert := ca.Valid(t, "server.test")
	l.serveHTTP(t, serverIP4+":443", mux, &cert)
	caFile := ca.WriteFile(t)
	l.server.WriteEtc(t, "hosts", serverIP4+" server.test\n")
	l.server.WriteEtc(t, "resolv.conf", "nameserver 127.0.0.1\n")
	// Only the proxy reaches the origin: the client's own packets to it
	// are dropped, so a target that passes went through the proxy.
	l.nft(t, `table inet netready_egress {
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr 10.213.1.2 tcp dport { 80, 443 } drop
	}
}
`)
	allowed := l.tinyproxy(t, 8888, "Allow "+clientIP4)
	denied := l.tinyproxy(t, 8889, "Allow 10.213.1.77")
	auth := l.tinyproxy(t, 8891, "Allow "+clientIP4, "BasicAuth user secret")
	dead := "http://" + serverIP4 + ":8890" // nothing listens: refused

	https := "https://server.test/ok?ca=" + caFile
	tests := []struct {
		name    string
		env     []string
		targets []string
		wants   []want
	}{
		{
			name:    "from the environment",
			env:     []string{"HTTP_PROXY=" + allowed, "HTTPS_PROXY=" + allowed},
			targets: []string{"http://server.test/ok", https, "http://server.test/ok?proxy=none", "http://server.test/forbidden"},
			wants: []want{
				pass().showing("HTTP 200 OK through proxy " + allowed),
				pass().showing("HTTP 200 OK through proxy " + allowed),
				fail("no connection before the probe timed out").because("filtered"),
				// The origin's own 403, forwarded by the proxy (with a
				// Via header): not the proxy's failure.
				fail("HTTP 403 Forbidden, want status 200-299", "(through proxy "+allowed+")").because("http-status"),
			},
		},
		{
			name:    "lower-case variables",
			env:     []string{"http_proxy=" + allowed, "https_proxy=" + allowed},
			targets: []string{"http://server.test/ok", https},
			wants:   []want{pass().showing("through proxy " + allowed), pass().showing("through proxy " + allowed)},
		},
		{
			name:    "NO_PROXY",
			env:     []string{"HTTP_PROXY=" + allowed, "HTTPS_PROXY=" + allowed, "NO_PROXY=server.test"},
			targets: []string{"http://server.test/ok", "http://server.test/ok?proxy=" + allowed},
			wants:   []want{fail("no connection before the probe timed out").because("filtered"), pass().showing("through proxy " + allowed)},
		},
		{
			name:    "explicit proxies",
			targets: []string{"http://server.test/ok?proxy=" + allowed, https + "&proxy=" + allowed, "http://server.test/ok"},
			wants:   []want{pass().showing("through proxy " + allowed), pass().showing("through proxy " + allowed), fail("no connection before the probe timed out").because("filtered")},
		},
		{
			name:    "denied",
			targets: []string{"http://server.test/ok?proxy=" + denied, https + "&proxy=" + denied},
			wants: []want{
				fail("proxy " + denied + " answered HTTP 403").because("proxy-failed").hinting("the proxy refused"),
				fail("proxy " + denied + " answered CONNECT server.test:443 with HTTP 403").because("proxy-failed"),
			},
		},
		{
			name:    "denied, from the environment",
			env:     []string{"HTTPS_PROXY=" + denied},
			targets: []string{https},
			wants:   []want{fail("proxy " + denied + " answered CONNECT server.test:443 with HTTP 403").because("proxy-failed")},
		},
		{
			name: "credentials",
			targets: []string{
				"http://server.test/ok?proxy=" + auth, https + "&proxy=" + auth,
				"http://server.test/ok?proxy=http://user:secret@" + strings.TrimPrefix(auth, "http://"),
				https + "&proxy=http://user:secret@" + strings.TrimPrefix(auth, "http://"),
			},
			wants: []want{
				fail("answered HTTP 407 Proxy Authentication Required").because("proxy-failed"),
				fail("answered CONNECT server.test:443 with HTTP 407").because("proxy-failed"),
				pass().showing("through proxy http://user:xxxxx@"),
				pass().showing("through proxy http://user:xxxxx@"),
			},
		},
		{
			name:    "dead",
			env:     []string{"HTTP_PROXY=" + dead, "HTTPS_PROXY=" + dead},
			targets: []string{"http://server.test/ok", https, "http://server.test/ok?proxy=http://10.213.1.77:3128"},
			wants: []want{
				fail("proxy " + dead + ": connect 10.213.1.1:8890: connection refused").because("proxy-failed"),
				fail("proxy " + dead + ": connect 10.213.1.1:8890: connection refused").because("proxy-failed"),
				fail("proxy http://10.213.1.77:3128: no connection before the probe timed out").because("proxy-failed"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkTargets(t, l.client, opts{env: tt.env, flags: []string{"--probe-timeout", (2 * time.Second).String()}}, tt.targets, tt.wants)
		})
	}
}
