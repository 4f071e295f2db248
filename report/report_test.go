package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// mixedOutcome has a passing target, a failure with a hint, a failure
// without one and an error that spans lines.
func mixedOutcome() report.Outcome {
	return report.Outcome{
		Ready:   false,
		Elapsed: 3012345 * time.Microsecond,
		Rounds:  1,
		Targets: []report.Target{
			{Name: "link:any", OK: true, Latency: 210 * time.Microsecond, Detail: "eth0 up with 192.0.2.10/24", Attempts: 1},
			{Name: "route:default", OK: true, Latency: 12300 * time.Microsecond, Detail: "default via 192.0.2.1 dev eth0", Attempts: 1},
			{
				Name: "dns:.", OK: false, Latency: 3001 * time.Millisecond,
				Err:      errors.New("dns 127.0.0.53:53: query \".\" NS: connection refused"),
				Cause:    "resolver-down",
				Hint:     "127.0.0.53:53 connection refused — is systemd-resolved running?",
				Attempts: 1,
				Phases:   []report.Phase{{Name: "query", Duration: 1500 * time.Microsecond}},
			},
			{
				Name: "TCP://db.internal:5432", OK: false, Latency: 45600 * time.Microsecond,
				Err:      errors.New("tcp db.internal:5432: connect:\n\tconnection timed out"),
				Cause:    "filtered",
				Attempts: 1,
				Phases:   []report.Phase{{Name: "resolve", Duration: 600 * time.Microsecond}, {Name: "connect", Duration: 45 * time.Millisecond}},
			},
		},
	}
}

// explainedOutcome has the paths of check --explain: a target behind a
// gateway that does not answer ARP, and one that passes.
func explainedOutcome() report.Outcome {
	return report.Outcome{
		Ready:   false,
		Elapsed: 3002 * time.Millisecond,
		Rounds:  1,
		Targets: []report.Target{
			{
				Name: "tcp://10.213.50.1:8080", OK: false, Latency: 3001 * time.Millisecond,
				Err:      errors.New("gateway 10.213.1.99 on nrc0 does not answer ARP (connect 10.213.50.1:8080: i/o timeout)"),
				Cause:    "gateway-unreachable",
				Attempts: 1,
				Paths: []report.Path{{Dest: "10.213.50.1:8080", Role: "endpoint", Hops: []report.Hop{
					{Kind: "route", Name: "10.213.50.1 via 10.213.1.99 dev nrc0", OK: true, Detail: "src 10.213.1.2", Took: 41 * time.Microsecond},
					{Kind: "link", Name: "nrc0", OK: true, Detail: "up", Took: 3 * time.Microsecond},
					{Kind: "address", Name: "nrc0", OK: true, Detail: "10.213.1.2/24", Took: 22 * time.Microsecond},
					{Kind: "gateway", Name: "10.213.1.99 on nrc0", Detail: "gateway 10.213.1.99 on nrc0 does not answer ARP", Cause: "gateway-unreachable", Took: 30 * time.Microsecond},
				}}},
			},
			{
				Name: "dns:.", OK: true, Latency: 1200 * time.Microsecond, Detail: "10.213.1.1:53 answered 1 NS record (ns.test.)", Attempts: 1,
				Paths: []report.Path{{Dest: "10.213.1.1:53", Role: "resolver", Hops: []report.Hop{
					{Kind: "route", Name: "10.213.1.1 dev nrc0", OK: true, Detail: "src 10.213.1.2", Took: 35 * time.Microsecond},
					{Kind: "link", Name: "nrc0", OK: true, Detail: "up", Took: 2 * time.Microsecond},
					{Kind: "address", Name: "nrc0", OK: true, Detail: "10.213.1.2/24", Took: 20 * time.Microsecond},
					{Kind: "neighbour", Name: "10.213.1.1 on nrc0", OK: true, Detail: "REACHABLE", Took: 25 * time.Microsecond},
					{Kind: "resolver", Name: "10.213.1.1:53", OK: true, Detail: "10.213.1.1:53 answered 1 NS record (ns.test.)", Took: 900 * time.Microsecond},
				}}},
			},
		},
	}
}

