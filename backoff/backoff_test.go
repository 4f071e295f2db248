package backoff

import (
	"testing"
	"time"
)

func TestScheduleIntervals(t *testing.T) {
	tests := []struct {
		name         string
		initial, max time.Duration
		multiplier   float64
		want         []time.Duration
	}{
		{
			name:       "defaults: 5s, 15s, 45s ... capped at 15m",
			initial:    DefaultInitial,
			max:        DefaultMax,
			multiplier: DefaultMultiplier,
			want: []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 135 * time.Second,
				405 * time.Second, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute},
		},
		{
			name:    "multiplier 1 is a constant interval",
			initial: time.Second, max: time.Hour, multiplier: 1,
			want: []time.Duration{time.Second, time.Second, time.Second},
		},
		{
			name:    "max equal to initial",
			initial: 2 * time.Second, max: 2 * time.Second, multiplier: 3,
			want: []time.Duration{2 * time.Second, 2 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.initial, tt.max, tt.multiplier, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				if got := s.Next(); got != want {
					t.Errorf("interval %d: got %s, want %s", i, got, want)
				}
			}
		})
	}
}

// TestScheduleNeverGivesUp: cenkalti/backoff's default MaxElapsedTime of
// 15 minutes would return Stop (-1) after that much time; the schedule
// must keep returning the cap however long it runs.
func TestScheduleNeverGivesUp(t *testing.T) {
	s, err := New(time.Millisecond, 2*time.Millisecond, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The library measures elapsed time with the real clock: move its
	// start an hour into the past rather than sleeping.
	s.b.Reset()
	s.b.Clock = clockFunc(func() time.Time { return time.Now().Add(time.Hour) })
	for i := range 5 {
		if got := s.Next(); got <= 0 {
			t.Fatalf("interval %d after an hour: got %s, want a positive interval", i, got)
		}
	}
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func TestScheduleReset(t *testing.T) {
	s, err := New(5*time.Second, time.Minute, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Next()
	s.Next()
	if got := s.Next(); got != 45*time.Second {
		t.Fatalf("third interval: got %s, want 45s", got)
	}
	s.Reset()
	if got := s.Next(); got != 5*time.Second {
		t.Errorf("after Reset: got %s, want 5s", got)
	}
}

func TestScheduleJitterBounds(t *testing.T) {
	s, err := New(10*time.Second, 20*time.Second, 2, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		s.Reset()
		first := s.Next()
		if first < 9*time.Second || first > 11*time.Second+time.Nanosecond {
			t.Fatalf("try %d: first interval %s outside 10s ±10%%", i, first)
		}
		if second := s.Next(); second > 20*time.Second {
			t.Fatalf("try %d: second interval %s above the 20s cap", i, second)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name         string
		initial, max time.Duration
		mult, jitter float64
		want         string
	}{
		{"zero initial", 0, time.Second, 2, 0, "initial interval 0s must be positive"},
		{"max below initial", 2 * time.Second, time.Second, 2, 0, "maximum interval 1s is below the initial interval 2s"},
		{"multiplier below 1", time.Second, time.Minute, 0.5, 0, "multiplier 0.5 must be at least 1"},
		{"jitter 1", time.Second, time.Minute, 2, 1, "jitter 1 must be in [0, 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.initial, tt.max, tt.mult, tt.jitter)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got error %v, want %q", err, tt.want)
			}
		})
	}
}
