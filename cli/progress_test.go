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
	t.Run("journal: one line per change of the picture", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names}, slog.New(slog.NewTextHandler(&out, nil)), nil)
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
	t.Run("terminal: one line rewritten in place, cleared at the end", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names}, slog.New(slog.NewTextHandler(&out, nil)), nil)
		p.tty = true
		for _, r := range rounds[:2] {
			p.update(r)
		}
		p.done()
		want := "\r\033[Kwaiting for dns:. (resolver-timeout: query \".\" NS: 10.213.1.1:53: i/o timeout) — round 1, next in 5s" +
			"\r\033[Kwaiting for dns:. (resolver-timeout: query \".\" NS: 10.213.1.1:53: i/o timeout) — round 2, next in 15s" +
			"\r\033[K"
		if got := out.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("terminal: the line fits the terminal's width", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names}, slog.New(slog.NewTextHandler(&out, nil)), nil)
		p.tty = true
		p.cols = func() int { return 30 }
		p.update(rounds[0])
		// 28 runes and an ellipsis: the 30th column stays free.
		if got, want := out.String(), "\r\033[Kwaiting for dns:. (resolver-…"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("quiet", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(&out, &options{names: names, quiet: true}, slog.New(slog.NewTextHandler(&out, nil)), nil)
		p.update(rounds[0])
		if out.Len() != 0 {
			t.Errorf("got %q, want nothing with -q", out.String())
		}
	})
}
