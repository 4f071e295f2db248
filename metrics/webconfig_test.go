package metrics

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
)

// TestWebConfigExample: the example web configuration the packages ship
// (packaging/examples/netready-watch.service.d/web.yml), with the files it
// names made for the test, checks, and serves over TLS to a client with a
// certificate of its CA and the example's password, "changeme"; a wrong
// password gets 401, no certificate no handshake.
func TestWebConfigExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "packaging", "examples", "netready-watch.service.d", "web.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(config, example, 0o600); err != nil {
		t.Fatal(err)
	}
	ca := certtest.NewCA(t)
	certtest.WritePair(t, ca.Valid(t, "127.0.0.1"), dir, "netready")
	if err := os.WriteFile(filepath.Join(dir, "prometheus-ca.crt"), ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckWebConfig(config); err != nil {
		t.Fatalf("CheckWebConfig: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	t.Cleanup(Serve(ln, h, config, slog.New(slog.DiscardHandler)))

	client := ca.Client(t, "prometheus")
	do := func(cert *tls.Certificate, pass string) (int, error) {
		conf := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			conf.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: conf}} // bcrypt of cost 10 under -race on a loaded machine takes seconds
		req, _ := http.NewRequest(http.MethodGet, "https://"+ln.Addr().String()+"/", nil)
		req.SetBasicAuth("prometheus", pass)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := do(&client, "changeme"); code != 200 {
		t.Errorf("with the certificate and the password: got %d %v, want 200", code, err)
	}
	if code, err := do(&client, "wrong"); code != 401 {
		t.Errorf("with a wrong password: got %d %v, want 401", code, err)
	}
	if code, err := do(nil, "changeme"); err == nil {
		t.Errorf("without a certificate: got %d, want the handshake refused", code)
	}
}
