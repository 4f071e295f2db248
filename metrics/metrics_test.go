package metrics

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

var names = []string{"dns:.", "tcp://db.internal:5432"}

func passing(name string, latency time.Duration) Target {
	return Target{Name: name, Probed: true, OK: true, Latency: latency}
}

func failing(name, cause, err string) Target {
	return Target{Name: name, Probed: true, Latency: time.Second, Cause: cause, Err: err}
}

var t0 = time.Unix(1_800_000_000, 0)

// TestExporter follows one target through an outage whose cause changes,
// and checks the exposition after each step: the cause series of a
// passing target, or of a cause no longer seen, is gone; transitions count
// pass<->fail changes only; the last transition is when netready_ready
// changed.
func TestExporter(t *testing.T) {
	e := New(names, t0)
	steps := []struct {
		name        string
		state       State
		wantChanged bool
		want        string
	}{
		{
			name:        "before any round",
			state:       State{Targets: []Target{{Name: names[0]}, {Name: names[1]}}},
			wantChanged: false,
			want: `
netready_ready 0
netready_last_transition_timestamp_seconds 1.8e+09
netready_network_changes_total 0
netready_transitions_total{target="dns:."} 0
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "first round: both pass",
			state:       State{Ready: true, Targets: []Target{passing(names[0], 2*time.Millisecond), passing(names[1], 3*time.Millisecond)}},
			wantChanged: true,
			want: `
netready_ready 1
netready_last_transition_timestamp_seconds 1.800000001e+09
netready_network_changes_total 0
netready_target_up{target="dns:."} 1
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 0.002
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_transitions_total{target="dns:."} 0
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "a recheck: only latencies change",
			state:       State{Ready: true, Targets: []Target{passing(names[0], 4*time.Millisecond), passing(names[1], 3*time.Millisecond)}},
			wantChanged: false,
			want: `
netready_ready 1
netready_last_transition_timestamp_seconds 1.800000001e+09
netready_network_changes_total 0
netready_target_up{target="dns:."} 1
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 0.004
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_transitions_total{target="dns:."} 0
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "the resolver stops answering after a change",
			state:       State{Events: 1, Targets: []Target{failing(names[0], "resolver-timeout", "i/o timeout"), passing(names[1], 3*time.Millisecond)}},
			wantChanged: true,
			want: `
netready_ready 0
netready_last_transition_timestamp_seconds 1.800000003e+09
netready_network_changes_total 1
netready_target_up{target="dns:."} 0
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 1
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_target_cause{cause="resolver-timeout",target="dns:."} 1
netready_transitions_total{target="dns:."} 1
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "then refuses: the old cause's series is gone",
			state:       State{Events: 1, Targets: []Target{failing(names[0], "resolver-down", "connection refused"), passing(names[1], 3*time.Millisecond)}},
			wantChanged: true,
			want: `
netready_ready 0
netready_last_transition_timestamp_seconds 1.800000003e+09
netready_network_changes_total 1
netready_target_up{target="dns:."} 0
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 1
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_target_cause{cause="resolver-down",target="dns:."} 1
netready_transitions_total{target="dns:."} 1
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "passes again, settling: not ready yet",
			state:       State{Settling: true, Events: 2, Targets: []Target{passing(names[0], time.Millisecond), passing(names[1], 3*time.Millisecond)}},
			wantChanged: true,
			want: `
netready_ready 0
netready_last_transition_timestamp_seconds 1.800000003e+09
netready_network_changes_total 2
netready_target_up{target="dns:."} 1
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 0.001
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_transitions_total{target="dns:."} 2
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
		{
			name:        "settled",
			state:       State{Ready: true, Events: 2, Targets: []Target{passing(names[0], time.Millisecond), passing(names[1], 3*time.Millisecond)}},
			wantChanged: true,
			want: `
netready_ready 1
netready_last_transition_timestamp_seconds 1.800000006e+09
netready_network_changes_total 2
netready_target_up{target="dns:."} 1
netready_target_up{target="tcp://db.internal:5432"} 1
netready_target_latency_seconds{target="dns:."} 0.001
netready_target_latency_seconds{target="tcp://db.internal:5432"} 0.003
netready_transitions_total{target="dns:."} 2
netready_transitions_total{target="tcp://db.internal:5432"} 0
`,
		},
	}
	for i, st := range steps {
		if changed := e.Update(st.state, t0.Add(time.Duration(i)*time.Second)); changed != st.wantChanged {
			t.Errorf("%s: Update reported changed=%v, want %v", st.name, changed, st.wantChanged)
		}
		if got, want := sorted(samples(t, e)), sorted(st.want); got != want {
			t.Errorf("%s: got\n%swant\n%s", st.name, got, want)
		}
	}
}

// samples is e's exposition in the text format without HELP and TYPE
// lines, gathered by a pedantic registry (which checks that Collect
// sends only what Describe announced, consistently).
func samples(t *testing.T, e *Exporter, only ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if len(only) > 0 && !slices.Contains(only, mf.GetName()) {
			continue
		}
		var buf bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(buf.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				b.WriteString(l + "\n")
			}
		}
	}
	return b.String()
}

