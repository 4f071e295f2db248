package probe

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// KindClock is the scheme of clock:synced.
const KindClock Kind = "clock"

// ClockSynced is the one state a clock: target asks for.
const ClockSynced = "synced"

var clockKind = KindDef{
	Schemes:  []Kind{KindClock},
	Usage:    []Usage{{"clock:synced", "the kernel says the system clock is synchronised (NTP)"}},
	ManTitle: "clock:synced",
	Man: `The kernel says the system clock is synchronised: adjtimex(2), which only reads here, reports
a maximum error under 16 s, the test behind **timedatectl**'s NTPSynchronized=yes (the
STA_UNSYNC flag is ignored, as there: chrony and ntpd may set it to keep the kernel off the
RTC). It is a local target, re-checked every **--local-interval** while it fails. While the
clock is not synchronised, a tls or https target whose certificate is not yet valid or has
expired fails with cause **tls-clock**, naming the clock.`,
	Complete: []string{"clock:synced"},
	parse:    parseClock,
	format:   func(Target) string { return "clock:" + ClockSynced },
	probe:    probeClock,
}

func parseClock(raw, rest string) (Target, error) {
	rest, query, _ := strings.Cut(rest, "?")
	if rest != ClockSynced {
		return Target{}, &ParseError{raw, fmt.Sprintf("unknown clock state %q (want clock:synced)", rest)}
	}
	var t Target
	if err := setParams(raw, &t, KindClock, query); err != nil {
		return Target{}, err
	}
	return t, nil
}

// maxErrorSynced is systemd's bound (ntp_synced() in its time-util.c,
// behind timedatectl's NTPSynchronized): the kernel's maximum error grows
// by 500 ppm while no NTP client disciplines the clock, and is capped at
// 16 s (NTP_PHASE_LIMIT), when the kernel also sets STA_UNSYNC.
const maxErrorSynced = 16 * time.Second

// clockState is what adjtimex(2) says of the system clock.
type clockState struct {
	synced           bool
	maxError, estErr time.Duration
	unsyncFlag       bool // STA_UNSYNC, or the state TIME_ERROR
}

// readClock reads the kernel's clock state with adjtimex(2) and modes 0:
// it only reads, needs no privilege, and never changes the clock.
func readClock() (clockState, error) {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return clockState{}, fmt.Errorf("adjtimex: %w", err)
	}
	return clockOf(&tx, state), nil
}

// clockOf is what adjtimex's answer, tx and the clock's state (TIME_OK
// ... TIME_ERROR), says of the clock.
func clockOf(tx *unix.Timex, state int) clockState {
	max := time.Duration(tx.Maxerror) * time.Microsecond
	return clockState{
		synced:     max < maxErrorSynced,
		maxError:   max,
		estErr:     time.Duration(tx.Esterror) * time.Microsecond,
		unsyncFlag: tx.Status&unix.STA_UNSYNC != 0 || state == unix.TIME_ERROR,
	}
}

// clockHop is what a failure that blames the clock concerns.
const clockHop = "system clock"

// describe says what the kernel reports: "maximum error 16s (STA_UNSYNC)".
func (c clockState) describe() string {
	s := "maximum error " + c.maxError.String()
	if c.unsyncFlag {
		s += ", STA_UNSYNC set"
	}
	return s
}

// probeClock passes when the kernel says the system clock is synchronised.
func probeClock(_ context.Context, env *Env, _ Target) Result {
	res := Result{Local: true}
	c, err := env.clockState()
	switch {
	case err != nil:
		res.Err = fail(CauseOther, PhaseClock, clockHop, err)
	case !c.synced:
		res.Err = fail(CauseClockUnsynced, PhaseClock, clockHop, fmt.Errorf("the system clock is not synchronised: adjtimex reports %s (synchronised is under %s); it reads %s",
			c.describe(), maxErrorSynced, time.Now().UTC().Format(time.RFC3339)))
	default:
		res.Detail = fmt.Sprintf("synchronised: maximum error %s, estimated error %s", c.maxError, c.estErr)
	}
	return res
}
