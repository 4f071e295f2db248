package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/netready/netready/backoff"
)

// The gate's types over the tests' own account of an attempt, a string.
type (
	tResult     = Result[string]
	tConfig     = Config[string]
	tProgress   = Progress[string]
	tTransition = Transition[string]
)

// always is a passAt for a target that passes from the start.
const always = -1

// fakeTarget passes from the moment passAt (since the test's start) on,
// if passAt is not zero; local says whether it stays on the host. block
// makes each attempt wait for its context to end (a stuck probe).
type fakeTarget struct {
	passAt    time.Duration
	local     bool
	announced bool // fails for a reason the kernel announces
	block     bool
	// refused says, for each moment since the start, whether a failing
	// attempt then is a refusal (nil: never).
	refused func(time.Duration) bool
}

// fakeProber probes fake targets on synctest's fake clock and records
// when each round started.
type fakeProber struct {
	start   time.Time
	targets []fakeTarget
	mu      sync.Mutex
	rounds  []time.Duration // start of each round, since start
	dues    [][]int
}

func newFakeProber(targets ...fakeTarget) *fakeProber {
	return &fakeProber{start: time.Now(), targets: targets}
}

func (p *fakeProber) probe(ctx context.Context, due []int, _ []tResult) []tResult {
	now := time.Since(p.start)
	p.mu.Lock()
	p.rounds = append(p.rounds, now)
	p.dues = append(p.dues, slices.Clone(due))
	p.mu.Unlock()
	res := make([]tResult, len(due))
	for j, i := range due {
		t := p.targets[i]
		if t.block {
			<-ctx.Done()
		}
		res[j] = tResult{OK: t.passAt != 0 && now >= t.passAt, Local: t.local}
		res[j].Announced = !res[j].OK && t.announced
		if !res[j].OK && t.refused != nil {
			res[j].Refused = t.refused(now)
		}
	}
	return res
}

func (p *fakeProber) roundStarts() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.rounds)
}

func schedule(t *testing.T) Schedule {
	s, err := backoff.New(5*time.Second, 15*time.Minute, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(t *testing.T, p *fakeProber) tConfig {
	return tConfig{
		Targets:         len(p.targets),
		Probe:           p.probe,
		Schedule:        schedule(t),
		LocalInterval:   250 * time.Millisecond,
		RefusedInterval: time.Second,
		EventGap:        100 * time.Millisecond,
	}
}

// between is a refused func: a refusal from from until to (since the
// start); to 0 means for ever.
func between(from, to time.Duration) func(time.Duration) bool {
	return func(now time.Duration) bool { return now >= from && (to == 0 || now < to) }
}

func secs(ds ...float64) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d * float64(time.Second))
	}
	return out
}