// sorted is the lines of s, trimmed, sorted, one per line.
func sorted(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestExporterOddNames: a target written twice is shown once (duplicate
// series would make every scrape fail); a name that is not UTF-8 is shown
// with replacement characters instead of making the collector panic.
func TestExporterOddNames(t *testing.T) {
	e := New([]string{"dns:.", "dns:.", "tcp://\xff:1"}, t0)
	e.Update(State{Targets: []Target{passing("dns:.", 0), failing("dns:.", "timeout", "x"), failing("tcp://\xff:1", "other", "x")}}, t0)
	got := samples(t, e, "netready_target_up")
	if want := "netready_target_up{target=\"dns:.\"} 1\nnetready_target_up{target=\"tcp://\uFFFD:1\"} 0\n"; got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// TestHandler serves an Exporter with httptest: /ready says 503 and why
// while not ready and 200 once ready; /metrics answers 200 throughout
// with netready's metrics and the Go and process collectors'.
func TestHandler(t *testing.T) {
	e := New(names, t0)
	srv := httptest.NewServer(Handler(e, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name      string
		state     *State
		wantCode  int
		wantBody  string
		wantReady string // netready_ready's line in /metrics
	}{
		{"before the first round", nil, 503, "not ready: 2 of 2 targets not probed yet\n", "netready_ready 0"},
		{"one fails", &State{Targets: []Target{failing(names[0], "resolver-timeout", `query "." NS: 10.213.1.1:53: i/o timeout`), passing(names[1], 0)}}, 503,
			"not ready: 1 of 2 targets fail\ndns:. resolver-timeout: query \".\" NS: 10.213.1.1:53: i/o timeout\n", "netready_ready 0"},
		{"both fail", &State{Targets: []Target{failing(names[0], "no-route", "no route"), failing(names[1], "no-route", "no route to 10.213.1.1")}}, 503,
			"not ready: 2 of 2 targets fail\ndns:. no-route: no route\ntcp://db.internal:5432 no-route: no route to 10.213.1.1\n", "netready_ready 0"},
		{"settling", &State{Settling: true, Targets: []Target{passing(names[0], 0), passing(names[1], 0)}}, 503,
			"not ready: every target passes; settling\n", "netready_ready 0"},
		{"ready", &State{Ready: true, Targets: []Target{passing(names[0], 0), passing(names[1], 0)}}, 200, "ready\n", "netready_ready 1"},
		{"ready with --any, one failing", &State{Ready: true, Targets: []Target{passing(names[0], 0), failing(names[1], "port-closed", "connection refused")}}, 200,
			"ready\ntcp://db.internal:5432 port-closed: connection refused\n", "netready_ready 1"},
	}
	for _, st := range steps {
		if st.state != nil {
			e.Update(*st.state, t0)
		}
		code, body := get("GET", "/ready")
		if code != st.wantCode || body != st.wantBody {
			t.Errorf("%s: /ready: got %d %q, want %d %q", st.name, code, body, st.wantCode, st.wantBody)
		}
		code, body = get("GET", "/metrics")
		if code != 200 {
			t.Errorf("%s: /metrics: got %d, want 200", st.name, code)
		}
		for _, want := range []string{"\n" + st.wantReady + "\n", "\ngo_goroutines ", "\nprocess_cpu_seconds_total "} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: /metrics has no %q", st.name, strings.TrimSpace(want))
			}
		}
	}
	if code, _ := get("HEAD", "/ready"); code != 200 {
		t.Errorf("HEAD /ready: got %d, want 200", code)
	}
	if code, _ := get("POST", "/ready"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ready: got %d, want 405", code)
	}
	if code, body := get("GET", "/"); code != 200 || !strings.Contains(body, "/metrics") || !strings.Contains(body, "/ready") {
		t.Errorf("/: got %d %q, want 200 and a page naming /metrics and /ready", code, body)
	}
	if code, _ := get("GET", "/debug/vars"); code != 404 {
		t.Errorf("/debug/vars: got %d, want 404 (expvar registers it on http.DefaultServeMux only)", code)
	}
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string // "" for none
	}{
		{"127.0.0.1:10213", ""},
		{"[::1]:10213", ""},
		{"[fe80::1%eth0]:10213", ""},
		{"0.0.0.0:10213", ""},
		{":10213", ""},
		{"localhost:10213", ""},
		{"10213", "want ADDRESS:PORT"},
		{"127.0.0.1", "want ADDRESS:PORT"},
		{"::1:10213", "want ADDRESS:PORT"},
		{"127.0.0.1:", `port "": want a number from 1 to 65535`},
		{"127.0.0.1:0", `port "0"`},
		{"127.0.0.1:65536", `port "65536"`},
		{"127.0.0.1:-1", `port "-1"`},
		{"127.0.0.1:http", `port "http"`},
		{"host.example:10213", `"host.example" is not an IP address`},
		{"10.213.0.256:10213", `"10.213.0.256" is not an IP address`},
	}
	for _, tt := range tests {
		err := CheckAddress(tt.addr)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: got %v, want no error", tt.addr, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: got %v, want an error containing %q", tt.addr, err, tt.wantErr)
		}
	}
}

