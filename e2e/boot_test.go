package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/hostlock"

	"github.com/netready/netready/internal/netnstest"
)

const waitOnline = "netready-wait-online.service"

// The container's only network: ve0 in its namespace, ve1 in the peer's.
// Every target is the peer, so no packet leaves the two namespaces.
const (
	containerAddr = "10.213.7.2"
	peerAddr      = "10.213.7.1"
	onlineTCP     = peerAddr + ":8080" // netready-wait-online's TCP target: listening all along
	gateTCP       = peerAddr + ":8081" // the ExecStartPre= gate's target: listening only later
	closedTCP     = peerAddr + ":8082" // the timing-out gate's target: never listening
)

// Dynamic users get UIDs (and GIDs) from this range (systemd's
// DYNAMIC_UID_MIN and DYNAMIC_UID_MAX).
const dynamicUIDMin, dynamicUIDMax = 61184, 65519

// onlineDefaults is the container's /etc/default/netready in TestIntegrationBoot.
// Remote targets (tcp, icmp) are re-probed on the backoff schedule or on a
// network change; with the schedule at 30s, netready ready within
// netlinkBound of the network coming up has seen the kernel's events.
const onlineDefaults = `NETREADY_TARGETS="route:default4 tcp://` + onlineTCP + ` icmp://` + peerAddr + `"
NETREADY_BACKOFF_INITIAL=30s
`

// netlinkBound is how soon after the network comes up netready must be
// ready for it to have reacted to netlink: its next scheduled round is 27s
// or more away (30s, ±10% jitter). It takes 0.2 to 2s here.
const netlinkBound = 15 * time.Second

// myappDropIn turns the shipped example myapp.service (Wants= and After=
// network-online.target) into one that leaves a line in the journal.
const myappDropIn = `[Service]
ExecStart=
ExecStart=/bin/echo "myapp: started"
RemainAfterExit=yes
`

// gatedUnit is held back by netready in ExecStartPre=, as
// packaging/examples/foo.service.d/netready.conf shows. It is not ordered
// after network-online.target: it starts early in the boot and waits there.
// Its target starts listening with no network change netready could see,
// so only the schedule finds it: rounds every 500ms.
const gatedUnit = `[Unit]
Description=e2e: held back by a netready gate

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/usr/bin/netready wait --timeout 60s --backoff-initial 500ms --backoff-max 500ms tcp://` + gateTCP + `
ExecStart=/bin/echo "e2e-gated: started"
TimeoutStartSec=90s
`

// gateTimeout is the --timeout of timeoutUnit's gate.
const gateTimeout = 3 * time.Second

// timeoutUnit's gate waits for a port nobody listens on, with the network up.
var timeoutUnit = `[Unit]
Description=e2e: a netready gate that times out
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=/usr/bin/netready wait --timeout ` + gateTimeout.String() + ` tcp://` + closedTCP + `
ExecStart=/bin/echo "e2e-timeout: started"
`

// network is a veth pair: ve0 (10.213.7.2/24) in the container's
// namespace, ve1 (10.213.7.1/24) in the peer's, both down.
type network struct {
	container, peer *netnstest.NS
}

func newNetwork(t *testing.T) network {
	t.Helper()
	n := network{container: netnstest.New(t), peer: netnstest.New(t)}
	netnstest.Veth(t, n.container, "ve0", n.peer, "ve1")
	n.container.IP(t, "addr", "add", containerAddr+"/24", "dev", "ve0")
	n.peer.IP(t, "addr", "add", peerAddr+"/24", "dev", "ve1")
	// Unprivileged ICMP sockets, as packaging/examples/sysctl.d/
	// 60-netready-ping.conf documents. /proc/sys is read-only in the
	// container: set from outside, in its namespace.
	n.container.Sysctl(t, "net.ipv4.ping_group_range", "0 2147483647")
	return n
}

