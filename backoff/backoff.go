// Package backoff is the retry schedule of netready wait: 5s, 15s, 45s ...
// capped at 15m by default, with a small jitter, and never giving up by
// itself — the overall deadline is the caller's. It only computes
// intervals; the caller owns the timer, so that a network change can cut a
// wait short (cenkalti/backoff's Retry sleeps where nothing can wake it).
//
// It is the only importer of github.com/cenkalti/backoff.
package backoff

import (
	"fmt"
	"time"

	cb "github.com/cenkalti/backoff/v4"
)

// Defaults: the first retry after 5s, each later one three times as far,
// never more than 15 minutes apart.
const (
	DefaultInitial    = 5 * time.Second
	DefaultMax        = 15 * time.Minute
	DefaultMultiplier = 3
	// DefaultJitter spreads retries by ±10% so that many hosts booting at
	// once do not probe a shared server in lockstep.
	DefaultJitter = 0.1
)

// Schedule yields the intervals between failed rounds. It is not safe for
// concurrent use.
type Schedule struct {
	b   *cb.ExponentialBackOff
	max time.Duration
}

// New returns a schedule starting at initial, multiplied by multiplier after
// each interval, capped at max, each interval spread by ±jitter (a fraction;
// 0 for none) but never above max.
func New(initial, max time.Duration, multiplier, jitter float64) (*Schedule, error) {
	switch {
	case initial <= 0:
		return nil, fmt.Errorf("initial interval %s must be positive", initial)
	case max < initial:
		return nil, fmt.Errorf("maximum interval %s is below the initial interval %s", max, initial)
	case !(multiplier >= 1): // NaN too
		return nil, fmt.Errorf("multiplier %g must be at least 1", multiplier)
	case jitter < 0 || jitter >= 1:
		return nil, fmt.Errorf("jitter %g must be in [0, 1)", jitter)
	}
	b := cb.NewExponentialBackOff(
		cb.WithInitialInterval(initial),
		cb.WithMaxInterval(max),
		cb.WithMultiplier(multiplier),
		cb.WithRandomizationFactor(jitter),
		// The library gives up after 15 minutes by default; the gate's
		// --timeout is the only deadline, and 0 means forever.
		cb.WithMaxElapsedTime(0),
	)
	b.Reset()
	return &Schedule{b: b, max: max}, nil
}

// Next returns the interval to wait before the next round, and advances.
func (s *Schedule) Next() time.Duration {
	d := s.b.NextBackOff()
	if d <= 0 || d > s.max {
		// The jitter on an interval near time.Duration's limit (~292
		// years) overflows to a negative one.
		return s.max
	}
	return d
}

// Reset starts the schedule again from the initial interval: the network
// changed, so what failed before says little about what comes next.
func (s *Schedule) Reset() { s.b.Reset() }
