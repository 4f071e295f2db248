package gate

import (
	"context"
	"errors"
	"time"
)

// Result is what the gate needs to know of one attempt at one target.
type Result struct {
	OK bool
	// Local reports that the attempt's traffic stayed on this host, so the
	// target may be re-checked every LocalInterval instead of on the
	// backoff schedule.
	Local bool
}

// Prober probes the targets whose indexes are in due, all at once, and
// returns their results in the same order. It must return promptly once ctx
// is done; the gate then discards what it returned if the round was
// abandoned.
type Prober func(ctx context.Context, due []int) []Result

// Schedule paces the rounds of targets whose traffic leaves the host.
type Schedule interface {
	Next() time.Duration
	Reset()
}

// Config is what Wait needs. Targets, Probe and Schedule are required.
type Config struct {
	Targets  int
	Probe    Prober
	Schedule Schedule
	// Any makes one passing target enough.
	Any bool
	// Timeout bounds the whole wait; 0 waits forever.
	Timeout time.Duration
	// Settle, when positive, declares ready only once every target has
	// kept passing, with no change event seen, for that long.
	Settle time.Duration
	// LocalInterval is how often a failing local target is re-checked.
	LocalInterval time.Duration
	// Events carries network changes; nil when there is no watcher. A
	// change makes every target due and resets the schedule.
	Events <-chan struct{}
	// EventGap is the least time between the starts of two rounds that
	// change events started, so that a storm of changes cannot make the
	// gate spin. The first change after a quiet spell is acted on at once.
	EventGap time.Duration
	// Progress, if set, is called after every round, from Wait's
	// goroutine.
	Progress func(Progress)
}

// Progress describes the state after a round.
type Progress struct {
	Round int           // rounds completed so far
	OK    []bool        // latest result of each target; do not keep
	Ready bool          // the policy holds (Settle may still be running)
	Next  time.Duration // until the next round; 0 if none is planned
	// Settling reports that the policy holds and Settle is running.
	Settling bool
}

// Outcome is how a wait ended.
type Outcome struct {
	Ready    bool
	Rounds   int // rounds completed
	Abandons int // rounds abandoned because the network changed
	Events   int // change events received
	OK       []bool
	Attempts []int // completed attempts per target
	Elapsed  time.Duration
}

// ErrTimeout is returned when Config.Timeout expires before ready.
var ErrTimeout = errors.New("timed out")

// never is a due time that is never reached.
var never = time.Time{}

// Wait probes in rounds until the policy holds (for Settle, if set), the
// timeout expires (ErrTimeout) or ctx is done (its cause). The first round
// starts at once and probes every target. After it, a failing target is
// due again after LocalInterval if it is local, else after the schedule's
// next interval; a passing target is not probed again unless the network
// changes or Settle needs a confirming round. A change event abandons the
// round in flight, resets the schedule and makes every target due.
//
// Wait returns only after every probe it started has returned.
func Wait(ctx context.Context, cfg Config) (Outcome, error) {
	start := time.Now()
	parent := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	w := &waiter{
		cfg:      cfg,
		ok:       make([]bool, cfg.Targets),
		local:    make([]bool, cfg.Targets),
		dueAt:    make([]time.Time, cfg.Targets),
		attempts: make([]int, cfg.Targets),
		events:   cfg.Events,
	}
	w.allDue(start)
	out, err := w.loop(ctx, parent)
	out.Elapsed = time.Since(start)
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = ErrTimeout
	} else if err != nil && parent.Err() != nil {
		err = context.Cause(parent)
	}
	return out, err
}

type waiter struct {
	cfg      Config
	ok       []bool
	local    []bool
	dueAt    []time.Time // zero: not due
	attempts []int
	events   <-chan struct{}

	rounds, abandons, nevents int
	abandonsInRow             int       // rounds abandoned since the last completed one
	lastEventRound            time.Time // start of the last round an event caused
	eventPending              bool      // an event arrived: the next round is event-caused
	settleFrom                time.Time // when the policy began to hold, with no change since; zero if it does not
}

func (w *waiter) outcome(ready bool) Outcome {
	return Outcome{
		Ready: ready, Rounds: w.rounds, Abandons: w.abandons, Events: w.nevents,
		OK: append([]bool(nil), w.ok...), Attempts: append([]int(nil), w.attempts...),
	}
}

func (w *waiter) allDue(t time.Time) {
	for i := range w.dueAt {
		w.dueAt[i] = t
	}
}

// onEvent records a network change: everything is due, as soon as the
// event gap allows; the schedule starts again; settling starts again.
func (w *waiter) onEvent() {
	w.nevents++
	w.eventPending = true
	w.cfg.Schedule.Reset()
	w.settleFrom = time.Time{}
	at := time.Now()
	if !w.lastEventRound.IsZero() {
		at = later(at, w.lastEventRound.Add(w.cfg.EventGap))
	}
	w.allDue(at)
}