// TestIntegrationBoot boots a container whose network works only once the test brings
// it up, a few seconds after netready-wait-online.service started waiting,
// and checks what the unit, and an ExecStartPre= gate, promise.
func TestIntegrationBoot(t *testing.T) {
	needTools(t)
	hostlock.UsrBin(t) // the container lays netready over /usr/bin
	netreadyBin(t)     // built before the clock of the phases starts
	n := newNetwork(t)
	// The cable is in, the other end is down: ve0 has no carrier.
	n.container.IP(t, "link", "set", "ve0", "up")
	serve(n.peer.Listen(t, onlineTCP))

	units := newUnitDir(t)
	units.install(t, "packaging/systemd/"+waitOnline, waitOnline)
	units.enable(t, "network-online.target", waitOnline)
	units.install(t, "packaging/examples/myapp.service", "myapp.service")
	units.write(t, "myapp.service.d/e2e.conf", myappDropIn)
	units.enable(t, "multi-user.target", "myapp.service")
	units.write(t, "e2e-gated.service", gatedUnit)
	units.enable(t, "multi-user.target", "e2e-gated.service")
	units.write(t, "e2e-timeout.service", timeoutUnit)
	units.enable(t, "multi-user.target", "e2e-timeout.service")

	begin := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(begin).Seconds(), what) }
	c := boot(t, bootOptions{ns: n.container, units: units, defaults: onlineDefaults})
	phase("booted")

	// netready is waiting: its first round has failed.
	c.waitJournal(t, 30*time.Second, waitOnline, "netready", "not ready")
	phase("netready waiting")
	checkSharedClock(t, c)
	mainPID := c.show(t, waitOnline, "MainPID")["MainPID"]
	procStatus, err := c.nsenter("cat", "/proc/"+mainPID+"/status")
	if err != nil {
		t.Fatalf("%v: %s", err, procStatus)
	}
	time.Sleep(time.Second)

	// The network comes up: the peer's end, then the default route.
	netUp := monoNow(t)
	n.peer.IP(t, "link", "set", "ve1", "up")
	n.container.IP(t, "route", "add", "default", "via", peerAddr, "dev", "ve0")
	phase("network up at " + fmtMono(netUp))

	active := func(unit string) func() bool {
		return func() bool {
			out, _ := c.systemctl("is-active", unit)
			return strings.TrimSpace(out) == "active"
		}
	}
	settled := func(unit string) func() bool {
		return func() bool {
			out, _ := c.systemctl("is-active", unit)
			s := strings.TrimSpace(out)
			return s == "active" || s == "failed"
		}
	}
	waitFor(netlinkBound+5*time.Second, active(waitOnline))
	phase(waitOnline + " active")

	// The gate's netready, re-probing at once on the network change, is
	// refused; its target starts listening a moment later.
	refused := c.waitJournal(t, 20*time.Second, "e2e-gated.service", "netready", "connection refused")
	time.Sleep(time.Second)
	gateUp := monoNow(t)
	serve(n.peer.Listen(t, gateTCP))
	phase("gate's target listening at " + fmtMono(gateUp))

	for _, u := range []string{"e2e-gated.service", "e2e-timeout.service", "myapp.service"} {
		waitFor(20*time.Second, settled(u))
	}
	phase("units settled")
	// The boot is over (degraded: e2e-timeout.service failed), so that
	// systemd-analyze has the whole picture.
	var sysState string
	if !waitFor(20*time.Second, func() bool {
		out, _ := c.systemctl("is-system-running")
		sysState = strings.TrimSpace(out)
		return sysState == "running" || sysState == "degraded"
	}) {
		jobs, _ := c.systemctl("list-jobs")
		t.Errorf("the boot is not over: %s; jobs:\n%s", sysState, jobs)
	}
	phase("boot over: " + sysState)
	entries := c.journalWith(t, 10*time.Second,
		line{waitOnline, "netready", []string{"ready: 3/3 targets pass"}},
		line{"myapp.service", "", []string{"myapp: started"}},
		line{"e2e-gated.service", "", []string{"e2e-gated: started"}},
		line{"e2e-timeout.service", "netready", []string{"not ready: 0/1 targets pass"}},
	)
	props := []string{"ActiveState", "Result", "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic",
		"ActiveEnterTimestampMonotonic", "InactiveExitTimestampMonotonic", "StateChangeTimestampMonotonic", "User", "DynamicUser"}
	state := map[string]map[string]string{}
	for _, u := range []string{waitOnline, "network-online.target", "myapp.service", "e2e-gated.service", "e2e-timeout.service"} {
		state[u] = c.show(t, u, props...)
	}
	chain, err := c.nsenter("systemd-analyze", "critical-chain", "--no-pager", "myapp.service")
	if err != nil {
		t.Errorf("%v: %s", err, chain)
	}
	t.Logf("critical chain:\n%s", chain)

	t.Run("after network-online", func(t *testing.T) {
		checkOrdering(t, entries, state, chain, netUp)
	})
	t.Run("ExecStartPre gate", func(t *testing.T) {
		checkGate(t, entries, state["e2e-gated.service"], netUp, gateUp, refused)
	})
	t.Run("gate timeout", func(t *testing.T) {
		checkGateTimeout(t, entries, state["e2e-timeout.service"])
	})
	t.Run("hardened", func(t *testing.T) {
		checkHardened(t, entries, state[waitOnline], procStatus, netUp)
	})
}