func TestWait(t *testing.T) {
	tests := []struct {
		name        string
		targets     []fakeTarget
		edit        func(*tConfig)
		wantReady   bool
		wantErr     error
		wantElapsed time.Duration
		wantRounds  []time.Duration // start of every round
	}{
		{
			name:        "already ready: one round, at once",
			targets:     []fakeTarget{{passAt: always}, {passAt: always, local: true}},
			wantReady:   true,
			wantElapsed: 0,
			wantRounds:  secs(0),
		},
		{
			name:        "remote target on the backoff schedule: 0, 5s, 20s, 65s",
			targets:     []fakeTarget{{passAt: 60 * time.Second}},
			wantReady:   true,
			wantElapsed: 65 * time.Second,
			wantRounds:  secs(0, 5, 20, 65),
		},
		{
			name:        "local target every 250ms",
			targets:     []fakeTarget{{passAt: time.Second, local: true}},
			wantReady:   true,
			wantElapsed: time.Second,
			wantRounds:  secs(0, 0.25, 0.5, 0.75, 1),
		},
		{
			name:        "local and remote targets keep their own pace",
			targets:     []fakeTarget{{passAt: 600 * time.Millisecond, local: true}, {passAt: 4 * time.Second}},
			wantReady:   true,
			wantElapsed: 5 * time.Second,
			wantRounds:  secs(0, 0.25, 0.5, 0.75, 5),
		},
		{
			name:        "refused: re-checked every second",
			targets:     []fakeTarget{{passAt: 3500 * time.Millisecond, refused: between(0, 0)}},
			wantReady:   true,
			wantElapsed: 4 * time.Second,
			wantRounds:  secs(0, 1, 2, 3, 4),
		},
		{
			// A refusal does not advance the schedule: the first silent
			// round is followed by its first interval, 5s.
			name:        "refused, then silent: back on the schedule",
			targets:     []fakeTarget{{passAt: 20 * time.Second, refused: between(0, 1500*time.Millisecond)}},
			wantReady:   true,
			wantElapsed: 22 * time.Second,
			wantRounds:  secs(0, 1, 2, 7, 22),
		},
		{
			name:        "silent, then refused: every second",
			targets:     []fakeTarget{{passAt: 7500 * time.Millisecond, refused: between(5*time.Second, 0)}},
			wantReady:   true,
			wantElapsed: 8 * time.Second,
			wantRounds:  secs(0, 5, 6, 7, 8),
		},
		{
			name:        "a refused target beside a silent one: each its own pace",
			targets:     []fakeTarget{{passAt: 2500 * time.Millisecond, refused: between(0, 0)}, {passAt: 4 * time.Second}},
			wantReady:   true,
			wantElapsed: 5 * time.Second,
			wantRounds:  secs(0, 1, 2, 3, 5),
		},
		{
			name:        "timeout between rounds",
			targets:     []fakeTarget{{}},
			edit:        func(c *tConfig) { c.Timeout = 12 * time.Second },
			wantErr:     ErrTimeout,
			wantElapsed: 12 * time.Second,
			wantRounds:  secs(0, 5),
		},
		{
			name:        "timeout during a stuck probe ends at the timeout",
			targets:     []fakeTarget{{block: true}},
			edit:        func(c *tConfig) { c.Timeout = 2 * time.Second },
			wantErr:     ErrTimeout,
			wantElapsed: 2 * time.Second,
			wantRounds:  secs(0),
		},
		{
			name:        "--any: one passing target suffices",
			targets:     []fakeTarget{{}, {passAt: always}},
			edit:        func(c *tConfig) { c.Any = true },
			wantReady:   true,
			wantElapsed: 0,
			wantRounds:  secs(0),
		},
		{
			name:        "settle: ready after a confirming round",
			targets:     []fakeTarget{{passAt: always}},
			edit:        func(c *tConfig) { c.Settle = 3 * time.Second },
			wantReady:   true,
			wantElapsed: 3 * time.Second,
			wantRounds:  secs(0, 3),
		},
		{
			name:        "timeout 0 waits past the library's 15 minute default",
			targets:     []fakeTarget{{passAt: time.Hour}},
			wantReady:   true,
			wantElapsed: 5*time.Second + 15*time.Second + 45*time.Second + 135*time.Second + 405*time.Second + 4*15*time.Minute,
			wantRounds:  secs(0, 5, 20, 65, 200, 605, 1505, 2405, 3305, 4205),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newFakeProber(tt.targets...)
				cfg := config(t, p)
				if tt.edit != nil {
					tt.edit(&cfg)
				}
				out, err := Wait(t.Context(), cfg)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error: got %v, want %v", err, tt.wantErr)
				}
				if out.Ready != tt.wantReady {
					t.Errorf("ready: got %v, want %v", out.Ready, tt.wantReady)
				}
				if out.Elapsed != tt.wantElapsed {
					t.Errorf("elapsed: got %s, want %s", out.Elapsed, tt.wantElapsed)
				}
				if got := p.roundStarts(); !slices.Equal(got, tt.wantRounds) {
					t.Errorf("round starts: got %v, want %v", got, tt.wantRounds)
				}
			})
		})
	}
}

