package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/probe"
	"github.com/netready/netready/probegate"
)

func TestProgress(t *testing.T) {
	names := []string{"dns:.", "route:default"}
	failing := []probegate.Result{{Probed: true, Value: probe.Result{Err: errors.New("query \".\" NS: 10.213.1.1:53: i/o timeout"), Cause: probe.CauseResolverTimeout}}, {OK: true, Probed: true, Value: probe.Result{OK: true}}}
	passing := []probegate.Result{{OK: true, Probed: true}, {OK: true, Probed: true}}
	rounds := []probegate.Progress{
		{Round: 1, Results: failing, Next: 5 * time.Second},
		{Round: 2, Results: failing, Next: 15 * time.Second},
		{Round: 3, Results: passing, Ready: true, Settling: true, Next: time.Second},
		{Round: 4, Results: passing, Ready: true},
	}
	t.Run("journal: one logfmt line per change of the picture", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names}, slog.New(slog.NewTextHandler(&out, nil)), nil, true)
		for _, r := range rounds {
			p.update(r)
		}
		p.done()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %d lines, want 2 (round 2 changes nothing, ready prints nothing):\n%s", len(lines), out.String())
		}
		for i, want := range []string{
			`msg="not ready" round=1 status="waiting for dns:. (resolver-timeout: query \".\" NS: 10.213.1.1:53: i/o timeout)" next=5s`,
			`msg=settling round=3 status="all targets pass; settling" next=1s`,
		} {
			if !strings.Contains(lines[i], want) {
				t.Errorf("line %d: got %q, want it to contain %q", i, lines[i], want)
			}
		}
	})
	t.Run("watch without a terminal: nothing", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names}, slog.New(slog.NewTextHandler(&out, nil)), nil, false)
		for _, r := range rounds {
			p.update(r)
		}
		p.done()
		if out.Len() != 0 {
			t.Errorf("got %q, want nothing: watch's transitions say it", out.String())
		}
	})
	t.Run("quiet", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names, quiet: true}, slog.New(slog.NewTextHandler(&out, nil)), nil, true)
		p.update(rounds[0])
		if out.Len() != 0 {
			t.Errorf("got %q, want nothing with -q", out.String())
		}
	})
}

// TestProgressLine: what the live line says at each moment, at a width.
func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	nx := []failure{{"dns:late.lab", "nxdomain", `query "late.lab." A: 10.213.90.1:53: rcode NXDOMAIN`}}
	two := append(nx, failure{"tcp://10.213.90.1:8083", "port-closed", "connect 10.213.90.1:8083: connection refused"})
	tests := []struct {
		name  string
		p     *progress
		width int
		want  string
	}{
		{"the first round, quick: nothing", &progress{names: []string{"a", "b"}, probing: now.Add(-50 * time.Millisecond)}, 80, ""},
		{"the first round, slow", &progress{names: []string{"a", "b"}, probing: now.Add(-time.Second)}, 80, "probing 2 targets…"},
		{"countdown", &progress{rounds: 1, failing: nx, next: now.Add(4200 * time.Millisecond)}, 0,
			`waiting for dns:late.lab (nxdomain: query "late.lab." A: 10.213.90.1:53: rcode NXDOMAIN) — next round in 5s`},
		{"a countdown that ticks does not move the cuts", &progress{rounds: 1, failing: two, next: now.Add(300 * time.Millisecond)}, 80,
			`dns:late.lab (nxdomain), tcp://10.213.90.1:8083 (port-… — next round in 0.3s`},
		{"under a second", &progress{rounds: 1, failing: nx, next: now.Add(230 * time.Millisecond)}, 0,
			`waiting for dns:late.lab (nxdomain: query "late.lab." A: 10.213.90.1:53: rcode NXDOMAIN) — next round in 0.3s`},
		{"a round that takes long", &progress{rounds: 2, failing: nx, probing: now.Add(-300 * time.Millisecond)}, 0,
			`waiting for dns:late.lab (nxdomain: query "late.lab." A: 10.213.90.1:53: rcode NXDOMAIN) — probing…`},
		{"nothing planned", &progress{rounds: 1, failing: nx}, 0,
			`waiting for dns:late.lab (nxdomain: query "late.lab." A: 10.213.90.1:53: rcode NXDOMAIN) — waiting for a network change`},
		{"80 columns: the detail is cut, not the cause nor the countdown", &progress{rounds: 1, failing: nx, next: now.Add(time.Second)}, 80,
			`waiting for dns:late.lab (nxdomain: query "late.lab."…) — next round in 1s`},
		{"two targets in 120 columns: the first detail cut, no room for the second", &progress{rounds: 1, failing: two, next: now.Add(time.Second)}, 120,
			`waiting for dns:late.lab (nxdomain: query "late.lab." A…), tcp://10.213.90.1:8083 (port-closed) — next round in 1s`},
		{"two targets in 103 columns: no detail", &progress{rounds: 1, failing: two, next: now.Add(time.Second)}, 103,
			`waiting for dns:late.lab (nxdomain), tcp://10.213.90.1:8083 (port-closed) — next round in 1s`},
		{"two targets in 86 columns: no 'waiting for'", &progress{rounds: 1, failing: two, next: now.Add(time.Second)}, 86,
			`dns:late.lab (nxdomain), tcp://10.213.90.1:8083 (port-closed) — next round in 1s`},
		{"two targets in 80 columns: the list cut at its end, the countdown kept", &progress{rounds: 1, failing: two, next: now.Add(time.Second)}, 80,
			`dns:late.lab (nxdomain), tcp://10.213.90.1:8083 (port-… — next round in 1s`},
		{"two targets in 40 columns", &progress{rounds: 1, failing: two, next: now.Add(time.Second)}, 40,
			`dns:late.lab (… — next round in 1s`},
		{"ready (watch)", &progress{rounds: 3, ready: true, next: now.Add(29 * time.Second)}, 80, "ready — next check in 29s"},
		{"settling", &progress{rounds: 3, settling: true, next: now.Add(2 * time.Second)}, 80, "all targets pass; settling — next round in 2s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.p.render(now, tc.width)
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if tc.width > 0 && runeLen(got) > tc.width-lineRoom {
				t.Errorf("%d columns, want at most %d: the line would wrap", runeLen(got), tc.width-lineRoom)
			}
		})
	}
}

// TestLiveLine: text written to stderr goes above the status line, which
// is cleared and drawn again; show("") leaves nothing behind.
func TestLiveLine(t *testing.T) {
	var out bytes.Buffer
	l := &liveLine{w: &out}
	l.show("waiting — next round in 3s")
	l.show("waiting — next round in 3s") // unchanged: nothing written
	l.Write([]byte("level=INFO msg=hello\n"))
	l.show("waiting — next round in 2s")
	l.above(func() { out.WriteString("2026-12-07T10:00:00Z ready\n") })
	l.show("")
	want := "waiting — next round in 3s" +
		"\r\033[Klevel=INFO msg=hello\nwaiting — next round in 3s" +
		"\r\033[Kwaiting — next round in 2s" +
		"\r\033[K2026-12-07T10:00:00Z ready\nwaiting — next round in 2s" +
		"\r\033[K"
	if got := out.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
