package main

// clock:synced, against the kernel's state read another way.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/netready/netready/internal/roottest"
)

// clockSynced says whether the kernel reports the system clock
// synchronised, read without netready: timedatectl's NTPSynchronized where
// timedated answers over D-Bus, else adjtimex(2) called by Python through
// ctypes (the C library's own adjtimex, modes 0: it only reads). Both apply
// systemd's test, a maximum error under 16 s.
func clockSynced(t *testing.T) bool {
	t.Helper()
	if out, err := exec.Command("timedatectl", "show", "-p", "NTPSynchronized", "--value").Output(); err == nil {
		v := strings.TrimSpace(string(out))
		t.Logf("timedatectl: NTPSynchronized=%s", v)
		return v == "yes"
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("neither timedatectl (with timedated) nor python3 to read the clock's state: %v", err)
	}
	// struct timex begins: unsigned int modes; long offset, freq,
	// maxerror, esterror; int status; then more the kernel fills in.
	const script = `
import ctypes
class Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("rest", ctypes.c_byte * 256)]
tx = Timex()
libc = ctypes.CDLL(None, use_errno=True)
if libc.adjtimex(ctypes.byref(tx)) < 0:
    raise OSError(ctypes.get_errno(), "adjtimex")
print(tx.maxerror)
`
	cmd := exec.Command(python, "-c", script)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 adjtimex: %v: %s", err, out)
	}
	var maxErrorUS int64
	if _, err := fmt.Sscan(string(out), &maxErrorUS); err != nil {
		t.Fatalf("python3 adjtimex: %q: %v", out, err)
	}
	t.Logf("adjtimex (python3 ctypes): maxerror %dµs", maxErrorUS)
	return maxErrorUS < 16_000_000
}

// TestIntegrationClock: clock:synced says what the kernel says, read
// another way on the same machine (the host's clock is only read, never
// set).
func TestIntegrationClock(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	w := fail("the system clock is not synchronised: adjtimex reports maximum error").because("clock-unsynced").hinting("NTP client")
	if clockSynced(t) {
		w = pass().showing("synchronised: maximum error")
	}
	out := checkTargets(t, l.client, opts{}, []string{"clock:synced"}, []want{w})
	t.Logf("netready: %+v", out.doc.Targets[0])
}