// nextRound is the earliest due time, or never.
func (w *waiter) nextRound() time.Time {
	next := never
	for _, d := range w.dueAt {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// MaxAbandonsInRow is how many rounds in a row a change may abandon. The
// next one runs to its end whatever changes meanwhile, so that changes
// arriving faster than a round takes (a container host creating veths all
// the time) cannot keep every round from finishing until --timeout.
const MaxAbandonsInRow = 3

// loop runs rounds until the wait is over. parent is Wait's own context,
// which only a caller's cancellation (a signal) ends: ctx also ends at the
// deadline.
func (w *waiter) loop(ctx, parent context.Context) (Outcome, error) {
	for {
		// Wait for the next round, a change, or the end.
		next := w.nextRound()
		if next.IsZero() {
			// Nothing due: only a change or the end can follow.
			select {
			case _, open := <-w.events:
				w.eventOrClosed(open)
				continue
			case <-ctx.Done():
				return w.outcome(false), ctx.Err()
			}
		}
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case _, open := <-w.events:
				t.Stop()
				w.eventOrClosed(open)
				continue
			case <-ctx.Done():
				t.Stop()
				return w.outcome(false), ctx.Err()
			}
		}

		// Probe what is due.
		now := time.Now()
		var due []int
		for i, d := range w.dueAt {
			if !d.IsZero() && !d.After(now) {
				due = append(due, i)
			}
		}
		if w.eventPending {
			w.lastEventRound = now
			w.eventPending = false
		}
		res, abandoned, changed := w.round(ctx, due)
		if abandoned {
			w.abandons++
			w.abandonsInRow++
			continue
		}
		w.abandonsInRow = 0
		w.rounds++
		w.apply(due, res)
		if changed {
			// The network changed during a round that was not to be
			// abandoned: probe everything again, and settle from now.
			w.onEvent()
			now = time.Now()
		}
		if ctx.Err() != nil {
			// The deadline came during the round: its results are the
			// last word, and they may say ready. Not so if the caller
			// gave up (a signal): its attempts were cut short, not
			// finished.
			if parent.Err() == nil && Ready(w.ok, w.cfg.Any) && w.cfg.Settle == 0 {
				return w.outcome(true), nil
			}
			return w.outcome(false), ctx.Err()
		}
		if w.decide(now, len(due) == len(w.ok)) {
			w.progress(true, false)
			return w.outcome(true), nil
		}
	}
}

// eventOrClosed handles a receive from the events channel; a closed channel
// means no more events, and is never selected again.
func (w *waiter) eventOrClosed(open bool) {
	if !open {
		w.events = nil
		return
	}
	w.onEvent()
}

// round runs one round. A change event during it abandons it (onEvent has
// then been applied), even one that comes with its results, since they may
// predate the change — unless MaxAbandonsInRow rounds were abandoned in a
// row: this one then runs to its end and reports changed instead, and the
// caller applies the change after its results. The prober returns promptly
// once ctx ends, so the round ends with it too.
func (w *waiter) round(ctx context.Context, due []int) (res []Result, abandoned, changed bool) {
	if w.abandonsInRow < MaxAbandonsInRow {
		res, changed := RoundUnlessChanged(ctx, w.cfg.Probe, due, w.events)
		if changed {
			w.onEvent()
			return nil, true, false
		}
		return res, false, false
	}
	done := make(chan []Result, 1)
	go func() { done <- w.cfg.Probe(ctx, due) }()
	for {
		select {
		case res := <-done:
			return res, false, changed
		case _, open := <-w.eventsUnless(changed):
			if !open {
				w.events = nil
				continue
			}
			changed = true // later ones wait in the channel
		}
	}
}

// RoundUnlessChanged runs probe over due unless a change arrives on events
// first, or together with the results, which may then predate it. If so it
// cancels the round, waits for probe to return, and reports changed; the
// change event is consumed. A nil or closed events never reports a change.
func RoundUnlessChanged(ctx context.Context, probe Prober, due []int, events <-chan struct{}) (res []Result, changed bool) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan []Result, 1)
	go func() { done <- probe(rctx, due) }()
	for {
		select {
		case res := <-done:
			select {
			case _, open := <-events:
				if open {
					return nil, true
				}
			default:
			}
			return res, false
		case _, open := <-events:
			if !open {
				events = nil
				continue
			}
			cancel()
			<-done
			return nil, true
		}
	}
}

// eventsUnless is w.events, or nil (never ready) once seen is true.
func (w *waiter) eventsUnless(seen bool) <-chan struct{} {
	if seen {
		return nil
	}
	return w.events
}

// apply records a round's results and plans when each failing target is
// due again.
func (w *waiter) apply(due []int, res []Result) {
	now := time.Now()
	var remote time.Duration
	for j, i := range due {
		r := res[j]
		w.ok[i], w.local[i] = r.OK, r.Local
		w.attempts[i]++
		w.dueAt[i] = never
		if r.OK {
			continue
		}
		if r.Local && w.cfg.LocalInterval > 0 {
			w.dueAt[i] = now.Add(w.cfg.LocalInterval)
			continue
		}
		if remote == 0 {
			remote = w.cfg.Schedule.Next() // once per round, not per target
		}
		w.dueAt[i] = now.Add(remote)
	}
}

// decide applies the policy after a round that started at start (full says
// it probed every target) and plans a confirming round while settling. It
// reports whether the wait is over.
func (w *waiter) decide(start time.Time, full bool) bool {
	if !Ready(w.ok, w.cfg.Any) {
		w.settleFrom = time.Time{}
		w.progress(false, false)
		return false
	}
	if w.cfg.Settle <= 0 {
		return true
	}
	if w.settleFrom.IsZero() {
		w.settleFrom = start
	}
	if full && start.Sub(w.settleFrom) >= w.cfg.Settle {
		return true
	}
	// Confirm with a round of every target once Settle has passed.
	w.allDue(w.settleFrom.Add(w.cfg.Settle))
	w.progress(true, true)
	return false
}

func (w *waiter) progress(ready, settling bool) {
	if w.cfg.Progress == nil {
		return
	}
	p := Progress{Round: w.rounds, OK: w.ok, Ready: ready, Settling: settling}
	if next := w.nextRound(); !next.IsZero() && (!ready || settling) {
		p.Next = max(0, time.Until(next))
	}
	w.cfg.Progress(p)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
