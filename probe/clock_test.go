package probe

import (
	"context"
	"errors"
	"testing"
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
			return clockState{synced: true, maxError: 3e6, unsyncFlag: true}, nil
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

// TestReadClock reads the host's clock state (only reads: modes 0) and
// checks it is consistent with itself: synchronised exactly when the
// maximum error is under 16 s.
func TestReadClock(t *testing.T) {
	c, err := readClock()
	if err != nil {
		t.Fatalf("readClock: %v", err)
	}
	if c.synced != (c.maxError < maxErrorSynced) {
		t.Errorf("synced %v with maximum error %s: want synced exactly under %s", c.synced, c.maxError, maxErrorSynced)
	}
	t.Logf("this host's clock: synced=%v %s", c.synced, c.describe())
}