// checkSharedClock checks that the container's journal stamps entries with
// the host's CLOCK_MONOTONIC, which every comparison here relies on.
func checkSharedClock(t *testing.T, c *container) {
	t.Helper()
	entries, err := c.journal()
	if err != nil {
		t.Fatal(err)
	}
	now := monoNow(t)
	if len(entries) == 0 || entries[0].mono < c.startMono || entries[0].mono > now {
		t.Fatalf("the container's first journal entry is not stamped between nspawn's start (%s) and now (%s): %v; a time namespace?",
			fmtMono(c.startMono), fmtMono(now), entries[:min(1, len(entries))])
	}
}

// checkOrdering: netready-wait-online.service waited from boot until after
// the network came up, network-online.target followed it, and myapp.service
// (ordered after network-online.target) started only after netready said
// ready.
func checkOrdering(t *testing.T, entries []entry, state map[string]map[string]string, chain string, netUp int64) {
	wo, online, app := state[waitOnline], state["network-online.target"], state["myapp.service"]
	unitLog := dump(of(entries, waitOnline))
	if wo["ActiveState"] != "active" || wo["Result"] != "success" {
		t.Fatalf("%s: ActiveState=%s Result=%s, want active, success; its journal:\n%s", waitOnline, wo["ActiveState"], wo["Result"], unitLog)
	}
	start := monoProp(t, wo, "ExecMainStartTimestampMonotonic")
	if start == 0 || start >= netUp {
		t.Errorf("netready started at %s, want before the network came up at %s", fmtMono(start), fmtMono(netUp))
	}
	waiting, _ := first(entries, waitOnline, "netready", "not ready")
	if waiting.mono == 0 || waiting.mono >= netUp {
		t.Errorf("netready's first \"not ready\" line at %s, want one before the network came up at %s; its journal:\n%s", fmtMono(waiting.mono), fmtMono(netUp), unitLog)
	}
	// Journal lines are stamped when journald reads them from the stream,
	// a little after they are written: orderings come from systemd's own
	// timestamps, the lines say what netready said.
	if _, ok := first(entries, waitOnline, "netready", "ready: 3/3 targets pass"); !ok {
		t.Errorf("no \"ready: 3/3 targets pass\" line from netready; its journal:\n%s", unitLog)
	}
	exit := monoProp(t, wo, "ExecMainExitTimestampMonotonic")
	woActive := monoProp(t, wo, "ActiveEnterTimestampMonotonic")
	if exit <= netUp || woActive < exit {
		t.Errorf("%s: netready exited at %s, the unit became active at %s: want both after the network came up at %s, in that order", waitOnline, fmtMono(exit), fmtMono(woActive), fmtMono(netUp))
	}
	if got := monoProp(t, online, "ActiveEnterTimestampMonotonic"); got < woActive {
		t.Errorf("network-online.target reached at %s, want after %s became active at %s", fmtMono(got), waitOnline, fmtMono(woActive))
	}
	if app["ActiveState"] != "active" {
		t.Fatalf("myapp.service: ActiveState=%s, want active; its journal:\n%s", app["ActiveState"], dump(of(entries, "myapp.service")))
	}
	if got := monoProp(t, app, "ExecMainStartTimestampMonotonic"); got < woActive {
		t.Errorf("myapp.service started at %s, want after %s became active at %s", fmtMono(got), waitOnline, fmtMono(woActive))
	}
	if _, ok := first(entries, "myapp.service", "", "myapp: started"); !ok {
		t.Errorf("no \"myapp: started\" line in the journal:\n%s", dump(of(entries, "myapp.service")))
	}
	// systemd's own account: the chain that held myapp.service back.
	i, j := strings.Index(chain, "network-online.target @"), strings.Index(chain, waitOnline+" @")
	if i < 0 || j < i {
		t.Errorf("systemd-analyze critical-chain myapp.service: want network-online.target, then %s under it:\n%s", waitOnline, chain)
	}
}