func readyOutcome() report.Outcome {
	return report.Outcome{
		Ready:   true,
		Elapsed: 47 * time.Millisecond,
		Rounds:  2,
		Targets: []report.Target{
			{Name: "dns:api.example.com", OK: true, Latency: 1500 * time.Microsecond, Detail: "192.0.2.53:53 answered 1 A record", Attempts: 2},
			// A passing target's leftover error and hint are not shown.
			{Name: "https://registry.internal/health", OK: true, Latency: 45 * time.Millisecond, Detail: "200 OK", Err: errors.New("stale"), Hint: "stale hint", Attempts: 2},
		},
	}
}

func TestTextGolden(t *testing.T) {
	tests := []struct {
		name string
		o    report.Outcome
	}{
		{"not_ready", mixedOutcome()},
		{"ready", readyOutcome()},
		{"explained", explainedOutcome()},
		{"no_targets", report.Outcome{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.Text(&buf, tc.o); err != nil {
				t.Fatalf("Text: got error %v, want none", err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test ./report -update to create it): %v", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("Text: got\n%s\nwant (%s)\n%s", got, golden, want)
			}
		})
	}
}

func TestTextRows(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Text(&buf, mixedOutcome()); err != nil {
		t.Fatalf("Text: got error %v, want none", err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// header, 4 target rows, 1 hint row, summary
	if got, want := len(lines), 7; got != want {
		t.Fatalf("Text: got %d lines, want %d:\n%s", got, want, buf.String())
	}
	tests := []struct {
		name  string
		line  int
		wants []string
	}{
		{"header", 0, []string{"TARGET", "RESULT", "LATENCY", "DETAIL"}},
		{"passing row", 1, []string{"link:any", " ok ", "0.21ms", "eth0 up with 192.0.2.10/24"}},
		{"failing row", 3, []string{"dns:.", " FAIL ", "3001ms", `query "." NS: connection refused`}},
		{"hint row", 4, []string{"hint: 127.0.0.53:53 connection refused — is systemd-resolved running?"}},
		{"target as written and error on one line", 5, []string{"TCP://db.internal:5432", " FAIL ", "45.6ms", "connect: connection timed out"}},
		{"summary", 6, []string{"not ready: 2/4 targets pass (3012ms)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.wants {
				if !strings.Contains(lines[tc.line], w) {
					t.Errorf("line %d: got %q, want it to contain %q", tc.line, lines[tc.line], w)
				}
			}
		})
	}
	if strings.HasPrefix(lines[4], "dns:.") || !strings.HasPrefix(strings.TrimLeft(lines[4], " "), "hint: ") {
		t.Errorf("hint line: got %q, want it indented under DETAIL", lines[4])
	}
	if got, want := strings.Index(lines[4], "hint:"), strings.Index(lines[0], "DETAIL"); got != want {
		t.Errorf("hint column: got %d, want %d (the DETAIL column)", got, want)
	}
	if strings.Contains(buf.String(), "stale") {
		t.Errorf("Text: got %q, want no error or hint of a passing target", buf.String())
	}
}

func TestJSON(t *testing.T) {
	topKeys := []string{"elapsed_ms", "ready", "rounds", "targets"}
	passKeys := []string{"attempts", "latency_ms", "ok", "target"}
	detailKeys := []string{"attempts", "detail", "latency_ms", "ok", "target"}
	failKeys := []string{"attempts", "cause", "error", "latency_ms", "ok", "phases", "target"}
	hintKeys := []string{"attempts", "cause", "error", "hint", "latency_ms", "ok", "phases", "target"}
	tests := []struct {
		name     string
		o        report.Outcome
		want     map[string]any
		wantKeys [][]string // per target
	}{
		{
			name: "not ready",
			o:    mixedOutcome(),
			want: map[string]any{
				"ready": false, "elapsed_ms": 3012.345, "rounds": 1.0,
				"targets": []any{
					map[string]any{"target": "link:any", "ok": true, "latency_ms": 0.21, "attempts": 1.0, "detail": "eth0 up with 192.0.2.10/24"},
					map[string]any{"target": "route:default", "ok": true, "latency_ms": 12.3, "attempts": 1.0, "detail": "default via 192.0.2.1 dev eth0"},
					map[string]any{"target": "dns:.", "ok": false, "latency_ms": 3001.0, "attempts": 1.0, "error": "dns 127.0.0.53:53: query \".\" NS: connection refused",
						"cause": "resolver-down", "hint": "127.0.0.53:53 connection refused — is systemd-resolved running?", "phases": []any{map[string]any{"name": "query", "ms": 1.5}}},
					map[string]any{"target": "TCP://db.internal:5432", "ok": false, "latency_ms": 45.6, "attempts": 1.0, "error": "tcp db.internal:5432: connect:\n\tconnection timed out",
						"cause": "filtered", "phases": []any{map[string]any{"name": "resolve", "ms": 0.6}, map[string]any{"name": "connect", "ms": 45.0}}},
				},
			},
			wantKeys: [][]string{detailKeys, detailKeys, hintKeys, failKeys},
		},
		{
			name: "ready, error of a passing target omitted",
			o:    readyOutcome(),
			want: map[string]any{
				"ready": true, "elapsed_ms": 47.0, "rounds": 2.0,
				"targets": []any{
					map[string]any{"target": "dns:api.example.com", "ok": true, "latency_ms": 1.5, "attempts": 2.0, "detail": "192.0.2.53:53 answered 1 A record"},
					map[string]any{"target": "https://registry.internal/health", "ok": true, "latency_ms": 45.0, "attempts": 2.0, "detail": "200 OK"},
				},
			},
			wantKeys: [][]string{detailKeys, detailKeys},
		},
		{
			name: "no targets is an empty list",
			o:    report.Outcome{},
			want: map[string]any{"ready": false, "elapsed_ms": 0.0, "rounds": 0.0, "targets": []any{}},
		},
		{
			name: "microsecond precision",
			o:    report.Outcome{Ready: true, Elapsed: 1234567891 * time.Nanosecond, Rounds: 3, Targets: []report.Target{{Name: "link:eth0", OK: true, Latency: 1499 * time.Nanosecond, Attempts: 3}}},
			want: map[string]any{
				"ready": true, "elapsed_ms": 1234.568, "rounds": 3.0,
				"targets": []any{map[string]any{"target": "link:eth0", "ok": true, "latency_ms": 0.001, "attempts": 3.0}},
			},
			wantKeys: [][]string{passKeys},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.JSON(&buf, tc.o); err != nil {
				t.Fatalf("JSON: got error %v, want none", err)
			}
			out := buf.String()
			if !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
				t.Errorf("JSON: got %q, want one document on one line ending in a newline", out)
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("JSON: got invalid JSON %q: %v", out, err)
			}
			if keys := sortedKeys(got); !slices.Equal(keys, topKeys) {
				t.Errorf("top-level keys: got %q, want %q", keys, topKeys)
			}
			targets, ok := got["targets"].([]any)
			if !ok {
				t.Fatalf("targets: got %T %v, want a list", got["targets"], got["targets"])
			}
			if len(targets) != len(tc.wantKeys) {
				t.Fatalf("targets: got %d, want %d", len(targets), len(tc.wantKeys))
			}
			for i, x := range targets {
				m, ok := x.(map[string]any)
				if !ok {
					t.Fatalf("targets[%d]: got %T, want an object", i, x)
				}
				if keys := sortedKeys(m); !slices.Equal(keys, tc.wantKeys[i]) {
					t.Errorf("targets[%d] keys: got %q, want %q", i, keys, tc.wantKeys[i])
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("JSON: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJSONNoHTMLEscaping(t *testing.T) {
	o := report.Outcome{Targets: []report.Target{{Name: "http://a/?x=1&y=<2>", Err: errors.New("status 302 -> http://portal/")}}}
	var buf bytes.Buffer
	if err := report.JSON(&buf, o); err != nil {
		t.Fatalf("JSON: got error %v, want none", err)
	}
	for _, want := range []string{`"http://a/?x=1&y=<2>"`, `"status 302 -> http://portal/"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON: got %s, want it to contain %s", buf.String(), want)
		}
	}
}

func TestJSONWriteError(t *testing.T) {
	err := report.JSON(failingWriter{}, readyOutcome())
	if err == nil || !strings.Contains(err.Error(), "write json") {
		t.Errorf("JSON to a failing writer: got error %v, want one containing %q", err, "write json")
	}
}

func TestTextWriteError(t *testing.T) {
	if err := report.Text(failingWriter{}, readyOutcome()); err == nil {
		t.Errorf("Text to a failing writer: got no error, want one")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestSummary(t *testing.T) {
	pass := report.Target{OK: true}
	fail := report.Target{OK: false}
	tests := []struct {
		name string
		o    report.Outcome
		want string
	}{
		{"all pass", report.Outcome{Ready: true, Elapsed: 12300 * time.Microsecond, Targets: []report.Target{pass, pass, pass}}, "ready: 3/3 targets pass (12.3ms)"},
		{"one of one", report.Outcome{Ready: true, Elapsed: 210 * time.Microsecond, Targets: []report.Target{pass}}, "ready: 1/1 targets pass (0.21ms)"},
		{"none pass", report.Outcome{Ready: false, Elapsed: 3001 * time.Millisecond, Targets: []report.Target{fail, fail}}, "not ready: 0/2 targets pass (3001ms)"},
		{"some pass, not ready", report.Outcome{Ready: false, Elapsed: 50 * time.Millisecond, Targets: []report.Target{pass, pass, fail}}, "not ready: 2/3 targets pass (50.0ms)"},
		{"some pass, ready with any", report.Outcome{Ready: true, Elapsed: 50 * time.Millisecond, Targets: []report.Target{fail, pass, pass}}, "ready: 2/3 targets pass (50.0ms)"},
		{"no targets", report.Outcome{}, "not ready: 0/0 targets pass (0.00ms)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := report.Summary(tc.o); got != tc.want {
				t.Errorf("Summary: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0.00ms"},
		{time.Nanosecond, "0.00ms"},
		{5 * time.Microsecond, "0.01ms"},
		{210 * time.Microsecond, "0.21ms"},
		{time.Millisecond, "1.00ms"},
		{9990 * time.Microsecond, "9.99ms"},
		{10 * time.Millisecond, "10.0ms"},
		{12345 * time.Microsecond, "12.3ms"},
		{99900 * time.Microsecond, "99.9ms"},
		{100 * time.Millisecond, "100ms"},
		{999400 * time.Microsecond, "999ms"},
		{3001 * time.Millisecond, "3001ms"},
		{2 * time.Minute, "120000ms"},
	}
	for _, tc := range tests {
		t.Run(tc.in.String(), func(t *testing.T) {
			if got := report.Duration(tc.in); got != tc.want {
				t.Errorf("Duration(%v): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestJSONPaths: check --explain's paths, one array of hops per
// destination, in order.
func TestJSONPaths(t *testing.T) {
	var buf bytes.Buffer
	if err := report.JSON(&buf, explainedOutcome()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Targets []struct {
			Cause string `json:"cause"`
			Paths []struct {
				Dest string `json:"dest"`
				Role string `json:"role"`
				Hops []struct {
					Hop   string  `json:"hop"`
					Name  string  `json:"name"`
					OK    bool    `json:"ok"`
					Cause string  `json:"cause"`
					MS    float64 `json:"ms"`
				} `json:"hops"`
			} `json:"paths"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Targets[0].Paths[0]
	var kinds []string
	for _, h := range p.Hops {
		kinds = append(kinds, h.Hop)
	}
	if want := []string{"route", "link", "address", "gateway"}; p.Dest != "10.213.50.1:8080" || p.Role != "endpoint" || !slices.Equal(kinds, want) {
		t.Errorf("path: got %s %s %v, want 10.213.50.1:8080 endpoint %v", p.Dest, p.Role, kinds, want)
	}
	if last := p.Hops[3]; last.OK || last.Cause != "gateway-unreachable" || last.Name != "10.213.1.99 on nrc0" || last.MS != 0.03 {
		t.Errorf("broken hop: got %+v", last)
	}
	if n := len(doc.Targets[1].Paths[0].Hops); n != 5 {
		t.Errorf("passing target: got %d hops, want 5, the resolver last", n)
	}
}

// TestTextWidth: at a terminal's width, the DETAIL column wraps at word
// boundaries and every line fits; no word of the input is cut or lost
// unless longer than the column; too narrow a column sends the details
// under each row.
func TestTextWidth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     report.Outcome
		width int
	}{
		{"not_ready_80", mixedOutcome(), 80},
		{"explained_80", explainedOutcome(), 80},
		{"not_ready_60", mixedOutcome(), 60},
		{"not_ready_40", mixedOutcome(), 40},
		{"long_word_80", report.Outcome{Targets: []report.Target{{
			Name: "https://registry.internal/health", Latency: 3 * time.Millisecond, Cause: "http-status",
			Err: errors.New("HTTP 404 Not Found from https://registry.internal/v2/library/a-very-long-image-name-without-any-space-in-it/manifests/latest"),
		}}}, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (report.Style{Width: tc.width}).Text(&buf, tc.o); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test ./report -update to create it): %v", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("got\n%s\nwant (%s)\n%s", got, golden, want)
			}
			for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				if n := len([]rune(line)); n > tc.width {
					t.Errorf("line of %d columns, over %d: %q", n, tc.width, line)
				}
			}
			// The words of the unwrapped table, in order: wrapping only
			// moved them (DETAIL heads no column when the details go
			// under the rows).
			var plain bytes.Buffer
			report.Text(&plain, tc.o)
			// A word longer than a line is cut: compare what is not space.
			words := func(s string) string {
				return strings.Join(slices.DeleteFunc(strings.Fields(strings.ReplaceAll(s, "│", "")), func(w string) bool { return w == "DETAIL" }), "")
			}
			if got, want := words(buf.String()), words(plain.String()); got != want {
				t.Errorf("words differ from the unwrapped table:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestTextColor: with Color, FAIL is bold red, ok green, a cause word
// yellow and the verdict coloured; without it, no escape at all.
func TestTextColor(t *testing.T) {
	var buf bytes.Buffer
	if err := (report.Style{Color: true}).Text(&buf, mixedOutcome()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"\033[1;31mFAIL\033[0m", "\033[32mok\033[0m", "\033[33mresolver-down\033[0m: dns 127.0.0.53:53", "\033[1;31mnot ready\033[0m: 2/4 targets pass",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got\n%q\nwant it to contain %q", out, want)
		}
	}
	// The columns stay aligned: without the escapes, the plain table.
	var plain bytes.Buffer
	report.Text(&plain, mixedOutcome())
	if got := regexp.MustCompile("\033\\[[0-9;]*m").ReplaceAllString(out, ""); got != plain.String() {
		t.Errorf("without its escapes, got\n%s\nwant\n%s", got, plain.String())
	}
	if strings.Contains(plain.String(), "\033") {
		t.Errorf("an escape without Color:\n%q", plain.String())
	}
}
