package main

// watch --metrics-listen: a real Prometheus scrapes netready through
// breaks and repairs; /ready with a real HTTP client; promtool on the
// exposition; listen errors and an address that appears late.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// metricsAddr is where netready serves metrics in the tests: the
// packaged unit's default, on the loopback of the lab's client namespace.
const metricsAddr = "127.0.0.1:10213"

// promServer is a Prometheus server the test runs on the loopback of a
// namespace, with its own configuration and data under a temporary
// directory; it is killed when the test ends.
type promServer struct {
	p    *proc
	c    *http.Client
	base string
}

// startPrometheus starts Debian's prometheus in ns, on 127.0.0.1:19090,
// scraping target (job "netready") every second and evaluating the alert
// rules netready ships (packaging/examples/prometheus) every second.
func startPrometheus(t *testing.T, ns *netnstest.NS, target string) *promServer {
	t.Helper()
	return startPrometheusScraping(t, ns, fmt.Sprintf(`  - job_name: netready
    static_configs:
      - targets: [%q]
`, target))
}

// startPrometheusScraping is startPrometheus with scrape, the entries of
// its scrape_configs.
func startPrometheusScraping(t *testing.T, ns *netnstest.NS, scrape string) *promServer {
	t.Helper()
	bin := needTool(t, "prometheus")
	rules, err := filepath.Abs(filepath.Join("packaging", "examples", "prometheus", "netready.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
%s`, rules, scrape)), 0o644); err != nil {
		t.Fatal(err)
	}
	const listen = "127.0.0.1:19090"
	s := &promServer{
		p: startProc(t, ns, nil, bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+listen, "--log.level=warn"),
		c:    ns.HTTPClient(),
		base: "http://" + listen,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus:\n%s", s.p.stderr.String())
		}
	})
	poll(t, "prometheus ready", 50*time.Millisecond, func() bool {
		select {
		case <-s.p.done:
			t.Fatalf("prometheus exited: %v\n%s", s.p.cmd.ProcessState, s.p.stderr.String())
		default:
		}
		code, _ := get(s.c, s.base+"/-/ready")
		return code == 200
	})
	return s
}

// sample is one series of a query's result.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

func (s sample) value() string { v, _ := s.Value[1].(string); return v }

func number(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// query runs an instant query through Prometheus's HTTP API.
func (s *promServer) query(t *testing.T, q string) []sample {
	t.Helper()
	code, body := get(s.c, s.base+"/api/v1/query?query="+url.QueryEscape(q))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" {
		t.Fatalf("query %s: %d %s", q, code, body)
	}
	return r.Data.Result
}

// is reports whether query q gives exactly one series, of value v.
func (s *promServer) is(t *testing.T, q, v string) bool {
	t.Helper()
	r := s.query(t, q)
	return len(r) == 1 && r[0].value() == v
}

// alert is an alert Prometheus evaluates, firing or pending.
type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func (s *promServer) alerts(t *testing.T) []alert {
	t.Helper()
	code, body := get(s.c, s.base+"/api/v1/alerts")
	var r struct {
		Data struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("alerts: %d %s", code, body)
	}
	return r.Data.Alerts
}

// transitions are the JSON lines watch --json has printed so far.
func transitions(t *testing.T, p *proc) []transition {
	t.Helper()
	var trs []transition
	for _, line := range splitLines(p.stdout.String()) {
		var tr transition
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("watch printed %q: %v", line, err)
		}
		trs = append(trs, tr)
	}
	return trs
}

// tcpServer accepts and closes connections on addr in ns until stop.
func tcpServer(t *testing.T, ns *netnstest.NS, addr string) (stop func()) {
	t.Helper()
	ln := ns.Listen(t, addr)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return func() { ln.Close() }
}

// TestIntegrationMetricsPrometheus: a real Prometheus server, on the
// loopback of the client namespace, scrapes netready watch every second
// while the test breaks the network and repairs it: the default route
// goes (three times), then the endpoint's service stops. Through
// Prometheus's query API, netready_ready and netready_target_up go
// 1 -> 0 -> 1 with the right netready_target_cause, the shipped alert
// rules' NetreadyNotReady is pending with the failing target and cause in
// its description, the counters count, and the Go and process collectors
// are there. It logs how long after each break Prometheus first shows
// netready_ready 0.
func TestIntegrationMetricsPrometheus(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	const (
		route    = "route:default4"
		endpoint = "tcp://" + serverIP4 + ":8080"
	)
	stopEndpoint := tcpServer(t, l.server, serverIP4+":8080")
	p := startNetready(t, l.client, nil, "watch", "--json", "--metrics-listen", metricsAddr,
		"--recheck", "1s", "--backoff-initial", "1s", "--probe-timeout", "1s", route, endpoint)
	prom := startPrometheus(t, l.client, metricsAddr)

	up := func(target string) string { return fmt.Sprintf(`netready_target_up{job="netready",target=%q}`, target) }
	cause := func(target string) string {
		return fmt.Sprintf(`netready_target_cause{job="netready",target=%q}`, target)
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		poll(t, what+" in Prometheus", 50*time.Millisecond, cond)
	}
	ready := func() {
		t.Helper()
		until("netready_ready 1", func() bool {
			return prom.is(t, `netready_ready{job="netready"}`, "1") && prom.is(t, up(route), "1") && prom.is(t, up(endpoint), "1") &&
				len(prom.query(t, `netready_target_cause{job="netready"}`)) == 0
		})
	}
	// broken breaks the network with do and waits until Prometheus shows
	// netready_ready 0 with target failing for cause, the other passing;
	// it returns how long that took, and how long netready took to print
	// the transition.
	broken := func(do func(), target, cause_, other string) (prometheus, netready time.Duration) {
		t.Helper()
		n := len(transitions(t, p))
		start := time.Now()
		do()
		until("netready_ready 0", func() bool { return prom.is(t, `netready_ready{job="netready"}`, "0") })
		prometheus = time.Since(start)
		until(target+" failing with "+cause_, func() bool {
			r := prom.query(t, cause(target))
			return len(r) == 1 && r[0].Metric["cause"] == cause_ && r[0].value() == "1" && prom.is(t, up(target), "0") && prom.is(t, up(other), "1")
		})
		trs := transitions(t, p)
		if len(trs) <= n || trs[n].Ready {
			t.Fatalf("after the break: got transitions %+v, want a new one, not ready", trs)
		}
		return prometheus, trs[n].Time.Sub(start)
	}

	ready()
	var figures []string
	for i := range 3 {
		// ready() returns just after a scrape: a break then waits a whole
		// scrape interval to be seen. Breaks 0, 1/3 and 2/3 of the
		// interval later sample the phases between scrapes.
		phase := time.Duration(i) * time.Second / 3
		time.Sleep(phase)
		ps, ns := broken(func() { l.client.IP(t, "route", "del", "default") }, route, "no-route", endpoint)
		figures = append(figures, fmt.Sprintf("route deleted %s after a scrape showed ready: netready %s, Prometheus %s",
			phase.Round(time.Millisecond), ns.Round(time.Millisecond), ps.Round(time.Millisecond)))
		if i == 0 {
			// The shipped rules, on the real metrics: pending (for: 5m),
			// naming the failing target and its cause.
			until("NetreadyNotReady pending", func() bool {
				for _, a := range prom.alerts(t) {
					if a.Labels["alertname"] == "NetreadyNotReady" && a.State == "pending" {
						if d := a.Annotations["description"]; !strings.Contains(d, route+" (no-route)") || strings.Contains(d, endpoint) {
							t.Fatalf("NetreadyNotReady's description %q: want %s (no-route), and not %s", d, route, endpoint)
						}
						return true
					}
				}
				return false
			})
		}
		l.client.IP(t, "route", "add", "default", "via", serverIP4)
		ready()
	}
	ps, ns := broken(stopEndpoint, endpoint, "port-closed", route)
	figures = append(figures, fmt.Sprintf("service stopped: netready %s (found at a recheck, every 1s), Prometheus %s", ns.Round(time.Millisecond), ps.Round(time.Millisecond)))
	tcpServer(t, l.server, serverIP4+":8080")
	ready()
	for _, f := range figures {
		t.Logf("break -> netready_ready 0 (scrape interval 1s): %s", f)
	}

	for _, c := range []struct{ q, want string }{
		{`netready_transitions_total{job="netready",target="route:default4"}`, "6"},
		{`netready_transitions_total{job="netready",target="tcp://10.213.1.1:8080"}`, "2"},
		{`changes(netready_last_transition_timestamp_seconds{job="netready"}[5m])`, "8"},
	} {
		if r := prom.query(t, c.q); len(r) != 1 || r[0].value() != c.want {
			t.Errorf("%s: got %v, want %s", c.q, r, c.want)
		}
	}
	if r := prom.query(t, `netready_network_changes_total{job="netready"}`); len(r) != 1 || number(t, r[0].value()) < 6 {
		t.Errorf("netready_network_changes_total: got %v, want 6 or more (a route deleted or added, 6 times)", r)
	}
	for _, q := range []string{`go_goroutines{job="netready"}`, `process_start_time_seconds{job="netready"}`, `netready_target_latency_seconds{job="netready",target="route:default4"}`} {
		if r := prom.query(t, q); len(r) != 1 {
			t.Errorf("%s: got %v, want one series", q, r)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
}

// TestIntegrationMetricsReady: /ready, asked by a real HTTP client, is 503
// naming each failing target and its cause while not ready, and 200 once
// ready; /metrics answers 200 throughout, and promtool check metrics finds
// nothing to say about it.
func TestIntegrationMetricsReady(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	const endpoint = "tcp://" + serverIP4 + ":8080"
	p := startNetready(t, l.client, nil, "watch", "--metrics-listen", metricsAddr, "--backoff-initial", "1s", "route:default4", endpoint)
	c := l.client.HTTPClient()
	base := "http://" + metricsAddr
	const notReady = "not ready: 1 of 2 targets fail\n" +
		"tcp://10.213.1.1:8080 port-closed: connect 10.213.1.1:8080: connection refused\n"
	poll(t, "/ready 503 naming the endpoint", 20*time.Millisecond, func() bool {
		code, body := get(c, base+"/ready")
		return code == 503 && body == notReady
	})
	code, body := get(c, base+"/metrics")
	if code != 200 || !strings.Contains(body, "\nnetready_ready 0\n") ||
		!strings.Contains(body, "\nnetready_target_cause{cause=\"port-closed\",target=\"tcp://10.213.1.1:8080\"} 1\n") {
		t.Errorf("/metrics while not ready: got %d\n%s", code, body)
	}
	promtoolCheckMetrics(t, "/metrics", body)

	tcpServer(t, l.server, serverIP4+":8080") // found at the next re-check, 1s
	poll(t, "/ready 200", 20*time.Millisecond, func() bool {
		code, body := get(c, base+"/ready")
		return code == 200 && body == "ready\n"
	})
	code, body = get(c, base+"/metrics")
	if code != 200 || !strings.Contains(body, "\nnetready_ready 1\n") || strings.Contains(body, "netready_target_cause{") {
		t.Errorf("/metrics once ready: got %d\n%s", code, body)
	}
	promtoolCheckMetrics(t, "/metrics", body)
	if code, body := get(c, base+"/"); code != 200 || !strings.Contains(body, "/ready") {
		t.Errorf("/: got %d %q", code, body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
}

// TestIntegrationMetricsListen: a port in use ends watch at once, exit 1,
// with a message naming the flag and the error, before any probing; an
// address the host does not have yet is listened on anyway, and answers
// once it is added (a DHCP address at boot); an empty
// NETREADY_METRICS_LISTEN serves nothing.
func TestIntegrationMetricsListen(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)

	t.Run("port in use", func(t *testing.T) {
		l.client.Listen(t, metricsAddr)
		out := netready(t, l.client, opts{}, "watch", "--metrics-listen", metricsAddr, "route:default4")
		const want = "netready: --metrics-listen 127.0.0.1:10213: listen tcp 127.0.0.1:10213: bind: address already in use\n"
		if out.code != 1 || out.stderr != want || out.stdout != "" {
			t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1, nothing on stdout (no round), stderr %q", out.code, out.stdout, out.stderr, want)
		}
	})

	t.Run("address not there yet", func(t *testing.T) {
		const addr = "10.213.1.50:10213"
		p := startNetready(t, l.client, nil, "watch", "--metrics-listen", addr, "route:default4")
		p.waitLog(t, "the metrics address is not one of this host's (yet): /metrics and /ready answer once it is", "address", addr)
		p.waitLog(t, "serving metrics", "address", addr)
		l.client.IP(t, "addr", "add", "10.213.1.50/32", "dev", "lo")
		c := l.client.HTTPClient()
		poll(t, "/ready on the new address", 20*time.Millisecond, func() bool {
			code, body := get(c, "http://"+addr+"/ready")
			return code == 200 && body == "ready\n"
		})
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Errorf("exit code: got %d, want 0\n%s", code, p)
		}
	})

	t.Run("empty", func(t *testing.T) {
		p := startNetready(t, l.client, []string{"NETREADY_METRICS_LISTEN="}, "watch", "route:default4")
		poll(t, "the first transition", 5*time.Millisecond, func() bool { return strings.Contains(p.stdout.String(), " ready") })
		if code, body := get(l.client.HTTPClient(), "http://"+metricsAddr+"/metrics"); code != 0 {
			t.Errorf("got %d %q from %s, want nothing listening", code, body, metricsAddr)
		}
		if strings.Contains(p.stderr.String(), "serving metrics") {
			t.Errorf("stderr: %s", p.stderr.String())
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.wait(t)
	})
}