// checkGate: e2e-gated.service was started early in the boot, and its
// ExecStartPre=netready wait held its ExecStart= back until its target
// listened, well after the network itself came up.
func checkGate(t *testing.T, entries []entry, st map[string]string, netUp, gateUp int64, refused entry) {
	const unit = "e2e-gated.service"
	unitLog := dump(of(entries, unit))
	if st["ActiveState"] != "active" || st["Result"] != "success" {
		t.Fatalf("%s: ActiveState=%s Result=%s, want active, success; its journal:\n%s", unit, st["ActiveState"], st["Result"], unitLog)
	}
	var starting entry
	for _, e := range entries {
		if e.about == unit && strings.HasPrefix(e.msg, "Starting ") {
			starting = e
			break
		}
	}
	if starting.mono == 0 || starting.mono >= netUp {
		t.Errorf("systemd started %s at %s, want before the network came up at %s; its journal:\n%s", unit, fmtMono(starting.mono), fmtMono(netUp), unitLog)
	}
	if refused.mono <= netUp || refused.mono >= gateUp || !strings.Contains(refused.msg, "tcp://"+gateTCP) {
		t.Errorf("the gate's %q at %s: want it naming tcp://%s, between the network coming up (%s) and the target listening (%s)",
			refused.msg, fmtMono(refused.mono), gateTCP, fmtMono(netUp), fmtMono(gateUp))
	}
	if _, ok := first(entries, unit, "netready", "ready: 1/1 targets pass"); !ok {
		t.Errorf("no \"ready: 1/1 targets pass\" line from the gate; the unit's journal:\n%s", unitLog)
	}
	if got := monoProp(t, st, "ExecMainStartTimestampMonotonic"); got <= gateUp {
		t.Errorf("%s's ExecStart= ran at %s, want after its gate's target listened at %s", unit, fmtMono(got), fmtMono(gateUp))
	}
	if _, ok := first(entries, unit, "", "e2e-gated: started"); !ok {
		t.Errorf("no \"e2e-gated: started\" line from %s's ExecStart=; its journal:\n%s", unit, unitLog)
	}
}

// checkGateTimeout: e2e-timeout.service's gate gave up at its --timeout,
// the unit failed without running ExecStart=, and the journal has
// netready's report naming the target and why it fails.
func checkGateTimeout(t *testing.T, entries []entry, st map[string]string) {
	const unit = "e2e-timeout.service"
	unitLog := dump(of(entries, unit))
	if st["ActiveState"] != "failed" || st["Result"] != "exit-code" {
		t.Errorf("%s: ActiveState=%s Result=%s, want failed, exit-code; its journal:\n%s", unit, st["ActiveState"], st["Result"], unitLog)
	}
	if got := monoProp(t, st, "ExecMainStartTimestampMonotonic"); got != 0 {
		t.Errorf("%s's ExecStart= ran at %s, want never", unit, fmtMono(got))
	}
	if e, ok := first(entries, unit, "", "e2e-timeout: started"); ok {
		t.Errorf("%s's ExecStart= wrote %q, want it never run", unit, e.msg)
	}
	for _, want := range [][]string{
		{"not ready after " + gateTimeout.String()},
		{"tcp://" + closedTCP, "FAIL", "connection refused"},
		{"not ready: 0/1 targets pass"},
	} {
		if _, ok := first(entries, unit, "netready", want...); !ok {
			t.Errorf("no netready line with %q in %s's journal:\n%s", want, unit, unitLog)
		}
	}
	// systemd's own record of the unit: when it left "inactive" (its
	// start job began, before ExecStartPre= was forked) and when it
	// entered "failed". The journal's timestamps would be journald's,
	// taken when it read each message: a busy journald at boot once made
	// the unit seem to fail 25ms before the gate's --timeout.
	started := monoProp(t, st, "InactiveExitTimestampMonotonic")
	failed := monoProp(t, st, "StateChangeTimestampMonotonic")
	if started == 0 || failed == 0 {
		t.Fatalf("%s: InactiveExitTimestampMonotonic=%d StateChangeTimestampMonotonic=%d, want both set:\n%s", unit, started, failed, unitLog)
	}
	if took := time.Duration(failed-started) * time.Microsecond; took < gateTimeout || took > gateTimeout+5*time.Second {
		t.Errorf("%s failed %v after it started, want a little over the gate's --timeout %v", unit, took, gateTimeout)
	}
}