// TestWaitEventReprobesAtOnce: a change makes every target due at once and
// resets the schedule; with a one-hour backoff, only the event can explain
// a second round.
func TestWaitEventReprobesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: 10 * time.Second}, fakeTarget{passAt: always})
		events := make(chan struct{}, 1)
		cfg := config(t, p)
		s, _ := backoff.New(time.Hour, time.Hour, 3, 0)
		cfg.Schedule = s
		cfg.Events = events
		go func() {
			time.Sleep(10 * time.Second)
			events <- struct{}{}
		}()
		out, err := Wait(t.Context(), cfg)
		if err != nil || !out.Ready {
			t.Fatalf("got ready=%v err=%v, want ready", out.Ready, err)
		}
		if out.Elapsed != 10*time.Second {
			t.Errorf("elapsed: got %s, want 10s (the event)", out.Elapsed)
		}
		if got, want := p.dues, [][]int{{0, 1}, {0, 1}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("due targets per round: got %v, want %v (every target after an event)", got, want)
		}
		if out.Events != 1 || out.Attempts[1] != 2 {
			t.Errorf("events %d, attempts %v: want 1 event and the passing target probed again", out.Events, out.Attempts)
		}
	})
}

func TestWaitEventResetsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: 30 * time.Second})
		events := make(chan struct{}, 1)
		cfg := config(t, p)
		cfg.Events = events
		go func() {
			time.Sleep(22 * time.Second) // after rounds at 0, 5, 20; the next is due at 65
			events <- struct{}{}
		}()
		if _, err := Wait(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		// The event round at 22s fails; the schedule restarts at 5s: 27s
		// fails, then 15s later, 42s, passes.
		if got, want := p.roundStarts(), secs(0, 5, 20, 22, 27, 42); !slices.Equal(got, want) {
			t.Errorf("round starts: got %v, want %v", got, want)
		}
	})
}

// TestWaitEventAbandonsRound: a probe stuck on a resolver that was just
// replaced is not waited for; a fresh round starts at once.
func TestWaitEventAbandonsRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		stuck := true
		var starts []time.Duration
		begin := time.Now()
		events := make(chan struct{}, 1)
		cfg := tConfig{
			Targets:  1,
			Schedule: schedule(t),
			Events:   events,
			EventGap: 100 * time.Millisecond,
			Probe: func(ctx context.Context, due []int, _ []tResult) []tResult {
				mu.Lock()
				s := stuck
				starts = append(starts, time.Since(begin))
				mu.Unlock()
				if s {
					<-ctx.Done()
					return []tResult{{OK: false}}
				}
				return []tResult{{OK: true}}
			},
		}
		go func() {
			time.Sleep(time.Second)
			mu.Lock()
			stuck = false
			mu.Unlock()
			events <- struct{}{}
		}()
		out, err := Wait(t.Context(), cfg)
		if err != nil || !out.Ready {
			t.Fatalf("got ready=%v err=%v", out.Ready, err)
		}
		if out.Elapsed != time.Second || out.Abandons != 1 || out.Rounds != 1 {
			t.Errorf("got elapsed %s, %d abandoned, %d completed; want 1s, 1, 1", out.Elapsed, out.Abandons, out.Rounds)
		}
		if want := secs(0, 1); !slices.Equal(starts, want) {
			t.Errorf("round starts: got %v, want %v", starts, want)
		}
	})
}

// TestWaitStormIsBounded: 2,000 changes within 1s cause at most one round
// per EventGap, and the first one is acted on at once.
func TestWaitStormIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: 5 * time.Second})
		events := make(chan struct{}, 1)
		cfg := config(t, p)
		s, _ := backoff.New(time.Hour, time.Hour, 3, 0)
		cfg.Schedule = s
		cfg.Events = events
		cfg.Timeout = 3 * time.Second
		go func() {
			time.Sleep(time.Second)
			for range 2000 {
				select {
				case events <- struct{}{}: // the pump: never blocks
				default:
				}
				time.Sleep(500 * time.Microsecond)
			}
		}()
		out, err := Wait(t.Context(), cfg)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want timeout", err)
		}
		starts := p.roundStarts()
		if len(starts) < 2 || starts[1] != time.Second {
			t.Errorf("the first change must start a round at once (1s): round starts %v", starts)
		}
		// Storm from 1s to 2s: one round at once, then at most one per
		// 100ms gap, plus the one the last change leaves pending.
		if n := len(starts); n > 13 {
			t.Errorf("got %d rounds for a 1s storm, want at most 13: %v", n, starts)
		}
		t.Logf("storm: %d events received, %d rounds, %d abandoned", out.Events, len(starts), out.Abandons)
	})
}

