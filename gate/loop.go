package gate

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Result is what the gate needs to know of one attempt at one target,
// beside the prober's own account of it, of type V.
type Result[V any] struct {
	OK bool
	// Local reports that the attempt's traffic stayed on this host, so the
	// target may be re-checked every LocalInterval instead of on the
	// backoff schedule.
	Local bool
	// Announced reports that the attempt failed for a reason the kernel
	// announces when it goes away (a link down or without carrier, a
	// missing address or route): while Config.Announced, the target is
	// probed again on that change, and otherwise only on the schedule, as
	// a safety re-check — not every LocalInterval.
	Announced bool
	// Refused reports that the remote end said no at once: it actively
	// refused (a TCP reset, an ICMP port unreachable: its host is up, its
	// service not yet), or a resolver answered that a name is not there
	// (yet). A failing remote target that is refused is due again after
	// RefusedInterval, not on the schedule.
	Refused bool
	// Cause is why the attempt failed, in a word the gate only compares:
	// while Watch is not ready, a change of a failing target's Cause is
	// reported as a change of the failing set is.
	Cause string
	// Probed reports that an attempt finished: the gate sets it when it
	// accepts the round the attempt belongs to. A target's Result before
	// that is the zero Result.
	Probed bool
	// Value is the prober's own account of the attempt, handed back in
	// Progress, Transition and Outcome once the gate has accepted the round
	// it belongs to; the gate does not look at it.
	Value V
}

// Prober probes the targets whose indexes are in due, all at once, and
// returns their results in the same order. last[j] is the result the gate
// last accepted for due[j] (the zero Result before the first). It must
// return promptly once ctx is done; the gate then discards what it
// returned if the round was abandoned.
type Prober[V any] func(ctx context.Context, due []int, last []Result[V]) []Result[V]

// Schedule paces the rounds of targets whose traffic leaves the host.
type Schedule interface {
	Next() time.Duration
	Reset()
}

// Config is what Wait and Watch need. Targets, Probe and Schedule are
// required.
type Config[V any] struct {
	Targets  int
	Probe    Prober[V]
	Schedule Schedule
	// Any makes one passing target enough.
	Any bool
	// Timeout bounds Wait; 0 waits forever. Watch ignores it.
	Timeout time.Duration
	// Settle, when positive, declares ready only once every target has
	// kept passing, with no change event seen, for that long.
	Settle time.Duration
	// LocalInterval is how often a failing local target is re-checked.
	LocalInterval time.Duration
	// RefusedInterval is how often a failing remote target that is
	// refused is re-checked; 0 puts it on the schedule like any other.
	RefusedInterval time.Duration
	// Announced says that Events carries the kernel's link, address and
	// route changes (netlink works), so that a target failing for a
	// reason the kernel announces (Result.Announced) need not be polled.
	Announced bool
	// Recheck is how often Watch probes every target again while ready;
	// Wait ignores it.
	Recheck time.Duration
	// Events carries network changes; nil when there is no watcher. A
	// change makes every target due and resets the schedule.
	Events <-chan struct{}
	// EventGap and EventBurst bound how often changes start rounds, so
	// that a storm of them cannot make the gate spin: the first
	// EventBurst changes after a quiet spell each start a round at once
	// (a link's carrier, then its address, then its route: one change
	// after the other is how a network comes up), the ones after that at
	// most one per EventGap. EventBurst 0 counts as 1.
	EventGap   time.Duration
	EventBurst int
	// Progress, if set, is called after every round the gate accepted,
	// from the goroutine of Wait or Watch.
	Progress func(Progress[V])
}

// Progress describes the state after a round.
type Progress[V any] struct {
	Round int // rounds completed so far
	// Due are the targets the round probed; Results the latest accepted
	// result of every target. Neither may be kept.
	Due     []int
	Results []Result[V]
	// Ready reports that the policy holds (Settle may still be running).
	// In Watch, Ready && !Settling is the readiness Watch reports: that
	// of its last transition, or of the one it emits right after this
	// call.
	Ready bool
	Next  time.Duration // until the next round; 0 if none is planned
	// Settling reports that the policy holds and Settle is running.
	Settling bool
	// Events is the number of change events received so far.
	Events int
}