// checkHardened: netready-wait-online.service ran as a dynamic user, with
// no capability, no_new_privs and a seccomp filter, and still saw netlink
// events, the routing table, TCP and ICMP.
func checkHardened(t *testing.T, entries []entry, st map[string]string, procStatus string, netUp int64) {
	if st["DynamicUser"] != "yes" || st["User"] == "" {
		t.Errorf("%s: DynamicUser=%s User=%s, want yes and a name", waitOnline, st["DynamicUser"], st["User"])
	}
	var lines []entry
	for _, e := range entries {
		if e.unit == waitOnline && e.comm == "netready" {
			lines = append(lines, e)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no netready line in %s's journal", waitOnline)
	}
	for _, e := range lines {
		uid, errU := strconv.Atoi(e.uid)
		gid, errG := strconv.Atoi(e.gid)
		if errU != nil || errG != nil || uid < dynamicUIDMin || uid > dynamicUIDMax || gid < dynamicUIDMin || gid > dynamicUIDMax {
			t.Errorf("netready wrote %q as uid %q gid %q, want both in the dynamic range %d-%d", e.msg, e.uid, e.gid, dynamicUIDMin, dynamicUIDMax)
		}
		if e.capEff != "0" {
			t.Errorf("netready wrote %q with effective capabilities %s, want 0", e.msg, e.capEff)
		}
	}
	// The process itself, while it waited.
	ps := parseStatus(procStatus)
	uid := lines[0].uid
	want := map[string]string{
		"Uid":        strings.Repeat(uid+"\t", 3) + uid,
		"CapInh":     "0000000000000000",
		"CapPrm":     "0000000000000000",
		"CapEff":     "0000000000000000",
		"CapBnd":     "0000000000000000",
		"CapAmb":     "0000000000000000",
		"NoNewPrivs": "1",
		"Seccomp":    "2",
	}
	for k, v := range want {
		if ps[k] != v {
			t.Errorf("/proc/PID/status of netready while it waited: %s %q, want %q", k, ps[k], v)
		}
	}
	// Netlink: a change, not the 30s schedule, made it probe again. Routes,
	// TCP, ICMP: every target passed.
	for _, e := range lines {
		if strings.Contains(e.msg, "netlink") {
			t.Errorf("netready logged %q: want netlink to work in the sandbox", e.msg)
		}
	}
	if _, ok := first(entries, waitOnline, "netready", "ready: 3/3 targets pass"); !ok {
		t.Errorf("no \"ready: 3/3 targets pass\" line from netready (route:default4, tcp, icmp):\n%s", dump(lines))
	}
	if took := time.Duration(monoProp(t, st, "ExecMainExitTimestampMonotonic")-netUp) * time.Microsecond; took > netlinkBound {
		t.Errorf("netready exited ready %v after the network came up, want under %v: a change seen by netlink, not the next round 30s later", took, netlinkBound)
	} else {
		t.Logf("netready exited ready %v after the network came up", took)
	}
}

// timeoutDefaults is the container's /etc/default/netready in
// TestIntegrationWaitOnlineTimeout: targets only the network that never comes up can
// satisfy, and a short timeout.
const timeoutDefaults = `NETREADY_TARGETS="route:default4 tcp://` + onlineTCP + `"
NETREADY_TIMEOUT=3s
`

// TestIntegrationWaitOnlineTimeout boots a container whose network never comes up:
// netready-wait-online.service fails at NETREADY_TIMEOUT with netready's
// report in the journal, and network-online.target is reached anyway, so
// that services ordered after it start late rather than never (as
// packaging/default/netready says).
func TestIntegrationWaitOnlineTimeout(t *testing.T) {
	needTools(t)
	hostlock.UsrBin(t) // the container lays netready over /usr/bin
	n := newNetwork(t) // ve0 stays down: no route to anywhere
	units := newUnitDir(t)
	units.install(t, "packaging/systemd/"+waitOnline, waitOnline)
	units.enable(t, "network-online.target", waitOnline)
	units.install(t, "packaging/examples/myapp.service", "myapp.service")
	units.write(t, "myapp.service.d/e2e.conf", myappDropIn)
	units.enable(t, "multi-user.target", "myapp.service")

	begin := time.Now()
	c := boot(t, bootOptions{ns: n.container, units: units, defaults: timeoutDefaults})
	t.Logf("%6.2fs booted", time.Since(begin).Seconds())
	var sysState string
	if !waitFor(30*time.Second, func() bool {
		out, _ := c.systemctl("is-system-running")
		sysState = strings.TrimSpace(out)
		return sysState == "running" || sysState == "degraded"
	}) {
		jobs, _ := c.systemctl("list-jobs")
		t.Fatalf("the boot is not over after 30s: %s; jobs:\n%s", sysState, jobs)
	}
	t.Logf("%6.2fs boot over: %s", time.Since(begin).Seconds(), sysState)
	entries := c.journalWith(t, 10*time.Second, line{waitOnline, "netready", []string{"not ready: 0/2 targets pass"}})
	props := []string{"ActiveState", "Result", "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic", "ExecMainStatus", "ActiveEnterTimestampMonotonic"}
	wo := c.show(t, waitOnline, props...)
	unitLog := dump(of(entries, waitOnline))

	if wo["ActiveState"] != "failed" || wo["Result"] != "exit-code" || wo["ExecMainStatus"] != "1" {
		t.Errorf("%s: ActiveState=%s Result=%s ExecMainStatus=%s, want failed, exit-code, 1; its journal:\n%s",
			waitOnline, wo["ActiveState"], wo["Result"], wo["ExecMainStatus"], unitLog)
	}
	start, exit := monoProp(t, wo, "ExecMainStartTimestampMonotonic"), monoProp(t, wo, "ExecMainExitTimestampMonotonic")
	if took := time.Duration(exit-start) * time.Microsecond; took < 3*time.Second || took > 8*time.Second {
		t.Errorf("netready ran %v, want a little over NETREADY_TIMEOUT=3s", took)
	}
	for _, want := range [][]string{
		{"not ready after 3s"},
		{"route:default4", "FAIL", "no IPv4 default route"},
		{"tcp://" + onlineTCP, "FAIL"},
		{"not ready: 0/2 targets pass"},
	} {
		if _, ok := first(entries, waitOnline, "netready", want...); !ok {
			t.Errorf("no netready line with %q in %s's journal:\n%s", want, waitOnline, unitLog)
		}
	}
	if e, ok := first(entries, waitOnline, "netready", "ready: 2/2"); ok {
		t.Errorf("netready said %q with no network", e.msg)
	}

	online := c.show(t, "network-online.target", props...)
	if online["ActiveState"] != "active" {
		t.Errorf("network-online.target: ActiveState=%s, want active (reached even though %s failed)", online["ActiveState"], waitOnline)
	} else if got := monoProp(t, online, "ActiveEnterTimestampMonotonic"); got < exit {
		t.Errorf("network-online.target reached at %s, want after netready gave up at %s", fmtMono(got), fmtMono(exit))
	}
	app := c.show(t, "myapp.service", props...)
	if app["ActiveState"] != "active" {
		t.Errorf("myapp.service: ActiveState=%s, want active: started late rather than never", app["ActiveState"])
	} else if got := monoProp(t, app, "ExecMainStartTimestampMonotonic"); got < exit {
		t.Errorf("myapp.service started at %s, want after netready gave up at %s", fmtMono(got), fmtMono(exit))
	}
}