// TestWaitSettleFlapping: with --settle, a target that passes but whose
// link changes every 20ms never opens the gate.
func TestWaitSettleFlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: always, local: true})
		events := make(chan struct{}, 1)
		cfg := config(t, p)
		cfg.Events = events
		cfg.Settle = 500 * time.Millisecond
		cfg.Timeout = 5 * time.Second
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}()
		out, err := Wait(ctx, cfg)
		if !errors.Is(err, ErrTimeout) || out.Ready {
			t.Fatalf("got ready=%v err=%v, want not ready and a timeout", out.Ready, err)
		}
		cancel()
	})
}

// TestWaitCancelled: a signal cancels the context with a cause, which Wait
// returns promptly, leaving no goroutine behind (synctest.Test would
// report one still blocked).
func TestWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{block: true})
		cause := errors.New("interrupted by terminated")
		ctx, cancel := context.WithCancelCause(t.Context())
		go func() {
			time.Sleep(1500 * time.Millisecond)
			cancel(cause)
		}()
		out, err := Wait(ctx, config(t, p))
		if !errors.Is(err, cause) {
			t.Errorf("got %v, want the cancellation cause", err)
		}
		if out.Elapsed != 1500*time.Millisecond {
			t.Errorf("elapsed: got %s, want 1.5s", out.Elapsed)
		}
	})
}

func TestWaitProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: 6 * time.Second}, fakeTarget{passAt: always, local: true})
		cfg := config(t, p)
		var (
			got []tProgress
			ok  [][]bool
		)
		cfg.Progress = func(pr tProgress) {
			got = append(got, pr)
			ok = append(ok, oks(pr.Results))
		}
		if _, err := Wait(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		want := []tProgress{
			{Round: 1, Next: 5 * time.Second},
			{Round: 2, Next: 15 * time.Second},
			{Round: 3, Ready: true},
		}
		wantOK := [][]bool{{false, true}, {false, true}, {true, true}}
		if len(got) != len(want) {
			t.Fatalf("got %d progress reports, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Round != w.Round || !slices.Equal(ok[i], wantOK[i]) || g.Ready != w.Ready || g.Next != w.Next {
				t.Errorf("report %d: got %+v (ok %v), want %+v (ok %v)", i, g, ok[i], w, wantOK[i])
			}
		}
	})
}

// TestWaitCancelDuringRound: the caller's cancellation (a signal) during a
// round cuts its attempts short; what they return is not a verdict, even
// when --any would accept it. Only the deadline gives a round the last
// word.
func TestWaitCancelDuringRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: always}, fakeTarget{block: true})
		cfg := config(t, p)
		cfg.Any = true
		cause := errors.New("SIGTERM")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(50*time.Millisecond, func() { cancel(cause) })
		out, err := Wait(ctx, cfg)
		if out.Ready || !errors.Is(err, cause) {
			t.Errorf("got ready=%v err=%v, want not ready and the cause", out.Ready, err)
		}
	})
}

// TestWaitChangesFasterThanRounds: changes every 50ms, rounds that take
// 300ms. Three rounds are abandoned; the fourth runs to its end, and since
// it passes, the wait is over.
func TestWaitChangesFasterThanRounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Duration
		begin := time.Now()
		events := make(chan struct{}, 1)
		cfg := tConfig{
			Targets:  1,
			Schedule: schedule(t),
			Events:   events,
			EventGap: 100 * time.Millisecond,
			Timeout:  10 * time.Second,
			Probe: func(ctx context.Context, due []int, _ []tResult) []tResult {
				starts = append(starts, time.Since(begin)) // one round at a time
				select {
				case <-time.After(300 * time.Millisecond):
					return []tResult{{OK: true}}
				case <-ctx.Done():
					return []tResult{{OK: false}}
				}
			},
		}
		stop := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}()
		out, err := Wait(t.Context(), cfg)
		close(stop)
		<-stopped
		if err != nil || !out.Ready {
			t.Fatalf("got ready=%v err=%v, want ready", out.Ready, err)
		}
		if out.Abandons != maxAbandonsInRow || out.Rounds != 1 {
			t.Errorf("got %d abandoned and %d completed, want %d and 1 (round starts %v)", out.Abandons, out.Rounds, maxAbandonsInRow, starts)
		}
	})
}