// TestListenInUse: a port in use is an error that says so.
func TestListenInUse(t *testing.T) {
	ln, _, err := Listen(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, err = Listen(t.Context(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("got %v, want address already in use", err)
	}
}

// TestTextfile: the file is written with mode 0644 whatever the umask
// (the unit's is 0077), replaced whole (a reader never sees a partial
// file, and no temporary file is left), and rewritten after a round only
// when it changed something, when a change is not in the file yet, or
// when the file is TextfileRefresh old.
func TestTextfile(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "netready.prom")
	e := New(names, t0)
	tf := NewTextfile(e, path)
	if err := tf.Write(t0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: got %v, want 0644", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "\nnetready_ready 0\n") || strings.Contains(string(b), "go_goroutines") {
		t.Errorf("got\n%s\nwant netready_ready 0, and no Go collector", b)
	}

	// A reader in a loop while the file is rewritten 200 times: every
	// read is a whole exposition.
	stop := make(chan struct{})
	done := make(chan string)
	go func() {
		for {
			select {
			case <-stop:
				done <- ""
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil || !strings.HasPrefix(string(b), "# HELP") || !strings.HasSuffix(string(b), "\n") || !strings.Contains(string(b), "netready_transitions_total{target=\"tcp://db.internal:5432\"}") {
				done <- fmt.Sprintf("read %q, %v", b, err)
				return
			}
		}
	}()
	for i := range 200 {
		e.Update(State{Ready: i%2 == 0, Targets: []Target{passing(names[0], 0), passing(names[1], 0)}}, t0)
		if err := tf.Write(t0); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if msg := <-done; msg != "" {
		t.Errorf("a reader saw a partial file: %s", msg)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("got %d files in the directory, want the textfile alone", len(entries))
	}

	// When AfterRound writes.
	now := t0
	tests := []struct {
		name    string
		after   time.Duration
		changed bool
		breakIt bool // make the write fail
		want    bool
		wantErr bool
	}{
		{"changed", time.Second, true, false, true, false},
		{"unchanged, 1s old", time.Second, false, false, false, false},
		{"unchanged, 10s old", 9 * time.Second, false, false, true, false},
		{"changed, but the write fails", time.Second, true, true, true, true},
		{"unchanged, the change not in the file yet", time.Second, false, false, true, false},
		{"unchanged again", time.Second, false, false, false, false},
	}
	for _, tt := range tests {
		now = now.Add(tt.after)
		if tt.breakIt {
			tf.path = filepath.Join(dir, "missing", "netready.prom")
		}
		wrote, err := tf.AfterRound(tt.changed, now)
		tf.path = path
		if wrote != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: got wrote=%v err=%v, want wrote=%v, an error: %v", tt.name, wrote, err, tt.want, tt.wantErr)
		}
	}
}