// Transition is what Watch reports: the first verdict, every change of
// readiness, and, while not ready, every change of the failing targets or
// of the Cause of one.
type Transition[V any] struct {
	Ready   bool
	Round   int
	Results []Result[V] // the latest result of every target; do not keep
}

// Outcome is how a wait ended.
type Outcome[V any] struct {
	Ready    bool
	Rounds   int // rounds completed
	Abandons int // rounds abandoned because the network changed
	Events   int // change events received
	// Results are the latest accepted result of every target (the zero
	// Result for one never probed to the end).
	Results  []Result[V]
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
func Wait[V any](ctx context.Context, cfg Config[V]) (Outcome[V], error) {
	start := time.Now()
	parent := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	w := newLoop(cfg, nil)
	err := w.run(ctx, parent)
	out := w.outcome()
	out.Elapsed = time.Since(start)
	if err != nil && parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = ErrTimeout
	} else if err != nil && parent.Err() != nil {
		err = context.Cause(parent)
	}
	return out, err
}

// Watch probes as Wait does, but never stops by itself: it calls emit with
// the first verdict (not ready, or ready once settled), with every change
// of readiness after it and, while not ready and the policy does not hold,
// after every round that changed which targets fail or why (Result.Cause)
// since the last call. While ready it probes every target again
// each Recheck, and at once (EventGap allowing) on a change; the first
// failing round makes it not ready, and it waits again as Wait does, the
// schedule started afresh. It returns ctx's cause once ctx is done, or the
// error of emit, and only after every probe it started has returned.
func Watch[V any](ctx context.Context, cfg Config[V], emit func(Transition[V]) error) error {
	w := newLoop(cfg, emit)
	err := w.run(ctx, ctx)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// loop is the state of one Wait or Watch.
type loop[V any] struct {
	cfg      Config[V]
	emit     func(Transition[V]) error // nil for Wait
	results  []Result[V]               // the latest accepted, per target
	dueAt    []time.Time               // zero: not due
	attempts []int
	events   <-chan struct{}

	rounds, abandons, nevents int
	abandonsInRow             int // rounds abandoned since the last completed one
	// The event bucket, in time: its level at creditAt (zero: full).
	credit       time.Duration
	creditAt     time.Time
	eventPending bool      // an event arrived: the next round is event-caused
	settleFrom   time.Time // when the policy began to hold, with no change since; zero if it does not
	ready        bool      // Watch: the last transition said ready
	told         bool      // Watch: a transition was emitted
	toldFailing  []string  // Watch: per target, the Cause the last transition saw it fail with; "" passing, failed when it failed without one
}

// failed stands for a failure without a Cause in toldFailing.
const failed = "\x00failed"

func newLoop[V any](cfg Config[V], emit func(Transition[V]) error) *loop[V] {
	w := &loop[V]{
		cfg:      cfg,
		emit:     emit,
		results:  make([]Result[V], cfg.Targets),
		dueAt:    make([]time.Time, cfg.Targets),
		attempts: make([]int, cfg.Targets),
		events:   cfg.Events,
	}
	w.allDue(time.Now())
	return w
}

func (w *loop[V]) outcome() Outcome[V] {
	return Outcome[V]{
		Ready: w.ready, Rounds: w.rounds, Abandons: w.abandons, Events: w.nevents,
		Results: append([]Result[V](nil), w.results...), Attempts: append([]int(nil), w.attempts...),
	}
}

func (w *loop[V]) allDue(t time.Time) {
	for i := range w.dueAt {
		w.dueAt[i] = t
	}
}

// holds reports whether the policy holds on the latest results.
func (w *loop[V]) holds() bool {
	ok := make([]bool, len(w.results))
	for i, r := range w.results {
		ok[i] = r.OK
	}
	return Ready(ok, w.cfg.Any)
}

// onEvent records a network change: everything is due, as soon as the
// event bucket allows; the schedule starts again; settling starts again.
func (w *loop[V]) onEvent() {
	w.nevents++
	w.eventPending = true
	w.cfg.Schedule.Reset()
	w.settleFrom = time.Time{}
	at := time.Now()
	if c := w.eventCredit(at); c < w.cfg.EventGap {
		at = at.Add(w.cfg.EventGap - c)
	}
	w.allDue(at)
}

// eventCredit is the event bucket's level at t, counted in time: each
// round a change starts takes EventGap from it, it refills at one second
// a second, and holds EventBurst × EventGap at most.
func (w *loop[V]) eventCredit(t time.Time) time.Duration {
	full := time.Duration(max(1, w.cfg.EventBurst)) * w.cfg.EventGap
	if w.creditAt.IsZero() {
		return full
	}
	return min(full, w.credit+t.Sub(w.creditAt))
}

// nextRound is the earliest due time, or never.
func (w *loop[V]) nextRound() time.Time {
	next := never
	for _, d := range w.dueAt {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// maxAbandonsInRow is how many rounds in a row a change may abandon. The
// next one runs to its end whatever changes meanwhile, so that changes
// arriving faster than a round takes (a container host creating veths all
// the time) cannot keep every round from finishing until --timeout.
const maxAbandonsInRow = 3

// run runs rounds until Wait is over (ready, or ctx done) or, for Watch,
// until ctx is done or emit fails. parent is Wait's own context, which
// only a caller's cancellation (a signal) ends: ctx also ends at the
// deadline.
func (w *loop[V]) run(ctx, parent context.Context) error {
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
				return ctx.Err()
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
				return ctx.Err()
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
			w.credit, w.creditAt = max(0, w.eventCredit(now)-w.cfg.EventGap), now
			w.eventPending = false
		}
		res, abandoned, changed := w.round(ctx, due)
		if abandoned {
			w.abandons++
			w.abandonsInRow++
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		w.abandonsInRow = 0
		w.rounds++
		w.record(due, res)
		if changed {
			// The network changed during a round that was not to be
			// abandoned: probe everything again, and settle from now.
			w.onEvent()
			now = time.Now()
		}
		if w.emit != nil {
			if ctx.Err() != nil {
				return ctx.Err() // a signal: no verdict from a cut-short round
			}
			if err := w.watchStep(now, due); err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil {
			// The deadline came during the round: its results are the
			// last word, and they may say ready. Not so if the caller
			// gave up (a signal): its attempts were cut short, not
			// finished.
			if parent.Err() == nil && w.holds() && w.cfg.Settle == 0 {
				w.ready = true
				return nil
			}
			return ctx.Err()
		}
		w.plan(due)
		if w.decide(now, len(due) == len(w.results), due) {
			w.ready = true
			w.progress(due, true, false)
			return nil
		}
	}
}

// watchStep decides, after a round of Watch that started at start, what
// comes next, and emits a transition if readiness changed.
func (w *loop[V]) watchStep(start time.Time, due []int) error {
	switch holds := w.holds(); {
	case w.ready && holds:
		w.allDue(start.Add(w.cfg.Recheck))
		w.progress(due, true, false)
		return nil
	case w.ready:
		// Lost: wait again, on a schedule started afresh.
		w.ready = false
		w.settleFrom = time.Time{}
		w.cfg.Schedule.Reset()
		w.plan(due)
		w.progress(due, false, false)
		return w.transition()
	}
	w.plan(due)
	if w.decide(start, len(due) == len(w.results), due) {
		w.ready = true
		w.cfg.Schedule.Reset()
		w.allDue(start.Add(w.cfg.Recheck))
		w.progress(due, true, false)
		return w.transition()
	}
	if !w.holds() && (!w.told || w.failingChanged()) {
		// The first verdict is a transition too, from not knowing; so is
		// a change of what fails while not ready.
		return w.transition()
	}
	return nil
}

func (w *loop[V]) transition() error {
	w.told = true
	w.toldFailing = w.failing(w.toldFailing[:0])
	return w.emit(Transition[V]{Ready: w.ready, Round: w.rounds, Results: w.results})
}

// failing appends to dst, per target, what it fails with now: its Cause,
// failed, or "" if it passes.
func (w *loop[V]) failing(dst []string) []string {
	for _, r := range w.results {
		switch {
		case r.OK:
			dst = append(dst, "")
		case r.Cause == "":
			dst = append(dst, failed)
		default:
			dst = append(dst, r.Cause)
		}
	}
	return dst
}

// failingChanged reports whether the failing targets, or the Cause of
// one, differ from those of the last transition.
func (w *loop[V]) failingChanged() bool {
	return !slices.Equal(w.failing(nil), w.toldFailing)
}

// eventOrClosed handles a receive from the events channel; a closed channel
// means no more events, and is never selected again.
func (w *loop[V]) eventOrClosed(open bool) {
	if !open {
		w.events = nil
		return
	}
	w.onEvent()
}

// round runs one round of the due targets. A change event during it
// abandons it (onEvent has then been applied), even one that comes with
// its results, since they may predate the change — unless
// maxAbandonsInRow rounds were abandoned in a row: this one then runs to
// its end and reports changed instead, and the caller applies the change
// after its results. The prober returns promptly once ctx ends, so the
// round ends with it too.
func (w *loop[V]) round(ctx context.Context, due []int) (res []Result[V], abandoned, changed bool) {
	last := make([]Result[V], len(due))
	for j, i := range due {
		last[j] = w.results[i]
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan []Result[V], 1)
	go func() { done <- w.cfg.Probe(rctx, due, last) }()
	abandon := w.abandonsInRow < maxAbandonsInRow
	for {
		select {
		case res := <-done:
			if abandon && !changed {
				select {
				case _, open := <-w.events:
					if open {
						w.onEvent()
						return nil, true, false
					}
					w.events = nil
				default:
				}
			}
			return res, false, changed
		case _, open := <-w.eventsUnless(changed):
			if !open {
				w.events = nil
				continue
			}
			if abandon {
				w.onEvent()
				cancel()
				<-done
				return nil, true, false
			}
			changed = true // later ones wait in the channel
		}
	}
}

// eventsUnless is w.events, or nil (never ready) once seen is true.
func (w *loop[V]) eventsUnless(seen bool) <-chan struct{} {
	if seen {
		return nil
	}
	return w.events
}

// record keeps a round's results.
func (w *loop[V]) record(due []int, res []Result[V]) {
	for j, i := range due {
		w.results[i] = res[j]
		w.results[i].Probed = true
		w.attempts[i]++
	}
}

// plan sets when each target of a round is due again: a passing one not
// at all; a failing one whose cause the kernel announces, while it does,
// on the change and, as a safety re-check, after the schedule's next
// interval (when it does not, after LocalInterval); a failing local one
// after LocalInterval; a failing remote one
// that was refused after RefusedInterval; any other failing remote one
// after the schedule's next interval. A refusal does not advance the
// schedule: a target that goes from refused to silent starts it where it
// was.
func (w *loop[V]) plan(due []int) {
	now := time.Now()
	var remote time.Duration
	for _, i := range due {
		r := w.results[i]
		w.dueAt[i] = never
		if r.OK {
			continue
		}
		announced := r.Announced && w.cfg.Announced && w.events != nil
		// Without netlink, a failure the kernel would have announced is
		// polled as a local one: finding it again sends nothing.
		if (r.Local || r.Announced) && !announced && w.cfg.LocalInterval > 0 {
			w.dueAt[i] = now.Add(w.cfg.LocalInterval)
			continue
		}
		if r.Refused && !announced && w.cfg.RefusedInterval > 0 {
			w.dueAt[i] = now.Add(w.cfg.RefusedInterval)
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
func (w *loop[V]) decide(start time.Time, full bool, due []int) bool {
	if !w.holds() {
		w.settleFrom = time.Time{}
		w.progress(due, false, false)
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
	w.progress(due, true, true)
	return false
}

func (w *loop[V]) progress(due []int, ready, settling bool) {
	if w.cfg.Progress == nil {
		return
	}
	p := Progress[V]{Round: w.rounds, Due: due, Results: w.results, Ready: ready, Settling: settling, Events: w.nevents}
	if next := w.nextRound(); !next.IsZero() && (!ready || settling || w.emit != nil) {
		p.Next = max(0, time.Until(next))
	}
	w.cfg.Progress(p)
}