// TestWaitEventWithResults: a change that arrives together with a round's
// results abandons the round, since they may predate it.
func TestWaitEventWithResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		events := make(chan struct{}, 1)
		n := 0
		cfg := tConfig{
			Targets:  1,
			Schedule: schedule(t),
			Events:   events,
			EventGap: 100 * time.Millisecond,
			Probe: func(ctx context.Context, due []int, _ []tResult) []tResult {
				n++
				if n == 1 {
					events <- struct{}{} // the change, as the attempt ends
				}
				return []tResult{{OK: true}}
			},
		}
		out, err := Wait(t.Context(), cfg)
		if err != nil || !out.Ready {
			t.Fatalf("got ready=%v err=%v, want ready", out.Ready, err)
		}
		if out.Abandons != 1 || out.Rounds != 1 || n != 2 {
			t.Errorf("got %d abandoned, %d completed, %d probed; want 1, 1, 2", out.Abandons, out.Rounds, n)
		}
	})
}

// oks is the OK of each result.
func oks(rs []tResult) []bool {
	ok := make([]bool, len(rs))
	for i, r := range rs {
		ok[i] = r.OK
	}
	return ok
}

// TestWaitDiscardedRoundIsNotReported: a round that a change abandons,
// even one whose results came with the change, never reaches Progress or
// the Outcome: what the prober found in it may predate the change.
func TestWaitDiscardedRoundIsNotReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		events := make(chan struct{}, 1)
		n := 0
		var seen []string
		cfg := tConfig{
			Targets:  1,
			Schedule: schedule(t),
			Events:   events,
			EventGap: 100 * time.Millisecond,
			Probe: func(ctx context.Context, due []int, last []tResult) []tResult {
				n++
				if n == 1 {
					events <- struct{}{} // the change, as the attempt ends
					return []tResult{{OK: false, Value: "stale"}}
				}
				if last[0].Probed || last[0].Value != "" {
					t.Errorf("round %d: the prober was handed %+v as the last result, want none (round 1 was discarded)", n, last[0])
				}
				return []tResult{{OK: true, Value: "fresh"}}
			},
			Progress: func(p tProgress) { seen = append(seen, p.Results[0].Value) },
		}
		out, err := Wait(t.Context(), cfg)
		if err != nil || !out.Ready {
			t.Fatalf("got ready=%v err=%v, want ready", out.Ready, err)
		}
		if !slices.Equal(seen, []string{"fresh"}) {
			t.Errorf("progress saw results %v, want only [fresh]", seen)
		}
		if r := out.Results[0]; r.Value != "fresh" || !r.Probed {
			t.Errorf("outcome: got result %+v, want fresh, probed", r)
		}
	})
}

// watcher runs Watch in the background on synctest's fake clock and
// records every transition, with the time since the start.
type watcher struct {
	start time.Time
	mu    sync.Mutex
	got   []string
	err   chan error
}

func startWatch(ctx context.Context, cfg tConfig) *watcher {
	w := &watcher{start: time.Now(), err: make(chan error, 1)}
	go func() {
		w.err <- Watch(ctx, cfg, func(tr tTransition) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			what := "not ready"
			if tr.Ready {
				what = "ready"
			}
			w.got = append(w.got, fmt.Sprintf("%s %s", time.Since(w.start), what))
			return nil
		})
	}()
	return w
}

func (w *watcher) transitions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// flipper is a prober whose targets pass while up is set; block makes
// each attempt wait for its context while stuck is set.
type flipper struct {
	mu     sync.Mutex
	start  time.Time
	up     bool
	stuck  bool
	rounds []time.Duration
}

func (f *flipper) set(up bool) { f.mu.Lock(); f.up = up; f.mu.Unlock() }

func (f *flipper) probe(ctx context.Context, due []int, _ []tResult) []tResult {
	f.mu.Lock()
	f.rounds = append(f.rounds, time.Since(f.start))
	up, stuck := f.up, f.stuck
	f.mu.Unlock()
	if stuck {
		<-ctx.Done()
		up = false
	}
	res := make([]tResult, len(due))
	for j := range due {
		res[j] = tResult{OK: up}
	}
	return res
}

func (f *flipper) roundStarts() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rounds)
}

