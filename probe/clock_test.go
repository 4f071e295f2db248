package probe

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestClock: clock:synced passes on what the kernel's reading says, and is
// a local target.
func TestClock(t *testing.T) {
	tests := []struct {
		name  string
		clock func() (clockState, error)
		want  want
	}{
		{"synchronised", syncedClock, want{ok: true, detail: "synchronised: maximum error 2ms, estimated error 1ms"}},
		{"not synchronised", unsyncedClock, want{
			err:   []string{"the system clock is not synchronised: adjtimex reports maximum error 16s, STA_UNSYNC set (synchronised is under 16s); it reads "},
			cause: CauseClockUnsynced,
			hint:  "is an NTP client (systemd-timesyncd, chrony, ntpd) running",
		}},
		{"STA_UNSYNC alone is ignored, as systemd does", func() (clockState, error) {
			return clockOf(&unix.Timex{Maxerror: 3000, Status: unix.STA_UNSYNC}, unix.TIME_OK), nil
		}, want{ok: true, detail: "synchronised: maximum error 3ms"}},
		{"adjtimex fails", func() (clockState, error) { return clockState{}, errors.New("adjtimex: operation not permitted") }, want{
			err: []string{"adjtimex: operation not permitted"}, cause: CauseOther,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := loopbackEnv(t, noResolvers, "")
			env.clock = tc.clock
			r := Probe(context.Background(), env, mustParse(t, "clock:synced"))
			tc.want.check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true")
			}
		})
	}
}

// clockOf reads adjtimex's fields as the kernel fills them: microseconds,
// the STA_UNSYNC bit of the status, the TIME_ERROR state.
func TestClockOf(t *testing.T) {
	for _, c := range []struct {
		name  string
		tx    unix.Timex
		state int
		want  clockState
	}{
		{"disciplined", unix.Timex{Maxerror: 2500, Esterror: 120}, unix.TIME_OK,
			clockState{synced: true, maxError: 2500 * time.Microsecond, estErr: 120 * time.Microsecond}},
		{"just under 16s", unix.Timex{Maxerror: 15_999_999}, unix.TIME_OK,
			clockState{synced: true, maxError: 15_999_999 * time.Microsecond}},
		{"at the 16s cap, STA_UNSYNC", unix.Timex{Maxerror: 16_000_000, Esterror: 16_000_000, Status: 0x0041}, unix.TIME_ERROR,
			clockState{maxError: 16 * time.Second, estErr: 16 * time.Second, unsyncFlag: true}},
		{"STA_UNSYNC with a small error (chrony keeping the kernel off the RTC)", unix.Timex{Maxerror: 3000, Status: 0x0040}, unix.TIME_OK,
			clockState{synced: true, maxError: 3 * time.Millisecond, unsyncFlag: true}},
		{"TIME_ERROR alone", unix.Timex{Maxerror: 3000}, unix.TIME_ERROR,
			clockState{synced: true, maxError: 3 * time.Millisecond, unsyncFlag: true}},
		{"other status bits", unix.Timex{Maxerror: 3000, Status: 0x2001}, unix.TIME_OK,
			clockState{synced: true, maxError: 3 * time.Millisecond}},
	} {
		if got := clockOf(&c.tx, c.state); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestReadClock reads the host's clock state (only reads: modes 0) and
// checks it against clock_adjtime(2) on CLOCK_REALTIME, the same
// kernel state asked another way: the kernel updates the maximum error
// once a second, by 500 ppm at most, so two readings a moment apart agree
// within a millisecond.
func TestReadClock(t *testing.T) {
	c, err := readClock()
	if err != nil {
		t.Fatalf("readClock: %v", err)
	}
	var tx unix.Timex
	state, err := unix.ClockAdjtime(unix.CLOCK_REALTIME, &tx)
	if err != nil {
		t.Fatalf("clock_adjtime: %v", err)
	}
	other := time.Duration(tx.Maxerror) * time.Microsecond
	if d := c.maxError - other; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("maximum error: readClock %s, clock_adjtime %s", c.maxError, other)
	}
	if unsync := tx.Status&unix.STA_UNSYNC != 0 || state == unix.TIME_ERROR; c.unsyncFlag != unsync {
		t.Errorf("STA_UNSYNC or TIME_ERROR: readClock %v, clock_adjtime status %#x state %d", c.unsyncFlag, tx.Status, state)
	}
	t.Logf("this host's clock: synced=%v %s", c.synced, c.describe())
}
