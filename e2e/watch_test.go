package e2e

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/hostlock"
)

const watchUnit = "netready-watch.service"

// watchDefaults is the container's /etc/default/netready in
// TestIntegrationWatchUnit: the peer's route and port, and as the
// on-change command a shell that prints its environment and its own
// effective capabilities to the journal (the value is split on white
// space, no shell: ${IFS} gives the script its spaces).
const watchDefaults = `NETREADY_TARGETS="route:default4 tcp://` + onlineTCP + `"
NETREADY_ON_CHANGE=/bin/sh -c env;grep${IFS}CapEff${IFS}/proc/self/status
`

// TestIntegrationWatchUnit boots a container with the shipped
// netready-watch.service enabled, with the example textfile drop-in, and
// a network that comes up only later. Under the unit's hardening (a
// dynamic user, no capabilities, its seccomp filter and address families)
// watch serves /metrics and /ready on 127.0.0.1:10213, the unit's
// default: 503 and netready_ready 0 while the unit is still activating,
// 200 and 1 once the network is up and the unit is active (READY=1). It
// writes /run/netready/netready.prom, mode 0644, as its dynamic user, and
// runs the on-change command, as that user too, with the state in its
// environment.
func TestIntegrationWatchUnit(t *testing.T) {
	needTools(t)
	hostlock.UsrBin(t) // the container lays netready over /usr/bin
	n := newNetwork(t)
	n.container.IP(t, "link", "set", "ve0", "up") // no carrier yet
	serve(n.peer.Listen(t, onlineTCP))

	units := newUnitDir(t)
	units.install(t, "packaging/systemd/"+watchUnit, watchUnit)
	units.install(t, "packaging/examples/"+watchUnit+".d/textfile.conf", watchUnit+".d/textfile.conf")
	units.enable(t, "multi-user.target", watchUnit)
	c := boot(t, bootOptions{ns: n.container, units: units, defaults: watchDefaults})

	// A client in the container's network namespace.
	client := n.container.HTTPClient()
	get := func(path string) (int, string) {
		resp, err := client.Get("http://127.0.0.1:10213" + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	check := func(when, path string, code int, body string) {
		t.Helper()
		if got, b := get(path); got != code || !strings.Contains(b, body) {
			t.Errorf("%s: %s: got %d %q, want %d and %q", when, path, got, b, code, body)
		}
	}
	c.waitJournal(t, 30*time.Second, watchUnit, "netready", `msg="serving metrics" address=127.0.0.1:10213`)
	c.waitJournal(t, 30*time.Second, watchUnit, "netready", "not ready")
	if st := c.show(t, watchUnit, "ActiveState")["ActiveState"]; st != "activating" {
		t.Errorf("%s: ActiveState=%s while the network is down, want activating (no READY=1 yet)", watchUnit, st)
	}
	// No default route while the only link has no carrier: the link.
	check("not ready", "/ready", 503, "\nroute:default4 no-carrier: no IPv4 default route, and ve0, the only link, is down (no carrier)\n")
	check("not ready", "/metrics", 200, "\nnetready_ready 0\n")
	prom := func() string {
		out, _ := c.nsenter("cat", "/run/netready/netready.prom")
		return out
	}
	if !waitFor(10*time.Second, func() bool { return strings.Contains(prom(), "\nnetready_ready 0\n") }) {
		t.Errorf("/run/netready/netready.prom while not ready:\n%s", prom())
	}

	n.peer.IP(t, "link", "set", "ve1", "up")
	n.container.IP(t, "route", "add", "default", "via", peerAddr, "dev", "ve0")
	if !waitFor(20*time.Second, func() bool { return c.show(t, watchUnit, "ActiveState")["ActiveState"] == "active" }) {
		t.Fatalf("%s is not active 20s after the network came up; its journal:\n%s", watchUnit, c.journalDump(t, watchUnit))
	}
	check("ready", "/ready", 200, "ready\n")
	check("ready", "/metrics", 200, "\nnetready_ready 1\n")
	check("ready", "/metrics", 200, "\nprocess_cpu_seconds_total ")
	if !waitFor(10*time.Second, func() bool { return strings.Contains(prom(), "\nnetready_ready 1\n") }) {
		t.Errorf("/run/netready/netready.prom once ready:\n%s", prom())
	}
	st, err := c.nsenter("stat", "-c", "%a %u", "/run/netready/netready.prom")
	if err != nil {
		t.Fatalf("%v: %s", err, st)
	}
	mode, owner, _ := strings.Cut(strings.TrimSpace(st), " ")
	if uid, err := strconv.Atoi(owner); mode != "644" || err != nil || uid < dynamicUIDMin || uid > dynamicUIDMax {
		t.Errorf("/run/netready/netready.prom: mode %s, owner %s; want 644 (whatever the unit's UMask=0077), a dynamic user", mode, owner)
	}

	// The on-change command: the first verdict, then ready; as the unit's
	// dynamic user, with no capabilities.
	//
	// Its lines are matched by unit and text, not by process name:
	// journald reads a process's name from /proc when the line arrives,
	// and env has often exited by then (the line then has none).
	const hookComm = ""
	entries := c.journalWith(t, 10*time.Second,
		line{watchUnit, hookComm, []string{"NETREADY_READY=0"}},
		line{watchUnit, hookComm, []string{"NETREADY_READY=1"}},
	)
	// (The targets' cause, with no carrier, is the link's.)
	for _, want := range []string{"NETREADY_READY=0", "NETREADY_FAILING=route:default4 tcp://" + onlineTCP,
		"NETREADY_CAUSES=route:default4=no-carrier tcp://" + onlineTCP + "=", "NETREADY_READY=1"} {
		e, ok := first(entries, watchUnit, hookComm, want)
		if !ok {
			t.Errorf("no %q from the on-change command in the journal:\n%s", want, dump(of(entries, watchUnit)))
			continue
		}
		if uid, err := strconv.Atoi(e.uid); err != nil || uid < dynamicUIDMin || uid > dynamicUIDMax {
			t.Errorf("the on-change command wrote %q as uid %s, want a dynamic user", e.msg, e.uid)
		}
	}
	// Its capabilities as it says them itself: journald's own record of
	// them is missing for a process that exited before it looked.
	if _, ok := first(entries, watchUnit, hookComm, "CapEff:\t0000000000000000"); !ok {
		t.Errorf("the on-change command did not say it had no capabilities:\n%s", dump(of(entries, watchUnit)))
	}
	if _, ok := first(entries, watchUnit, hookComm, "NOTIFY_SOCKET="); ok {
		t.Errorf("the on-change command has NOTIFY_SOCKET in its environment")
	}
}

// journalDump is unit's part of the journal, for a failure message.
func (c *container) journalDump(t *testing.T, unit string) string {
	t.Helper()
	entries, err := c.journal()
	if err != nil {
		return err.Error()
	}
	return dump(of(entries, unit))
}