func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flipper{start: time.Now()}
		cfg := tConfig{Targets: 1, Probe: f.probe, Schedule: schedule(t), Recheck: 30 * time.Second, EventGap: 100 * time.Millisecond}
		ctx, cancel := context.WithCancelCause(t.Context())
		w := startWatch(ctx, cfg)
		time.Sleep(10 * time.Second) // rounds at 0 and 5 fail
		f.set(true)                  // the round at 20s passes
		time.Sleep(50 * time.Second) // a recheck at 50s passes
		f.set(false)                 // the recheck at 80s fails; then 85, 100 ...
		time.Sleep(50 * time.Second)
		stop := errors.New("SIGTERM")
		cancel(stop)
		if err := <-w.err; !errors.Is(err, stop) {
			t.Errorf("Watch returned %v, want the cancellation cause", err)
		}
		if got, want := w.transitions(), []string{"0s not ready", "20s ready", "1m20s not ready"}; !slices.Equal(got, want) {
			t.Errorf("transitions: got %q, want %q", got, want)
		}
		// After the loss the schedule starts afresh: 5s, then 15s.
		if got, want := f.roundStarts(), secs(0, 5, 20, 50, 80, 85, 100); !slices.Equal(got, want) {
			t.Errorf("round starts: got %v, want %v", got, want)
		}
	})
}

// TestWatchSettle: the first verdict of a watch that settles is "ready"
// only once settled; a round that fails while settling is "not ready".
func TestWatchSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flipper{start: time.Now(), up: true}
		cfg := tConfig{Targets: 1, Probe: f.probe, Schedule: schedule(t), Recheck: time.Hour, Settle: 3 * time.Second, EventGap: 100 * time.Millisecond}
		ctx, cancel := context.WithCancel(t.Context())
		w := startWatch(ctx, cfg)
		time.Sleep(5 * time.Second)
		cancel()
		<-w.err
		if got, want := w.transitions(), []string{"3s ready"}; !slices.Equal(got, want) {
			t.Errorf("transitions: got %q, want %q", got, want)
		}
	})
}

// TestWatchStormIsBounded: while ready, a storm of 2,000 changes in 1s
// starts at most one round per EventGap, the first at once — as in Wait.
func TestWatchStormIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flipper{start: time.Now(), up: true}
		events := make(chan struct{}, 1)
		cfg := tConfig{Targets: 1, Probe: f.probe, Schedule: schedule(t), Recheck: time.Hour, Events: events, EventGap: 100 * time.Millisecond}
		ctx, cancel := context.WithCancel(t.Context())
		w := startWatch(ctx, cfg)
		time.Sleep(time.Second)
		for range 2000 {
			select {
			case events <- struct{}{}:
			default:
			}
			time.Sleep(500 * time.Microsecond)
		}
		time.Sleep(time.Second)
		cancel()
		<-w.err
		starts := f.roundStarts()
		if len(starts) < 2 || starts[1] != time.Second {
			t.Errorf("the first change must start a round at once (1s): round starts %v", starts)
		}
		// The first round, one at the first change, at most one per
		// 100ms gap during the 1s storm, and the one left pending.
		if n := len(starts); n > 13 {
			t.Errorf("got %d rounds for a 1s storm, want at most 13: %v", n, starts)
		}
		if got := w.transitions(); !slices.Equal(got, []string{"0s ready"}) {
			t.Errorf("transitions: got %q, want only the first, ready", got)
		}
	})
}

// TestWatchAbandonsStuckRound: ready, a change starts a round that gets
// stuck (a resolver that was just replaced); the next change abandons it,
// and the outage the stuck probe would have reported is never reported.
func TestWatchAbandonsStuckRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flipper{start: time.Now(), up: true}
		events := make(chan struct{}, 1)
		cfg := tConfig{Targets: 1, Probe: f.probe, Schedule: schedule(t), Recheck: time.Hour, Events: events, EventGap: 100 * time.Millisecond}
		ctx, cancel := context.WithCancel(t.Context())
		w := startWatch(ctx, cfg)
		time.Sleep(time.Second)
		f.mu.Lock()
		f.stuck = true
		f.mu.Unlock()
		events <- struct{}{} // the round at 1s gets stuck
		time.Sleep(time.Second)
		f.mu.Lock()
		f.stuck = false
		f.mu.Unlock()
		events <- struct{}{} // abandons it; the round at 2s passes
		time.Sleep(10 * time.Second)
		cancel()
		<-w.err
		if got := w.transitions(); !slices.Equal(got, []string{"0s ready"}) {
			t.Errorf("transitions: got %q, want only the first, ready", got)
		}
		if got, want := f.roundStarts(), secs(0, 1, 2); !slices.Equal(got, want) {
			t.Errorf("round starts: got %v, want %v", got, want)
		}
	})
}

