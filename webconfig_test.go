package main

// watch --web-config-file: /metrics and /ready over TLS, with client
// certificates and bcrypt basic auth, in exporter-toolkit's format, as a
// real Prometheus scrapes them; a wrong password, a missing client
// certificate and plain HTTP refused.

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// tlsClient is an HTTP client inside ns that trusts ca and presents cert,
// if not nil.
func tlsClient(ns *netnstest.NS, ca *certtest.CA, cert *tls.Certificate) *http.Client {
	c := ns.HTTPClient()
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// getAuth is get with basic auth.
func getAuth(c *http.Client, url, user, pass string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.SetBasicAuth(user, pass)
	return statusBody(c.Do(req))
}

// TestIntegrationMetricsWebConfig: with --web-config-file naming TLS with
// required client certificates and a bcrypt password, Debian's Prometheus
// scrapes netready over TLS with its certificate and the password, and
// sees a break as it happens; its jobs with a wrong password and without
// a client certificate are down. A Go client with the certificate and the
// password gets /ready; with a wrong password, 401; without a certificate,
// or over plain HTTP, nothing.
func TestIntegrationMetricsWebConfig(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dir := t.TempDir()
	ca := certtest.NewCA(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	serverCert, serverKey := certtest.WritePair(t, ca.Valid(t, "127.0.0.1"), dir, "server")
	client := ca.Client(t, "prometheus")
	clientCert, clientKey := certtest.WritePair(t, client, dir, "client")
	const password = "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte(fmt.Sprintf(`tls_server_config:
  cert_file: %s
  key_file: %s
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: %s
basic_auth_users:
  prometheus: %s
`, filepath.Base(serverCert), filepath.Base(serverKey), filepath.Base(caFile), hash)), 0o644); err != nil {
		t.Fatal(err)
	}

	p := startNetready(t, l.client, []string{"NETREADY_WEB_CONFIG_FILE=" + webConfig}, "watch", "--json", "--metrics-listen", metricsAddr, "route:default4")
	p.waitStderr(t, `msg="TLS is enabled."`)

	job := func(name, pass string, cert bool) string {
		s := fmt.Sprintf(`  - job_name: %s
    scheme: https
    tls_config:
      ca_file: %s
`, name, caFile)
		if cert {
			s += fmt.Sprintf("      cert_file: %s\n      key_file: %s\n", clientCert, clientKey)
		}
		return s + fmt.Sprintf(`    basic_auth:
      username: prometheus
      password: %q
    static_configs:
      - targets: [%q]
`, pass, metricsAddr)
	}
	prom := startPrometheusScraping(t, l.client, job("netready", password, true)+job("wrongpassword", "Tr0ub4dor&3", true)+job("nocert", password, false))
	poll(t, "netready_ready 1 scraped over TLS", 50*time.Millisecond, func() bool {
		return prom.is(t, `up{job="netready"}`, "1") && prom.is(t, `netready_ready{job="netready"}`, "1")
	})
	l.client.IP(t, "route", "del", "default")
	poll(t, "netready_ready 0 scraped over TLS", 50*time.Millisecond, func() bool {
		return prom.is(t, `netready_ready{job="netready"}`, "0")
	})
	for _, j := range []string{"wrongpassword", "nocert"} {
		poll(t, "job "+j+" down", 50*time.Millisecond, func() bool { return prom.is(t, fmt.Sprintf(`up{job=%q}`, j), "0") })
		if r := prom.query(t, fmt.Sprintf(`netready_ready{job=%q}`, j)); len(r) != 0 {
			t.Errorf("job %s: got netready_ready %v, want nothing scraped", j, r)
		}
	}

	base := "https://" + metricsAddr
	withCert := tlsClient(l.client, ca, &client)
	if code, body := getAuth(withCert, base+"/ready", "prometheus", password); code != 503 || !strings.Contains(body, "route:default4 no-route") {
		t.Errorf("/ready with the certificate and the password: got %d %q, want 503 naming route:default4", code, body)
	}
	if code, body := getAuth(withCert, base+"/metrics", "prometheus", "wrong"); code != 401 {
		t.Errorf("/metrics with a wrong password: got %d %q, want 401", code, body)
	}
	if code, body := get(withCert, base+"/metrics"); code != 401 {
		t.Errorf("/metrics without a password: got %d %q, want 401", code, body)
	}
	if code, body := getAuth(tlsClient(l.client, ca, nil), base+"/metrics", "prometheus", password); code != 0 || !strings.Contains(body, "certificate") {
		t.Errorf("/metrics without a client certificate: got %d %q, want the handshake refused", code, body)
	}
	if code, body := getAuth(l.client.HTTPClient(), "http://"+metricsAddr+"/metrics", "prometheus", password); code == 200 || strings.Contains(body, "netready_ready") {
		t.Errorf("/metrics over plain HTTP: got %d %q, want no metrics", code, body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
}