// TestWaitAnnounced: a local target that fails for a reason the kernel
// announces (no route, no carrier ...) is not polled every LocalInterval
// while the kernel's changes are watched: the change re-probes it, and
// the schedule re-checks it for safety. Without them, it is polled.
func TestWaitAnnounced(t *testing.T) {
	for _, tt := range []struct {
		name       string
		announced  bool // tConfig.Announced: netlink works
		wantRounds []time.Duration
	}{
		{"netlink works: on the change, the schedule as a safety net", true, secs(0, 5, 7)},
		{"netlink refused: polled every LocalInterval", false, secs(0, 0.25, 0.5, 0.75, 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				passAt := 7 * time.Second
				if !tt.announced {
					passAt = time.Second
				}
				p := newFakeProber(fakeTarget{passAt: passAt, local: true, announced: true})
				events := make(chan struct{}, 1)
				cfg := config(t, p)
				cfg.Events = events
				cfg.Announced = tt.announced
				if tt.announced {
					time.AfterFunc(7*time.Second, func() { events <- struct{}{} }) // the route appears
				}
				out, err := Wait(t.Context(), cfg)
				if err != nil || !out.Ready {
					t.Fatalf("got ready=%v err=%v, want ready", out.Ready, err)
				}
				if got := p.roundStarts(); !slices.Equal(got, tt.wantRounds) {
					t.Errorf("round starts: got %v, want %v", got, tt.wantRounds)
				}
			})
		})
	}
}

// TestWatchProgress: in Watch, every accepted round is reported, with
// the change events received so far, and Ready && !Settling is the
// readiness of the last transition (or of the one that follows at once),
// settling included: what a consumer of Progress alone (the metrics)
// shows as ready.
func TestWatchProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flipper{start: time.Now()}
		events := make(chan struct{}, 1)
		type report struct {
			at     time.Duration
			ready  bool
			events int
		}
		var (
			mu      sync.Mutex
			reports []report
			trs     []bool
		)
		start := time.Now()
		cfg := tConfig{Targets: 1, Probe: f.probe, Schedule: schedule(t), Recheck: 30 * time.Second, Settle: 2 * time.Second,
			Events: events, EventGap: 100 * time.Millisecond,
			Progress: func(p tProgress) {
				mu.Lock()
				defer mu.Unlock()
				reports = append(reports, report{time.Since(start), p.Ready && !p.Settling, p.Events})
			}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- Watch(ctx, cfg, func(tr tTransition) error {
				mu.Lock()
				defer mu.Unlock()
				// The report of the round that made this transition.
				if last := reports[len(reports)-1]; last.ready != tr.Ready {
					t.Errorf("transition ready=%v at %s, but the round's progress said ready=%v", tr.Ready, time.Since(start), last.ready)
				}
				trs = append(trs, tr.Ready)
				return nil
			})
		}()
		time.Sleep(time.Second) // the round at 0 fails
		f.set(true)
		events <- struct{}{}         // 1s: passes, settling until 3s
		time.Sleep(10 * time.Second) // 3s: settled, ready
		f.set(false)
		events <- struct{}{} // 11s: fails
		time.Sleep(time.Second)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		want := []report{
			{0, false, 0},
			{time.Second, false, 1},      // settling: not ready yet
			{3 * time.Second, true, 1},   // settled
			{11 * time.Second, false, 2}, // lost
		}
		if !slices.Equal(reports, want) {
			t.Errorf("progress: got %+v, want %+v", reports, want)
		}
		if want := []bool{false, true, false}; !slices.Equal(trs, want) {
			t.Errorf("transitions: got %v, want %v", trs, want)
		}
	})
}

// TestWaitEventBurst: a network comes up as a few changes one after the
// other (carrier, address, route): each of the first EventBurst after a
// quiet spell starts a round at once, with no EventGap between them; a
// storm after them is still paced at one round per EventGap.
func TestWaitEventBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newFakeProber(fakeTarget{passAt: time.Hour})
		events := make(chan struct{}, 1)
		cfg := config(t, p)
		s, _ := backoff.New(time.Hour, time.Hour, 3, 0)
		cfg.Schedule = s
		cfg.Events = events
		cfg.EventBurst = 3
		cfg.Timeout = 4 * time.Second
		go func() {
			time.Sleep(time.Second)
			for range 3 { // carrier, address, route: 10ms apart
				events <- struct{}{}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(time.Second)
			for range 1000 { // a storm, 1ms apart
				select {
				case events <- struct{}{}:
				default:
				}
				time.Sleep(time.Millisecond)
			}
		}()
		Wait(t.Context(), cfg)
		starts := p.roundStarts()
		if want := secs(0, 1, 1.01, 1.02); len(starts) < 4 || !slices.Equal(starts[:4], want) {
			t.Errorf("round starts: got %v, want %v first: each change of the burst at once", starts, want)
		}
		// The storm (2.03s to 3.03s): the bucket refilled (3 at once),
		// then one per 100ms gap, and the one left pending.
		if n := len(starts) - 4; n > 3+10+1 {
			t.Errorf("got %d rounds for a 1s storm, want at most 14: %v", n, starts)
		}
	})
}

// TestWatchFailingChanges: while not ready, Watch reports every change of
// the failing targets or of a failing target's Cause, once, at the round
// that saw it — not the rounds that saw nothing new, nor, while settling,
// a policy that holds.
func TestWatchFailingChanges(t *testing.T) {
	// What two targets fail with ("": pass) from each moment on; each
	// step comes with a change event, as a link going down does, so that
	// every target is probed at once.
	script := []struct {
		at   time.Duration
		a, b string
	}{
		{0, "resolver-down", ""},                     // the DNS server stops
		{10 * time.Second, "link-down", "link-down"}, // then the link goes down
		{20 * time.Second, "resolver-down", ""},      // the link is back, the DNS server is not
		{25 * time.Second, "resolver-timeout", ""},   // the same target, another cause
		{26 * time.Second, "", "port-closed"},        // another target
		{30 * time.Second, "", ""},                   // settling
		{31 * time.Second, "", "port-closed"},        // fails while settling, as before it
		{32 * time.Second, "", ""},                   // settles at 34s
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var (
			mu   sync.Mutex
			a, b string
			got  []string
		)
		probe := func(ctx context.Context, due []int, _ []tResult) []tResult {
			mu.Lock()
			defer mu.Unlock()
			res := make([]tResult, len(due))
			for j, i := range due {
				c := []string{a, b}[i]
				res[j] = tResult{OK: c == "", Cause: c, Local: true}
			}
			return res
		}
		events := make(chan struct{}, 1)
		cfg := tConfig{Targets: 2, Probe: probe, Schedule: schedule(t), LocalInterval: 250 * time.Millisecond,
			Recheck: time.Hour, Settle: 2 * time.Second, Events: events, EventGap: 100 * time.Millisecond, EventBurst: 10}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		set := func(x, y string) { mu.Lock(); a, b = x, y; mu.Unlock() }
		set(script[0].a, script[0].b)
		go func() {
			done <- Watch(ctx, cfg, func(tr tTransition) error {
				mu.Lock()
				defer mu.Unlock()
				s := fmt.Sprintf("%s ready=%v", time.Since(start), tr.Ready)
				for i, r := range tr.Results {
					if !r.OK {
						s += fmt.Sprintf(" %d:%s", i, r.Cause)
					}
				}
				got = append(got, s)
				return nil
			})
		}()
		for _, s := range script[1:] {
			time.Sleep(time.Until(start.Add(s.at)))
			set(s.a, s.b)
			events <- struct{}{}
		}
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		want := []string{
			"0s ready=false 0:resolver-down",
			"10s ready=false 0:link-down 1:link-down",
			"20s ready=false 0:resolver-down",
			"25s ready=false 0:resolver-timeout",
			"26s ready=false 1:port-closed",
			"34s ready=true",
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(got, want) {
			t.Errorf("transitions:\n got %q\nwant %q", got, want)
		}
	})
}
