package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/hostlock"
	"github.com/netready/netready/internal/netnstest"
)

// The tests here boot a container whose network is configured by a real
// network stack, the way Debian users run it, as a DHCP client of a dnsmasq
// in a peer namespace: systemd-networkd with systemd-resolved as the stub
// resolver, NetworkManager with its internal DHCP client, and ifupdown with
// isc-dhcp-client. The stacks' packages the host lacks are unpacked by
// scripts/container-root.sh and seen only inside the container (laid over
// its /usr and under its /etc); none is installed on the host, whose
// network and resolv.conf their maintainer scripts would take over.
//
// The DHCP server answers at once and names itself as the DNS server, but
// its DNS side starts late: a second dnsmasq, serving the zone ready.test,
// starts some seconds after the lease (a router, a Pi-hole or a VM host's
// resolver booting beside its clients after a power cut). Until then the
// stack's own wait-online says online; netready-wait-online, whose targets
// need ready.test to resolve through the stack's resolver, holds
// network-online.target until it does, so that a service ordered after
// network-online.target resolves the name at its first try.

// What netready's journal ("not ready" lines) and STATUS= say while
// ready.test does not resolve: the cause word of the target, then what its
// query saw.
const (
	// The resolver DHCP named answers with an ICMP port unreachable: no
	// DNS server listens there yet.
	waitedRefused = "resolver-down"
	// systemd-resolved's stub answers SERVFAIL for an upstream that
	// refuses.
	waitedServfail = "resolver-servfail"
	// systemd-resolved's stub answers REFUSED while it has no DNS server
	// to ask (before the lease), which its uplink resolv.conf shows.
	waitedNoServer = "no-resolver"
)

// waitingOn is what a "not ready" line of netready must contain while it
// waits for ready.test because resolver (an address, port 53) fails with
// cause.
func waitingOn(resolver, cause string) []string {
	return []string{"not ready", "dns:" + readyName, resolver + ":53", cause}
}

// readyLine is what netready says once both targets pass.
const readyLine = "ready: 2/2 targets pass"

// statusOn is what STATUS= must contain meanwhile.
func statusOn(resolver, cause string) []string {
	return waitingOn(resolver, cause)[1:]
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

const (
	readyName = "ready.test" // the name the DNS server serves, as its own address
	readyPort = "8080"       // a TCP port listening on the server all along
	// stackDefaults is the container's /etc/default/netready: both
	// targets need ready.test to resolve through the stack's resolver.
	stackDefaults = `NETREADY_TARGETS="dns:` + readyName + ` tcp://` + readyName + `:` + readyPort + `"
NETREADY_TIMEOUT=100s
`
	// dnsDelay: the DNS server starts this long after the lease at the
	// earliest (later, if netready or the stack's wait-online have not
	// had their say yet).
	dnsDelay = 3 * time.Second
	// Generous bounds for one boot's steps; they take 0.5 to 10s here.
	leaseTimeout = 60 * time.Second
	stepTimeout  = 60 * time.Second
	readyTimeout = 90 * time.Second // DNS up → the service after network-online.target ran
)

// resolveUnit runs once network-online.target is reached, and must resolve
// name at its first and only try.
func resolveUnit(name string) string {
	return `[Unit]
Description=e2e: resolves ` + name + ` once the network is online
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/getent hosts ` + name + `
`
}

// earlyUnit runs once the stack's own wait-online units are done, and says
// whether name resolved then.
func earlyUnit(name string, own []string) string {
	return `[Unit]
Description=e2e: resolves ` + name + ` once the stack's own wait-online is done
Wants=` + strings.Join(own, " ") + `
After=` + strings.Join(own, " ") + `

[Service]
Type=oneshot
RemainAfterExit=yes
# glibc's resolver gives up after 1s, not 5s: a refusing server may cost it
# a timeout (one ICMP error for the A and AAAA queries of one socket).
Environment="RES_OPTIONS=timeout:1 attempts:1"
ExecStart=/bin/sh -c 'getent hosts ` + name + `; echo "e2e-early: getent exit $?"'
`
}

// stack is a network stack the container boots with.
type stack struct {
	name   string
	subnet string   // the /24 of the link, as "10.213.N"
	pkgs   []string // Debian packages seen only in the container
	own    []string // the stack's own wait-online units, timed beside netready
	// stub is the address of the stack's local stub resolver in
	// resolv.conf, if it has one; otherwise resolv.conf names the DNS
	// server the lease named.
	stub string
	// cause is what netready says of that resolver while the DNS server
	// does not answer yet (waitedRefused or waitedServfail).
	cause string
	// setup writes the stack's configuration into the container's /etc
	// and enables its units.
	setup func(t *testing.T, etc etcTree, units unitDir)
}

// networkdResolved: systemd-networkd (from the host's /usr) as the DHCP
// client, systemd-resolved (unpacked) as the stub resolver on 127.0.0.53.
var networkdResolved = stack{
	name:   "systemd-networkd + systemd-resolved",
	subnet: "10.213.41",
	pkgs:   []string{"systemd-resolved"},
	own:    []string{"systemd-networkd-wait-online.service"},
	stub:   "127.0.0.53",
	cause:  waitedServfail,
	setup: networkdSetup(`[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
`),
}

// networkManager: NetworkManager (unpacked, with the libraries the host
// lacks) with its internal DHCP client, writing /etc/resolv.conf itself.
var networkManager = stack{
	name:   "NetworkManager",
	subnet: "10.213.42",
	pkgs:   []string{"network-manager"},
	own:    []string{"NetworkManager-wait-online.service"},
	cause:  waitedRefused,
	setup:  networkManagerSetup("dhcp=internal\n", "auto", "disabled"),
}

// networkdSetup configures systemd-networkd on host0 with network (its
// [Network] section and any after it) and systemd-resolved as the stub
// resolver, and enables their units and systemd-networkd-wait-online.
func networkdSetup(network string) func(t *testing.T, etc etcTree, units unitDir) {
	return func(t *testing.T, etc etcTree, units unitDir) {
		etc.write(t, "systemd/network/10-e2e-host0.network", "[Match]\nName=host0\n\n"+network, 0o644)
		// Nothing but the link's DNS servers: no compiled-in fallback
		// servers (no packet to another address), no multicast.
		etc.write(t, "systemd/resolved.conf.d/e2e.conf", `[Resolve]
FallbackDNS=
LLMNR=no
MulticastDNS=no
DNSSEC=no
`, 0o644)
		// As the systemd-resolved package's postinst makes it.
		etc.symlink(t, "resolv.conf", "../run/systemd/resolve/stub-resolv.conf")
		units.enableShipped(t, "sysinit.target", "systemd-resolved.service")
		units.enableShipped(t, "multi-user.target", "systemd-networkd.service")
		units.enableShipped(t, "sockets.target", "systemd-networkd.socket")
		units.enableShipped(t, "network-online.target", "systemd-networkd-wait-online.service")
	}
}

// networkManagerSetup configures NetworkManager with one connection on
// host0 whose ipv4 and ipv6 methods are given, main (lines of its [main]
// section) beside the test's own, and enables it and
// NetworkManager-wait-online.
func networkManagerSetup(main, ipv4, ipv6 string) func(t *testing.T, etc etcTree, units unitDir) {
	return func(t *testing.T, etc etcTree, units unitDir) {
		etc.write(t, "NetworkManager/conf.d/90-e2e.conf", "[main]\n"+main+`no-auto-default=*
auth-polkit=false

[connectivity]
enabled=false
`, 0o644)
		// NetworkManager reads a keyfile only if root alone may.
		etc.write(t, "NetworkManager/system-connections/e2e-host0.nmconnection", `[connection]
id=e2e-host0
type=ethernet
interface-name=host0
autoconnect=true

[ipv4]
method=`+ipv4+`

[ipv6]
method=`+ipv6+"\n", 0o600)
		units.enableShipped(t, "multi-user.target", "NetworkManager.service")
		units.enableShipped(t, "network-online.target", "NetworkManager-wait-online.service")
	}
}

// ifupdown: ifupdown's networking.service running dhclient (both unpacked),
// dhclient-script writing /etc/resolv.conf.
var ifupdown = stack{
	name:   "ifupdown + isc-dhcp-client",
	subnet: "10.213.43",
	pkgs:   []string{"ifupdown", "isc-dhcp-client"},
	own:    []string{"networking.service", "ifupdown-wait-online.service"},
	cause:  waitedRefused,
	setup: func(t *testing.T, etc etcTree, units unitDir) {
		etc.write(t, "network/interfaces", `auto lo
iface lo inet loopback

auto host0
iface host0 inet dhcp
`, 0o644)
		// dhclient's lease directory, which the package ships and /var,
		// a tmpfs here, lacks.
		units.write(t, "networking.service.d/e2e.conf", "[Service]\nExecStartPre=/bin/mkdir -p /var/lib/dhcp\n")
		units.enableShipped(t, "multi-user.target", "networking.service")
		units.enableShipped(t, "network-online.target", "networking.service")
		units.enableShipped(t, "network-online.target", "ifupdown-wait-online.service")
	},
}

// stackNet is a veth pair: host0 in the container's namespace, configured
// by the stack; ve1 in the server's, SUBNET.1/24, up.
type stackNet struct {
	container, server *netnstest.NS
	serverAddr        string
	subnet            string
}

func newStackNet(t *testing.T, subnet string) stackNet {
	t.Helper()
	n := stackNet{container: netnstest.New(t), server: netnstest.New(t), serverAddr: subnet + ".1", subnet: subnet}
	netnstest.Veth(t, n.container, "host0", n.server, "ve1")
	n.server.IP(t, "addr", "add", n.serverAddr+"/24", "dev", "ve1")
	n.server.IP(t, "link", "set", "ve1", "up")
	return n
}

// dhcpArgs make dnsmasq a DHCP server on ve1 whose leases name it as router
// and DNS server.
func (n stackNet) dhcpArgs(t *testing.T) []string {
	return []string{
		"--interface=ve1",
		"--dhcp-range=" + n.subnet + ".100," + n.subnet + ".199,255.255.255.0,1h",
		"--dhcp-option=option:router," + n.serverAddr,
		"--dhcp-option=option:dns-server," + n.serverAddr,
		"--dhcp-authoritative",
		"--dhcp-leasefile=" + filepath.Join(t.TempDir(), "leases"),
	}
}

// dnsArgs make dnsmasq the DNS server of the zone test on SUBNET.1:53,
// ready.test being its own address; every query is logged.
func (n stackNet) dnsArgs() []string {
	return []string{
		"--listen-address=" + n.serverAddr, "--port=53",
		"--local=/test/", "--host-record=" + readyName + "," + n.serverAddr,
		"--log-queries",
	}
}

// stackUnits is the container's /etc/systemd/system and /etc for s, with
// netready-wait-online.service and the unit that resolves ready.test after
// network-online.target enabled, and with early the unit that resolves it
// after the stack's own wait-online.
func stackUnits(t *testing.T, s stack, early bool) (unitDir, etcTree) {
	t.Helper()
	units := newUnitDir(t)
	etc := newEtcTree(t)
	units.install(t, "packaging/systemd/"+waitOnline, waitOnline)
	units.enable(t, "network-online.target", waitOnline)
	units.write(t, "e2e-resolve.service", resolveUnit(readyName))
	units.enable(t, "multi-user.target", "e2e-resolve.service")
	if early {
		units.write(t, "e2e-early.service", earlyUnit(readyName, s.own))
		units.enable(t, "multi-user.target", "e2e-early.service")
	}
	s.setup(t, etc, units)
	return units, etc
}

// journalOnFailure logs the end of the container's journal, and systemd's
// failed units, should t fail: what the stack did. It must be called after
// boot, so that it runs before the container is powered off.
func (c *container) journalOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		entries, err := c.journal()
		if err != nil {
			t.Logf("journal: %v", err)
		}
		const max = 250
		if len(entries) > max {
			entries = entries[len(entries)-max:]
		}
		failed, _ := c.systemctl("list-units", "--failed", "--no-legend")
		jobs, _ := c.systemctl("list-jobs", "--no-legend")
		t.Logf("the container's journal (its end):\n%s\nfailed units:\n%s\njobs:\n%s", dump(entries), failed, jobs)
	})
}

// resolver is the address netready asks for ready.test through the stack.
func (s stack) resolver(n stackNet) string {
	if s.stub != "" {
		return s.stub
	}
	return n.serverAddr
}

// lockUsr takes the host's /usr lock (another test binary may be
// installing the .deb there), saying how long it waited.
func lockUsr(t *testing.T) {
	t.Helper()
	begin := time.Now()
	hostlock.UsrBin(t)
	if d := time.Since(begin); d > time.Second {
		t.Logf("waited %v for the /usr lock", d.Round(time.Millisecond))
	}
}

func (c *container) isActive(unit string) func() bool {
	return func() bool {
		out, _ := c.systemctl("is-active", unit)
		return strings.TrimSpace(out) == "active"
	}
}

func (c *container) settled(unit string) func() bool {
	return func() bool {
		out, _ := c.systemctl("is-active", unit)
		s := strings.TrimSpace(out)
		return s == "active" || s == "failed"
	}
}

// bootOver waits for the boot to be over (running or degraded).
func (c *container) bootOver(t *testing.T) {
	t.Helper()
	var state string
	if !waitFor(stepTimeout, func() bool {
		out, _ := c.systemctl("is-system-running")
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded"
	}) {
		jobs, _ := c.systemctl("list-jobs")
		t.Fatalf("the boot is not over after %v: %s; jobs:\n%s", stepTimeout, state, jobs)
	}
}

// bootState is what the booted container says once its boot is over:
// the journal entries of netready's readiness and of e2e-resolve's
// answer, and the properties (unitProps) of netready-wait-online,
// network-online.target, e2e-resolve.service and units.
func (c *container) bootState(t *testing.T, units ...string) (entries []entry, state map[string]map[string]string) {
	t.Helper()
	entries = c.journalWith(t, 10*time.Second,
		line{waitOnline, "netready", []string{readyLine}},
		line{"e2e-resolve.service", "", []string{readyName}},
	)
	state = map[string]map[string]string{}
	for _, u := range append([]string{waitOnline, "network-online.target", "e2e-resolve.service"}, units...) {
		state[u] = c.show(t, u, unitProps...)
	}
	return entries, state
}

// since formats the time from ref to mono (CLOCK_MONOTONIC, µs) as signed
// seconds.
func since(ref, mono int64) string {
	return fmt.Sprintf("%+.3fs", float64(mono-ref)/1e6)
}

var unitProps = []string{"ActiveState", "Result", "ExecMainStatus", "NRestarts",
	"ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic", "ActiveEnterTimestampMonotonic"}

func TestIntegrationNetworkdResolvedLateDNS(t *testing.T) { testLateDNS(t, networkdResolved) }
func TestIntegrationNetworkManagerLateDNS(t *testing.T)   { testLateDNS(t, networkManager) }
func TestIntegrationIfupdownLateDNS(t *testing.T)         { testLateDNS(t, ifupdown) }

// bootStack boots the container of stack s on network n, with the
// stack's packages (unpacked in root) over its /usr and /etc; early says
// whether the probe unit that resolves before DNS is up is installed. It
// returns the container, the monotonic time of the boot's start and a
// logger of phases since then.
func bootStack(t *testing.T, s stack, n stackNet, root string, early bool) (c *container, begin int64, phase func(string)) {
	t.Helper()
	units, etc := stackUnits(t, s, early)
	begin = monoNow(t)
	phase = func(what string) { t.Logf("%7s %s", since(begin, monoNow(t)), what) }
	c = boot(t, bootOptions{
		ns: n.container, units: units, defaults: stackDefaults,
		usr: []string{filepath.Join(root, "usr")},
		etc: []string{filepath.Join(root, "etc"), string(etc)},
		// The stack configures the container's links: its namespace,
		// the test's.
		caps: []string{"CAP_NET_ADMIN"},
	})
	return c, begin, phase
}

// testLateDNS boots the container with stack s, a DHCP server answering at
// once and a DNS server started after the lease, and checks that
// netready-wait-online held network-online.target until ready.test
// resolved, that the service after network-online.target resolved it at
// its first try, and that netready's journal says what it waited for.
func testLateDNS(t *testing.T, s stack) {
	needStackTools(t)
	root := containerRoot(t, s.pkgs...)
	lockUsr(t) // the container lays netready and the packages over /usr
	netreadyBin(t)
	n := newStackNet(t, s.subnet)
	serve(n.server.Listen(t, n.serverAddr+":"+readyPort))
	dhcp := startDnsmasq(t, n.server, "DHCP only", append(n.dhcpArgs(t), "--port=0")...)
	dhcp.waitLine(t, 10*time.Second, "started, version")
	c, begin, phase := bootStack(t, s, n, root, true)
	phase("booted")
	c.journalOnFailure(t)

	lease := dhcp.waitLine(t, leaseTimeout, "DHCPACK(")
	phase("lease at " + since(begin, lease.mono) + ": " + lease.text)
	// netready waits for ready.test, for the cause expected of this stack.
	resolver := s.resolver(n)
	waiting := c.waitJournal(t, stepTimeout, waitOnline, "netready", waitingOn(resolver, s.cause)...)
	phase("netready waiting: " + waiting.msg)
	checkSharedClock(t, c)
	// STATUS= is sent with the line; a round that sees another error in
	// between (an ICMP error the kernel rate-limited reads as a timeout)
	// only delays it.
	var status string
	if !waitFor(stepTimeout, func() bool {
		status = c.show(t, waitOnline, "StatusText")["StatusText"]
		return containsAll(status, statusOn(resolver, s.cause))
	}) {
		t.Errorf("%s's STATUS= while DNS is down: %q, want it with %q", waitOnline, status, statusOn(resolver, s.cause))
	}
	for _, u := range s.own {
		if !waitFor(stepTimeout, c.isActive(u)) {
			out, _ := c.systemctl("status", "--lines=30", u)
			t.Fatalf("the stack's own %s is not active %v after boot, with the lease given at %s:\n%s",
				u, stepTimeout, since(begin, lease.mono), out)
		}
	}
	phase("the stack's own wait-online done: " + strings.Join(s.own, ", "))
	early := c.waitJournal(t, stepTimeout, "e2e-early.service", "", "e2e-early: getent exit")
	phase("e2e-early.service: " + early.msg)

	if d := time.Duration(lease.mono+dnsDelay.Microseconds()-monoNow(t)) * time.Microsecond; d > 0 {
		time.Sleep(d) // the scenario: DNS starts dnsDelay after the lease at the earliest
	}
	dns := startDnsmasq(t, n.server, "DNS only", n.dnsArgs()...)
	dnsUp := dns.waitLine(t, 10*time.Second, "started, version").mono
	phase("DNS server up at " + since(begin, dnsUp))

	if !waitFor(readyTimeout, c.settled("e2e-resolve.service")) {
		out, _ := c.systemctl("status", "--lines=30", waitOnline)
		t.Fatalf("e2e-resolve.service has not run %v after the DNS server started:\n%s\ndnsmasq:\n%s", readyTimeout, out, dns.log())
	}
	phase("e2e-resolve.service done")
	c.bootOver(t)
	phase("boot over")

	entries, state := c.bootState(t, append([]string{"e2e-early.service"}, s.own...)...)
	checkHeldUntilResolved(t, entries, state, s, waitingOn(resolver, s.cause), dnsUp)
	checkStackOnlineEarly(t, entries, state, s, dnsUp)

	// The figures: DNS up → netready-wait-online done (1.2s at most is
	// the aim on ifupdown and NetworkManager, a refusing resolver being
	// re-probed every second; not asserted here), and where the stack's
	// own wait-online stood.
	woExit := monoProp(t, state[waitOnline], "ExecMainExitTimestampMonotonic")
	t.Logf("TIMING %s: lease %s after boot began; DNS up %s after the lease; DNS up → %s done %s",
		s.name, since(begin, lease.mono), since(lease.mono, dnsUp), waitOnline, since(dnsUp, woExit))
	for _, u := range s.own {
		t.Logf("TIMING %s: DNS up → %s done %s", s.name, u, since(dnsUp, monoProp(t, state[u], "ActiveEnterTimestampMonotonic")))
	}
	// The first query that reached the server: netready's, or with a
	// stub the stub's (systemd-resolved paces its own retries of an
	// upstream that refused, whatever netready's pace).
	if q, ok := dns.find("query["); ok {
		t.Logf("TIMING %s: DNS up → first query at the DNS server %s", s.name, since(dnsUp, q.mono))
	}
	t.Logf("TIMING %s: DNS up → e2e-resolve.service started %s", s.name,
		since(dnsUp, monoProp(t, state["e2e-resolve.service"], "ExecMainStartTimestampMonotonic")))
	t.Logf("dnsmasq, DHCP:\n%s\ndnsmasq, DNS:\n%s", dhcp.log(), dns.log())
}

// checkHeldUntilResolved: netready-wait-online waited, saying why, until
// after the DNS server started; network-online.target came after it; the
// service after network-online.target resolved ready.test at its first try.
func checkHeldUntilResolved(t *testing.T, entries []entry, state map[string]map[string]string, s stack, waited []string, dnsUp int64) {
	t.Helper()
	wo, online, res := state[waitOnline], state["network-online.target"], state["e2e-resolve.service"]
	woLog := dump(of(entries, waitOnline))
	if wo["ActiveState"] != "active" || wo["Result"] != "success" {
		t.Fatalf("%s: ActiveState=%s Result=%s, want active, success; its journal:\n%s", waitOnline, wo["ActiveState"], wo["Result"], woLog)
	}
	if e, ok := first(entries, waitOnline, "netready", waited...); !ok || e.mono >= dnsUp {
		t.Errorf("no netready line with %q before the DNS server started at %s; its journal:\n%s", waited, fmtMono(dnsUp), woLog)
	}
	if _, ok := first(entries, waitOnline, "netready", readyLine); !ok {
		t.Errorf("no %q line from netready; its journal:\n%s", readyLine, woLog)
	}
	woExit := monoProp(t, wo, "ExecMainExitTimestampMonotonic")
	woActive := monoProp(t, wo, "ActiveEnterTimestampMonotonic")
	if woExit <= dnsUp {
		t.Errorf("netready exited at %s, before the DNS server started at %s; its journal:\n%s", fmtMono(woExit), fmtMono(dnsUp), woLog)
	}
	onlineAt := monoProp(t, online, "ActiveEnterTimestampMonotonic")
	if online["ActiveState"] != "active" || onlineAt < woActive {
		t.Errorf("network-online.target: %s at %s, want active after %s became active at %s", online["ActiveState"], fmtMono(onlineAt), waitOnline, fmtMono(woActive))
	}
	resLog := dump(of(entries, "e2e-resolve.service"))
	if res["Result"] != "success" || res["ExecMainStatus"] != "0" || res["NRestarts"] != "0" {
		t.Errorf("e2e-resolve.service: Result=%s ExecMainStatus=%s NRestarts=%s, want success, 0, 0: getent resolved %s at its first try; its journal:\n%s",
			res["Result"], res["ExecMainStatus"], res["NRestarts"], readyName, resLog)
	}
	if got := monoProp(t, res, "ExecMainStartTimestampMonotonic"); got < onlineAt {
		t.Errorf("e2e-resolve.service ran at %s, before network-online.target at %s", fmtMono(got), fmtMono(onlineAt))
	}
	// getent prints "ADDRESS NAME" (journald may not learn the name of a
	// process that exits at once: any process of the unit).
	if _, ok := first(entries, "e2e-resolve.service", "", s.subnet+".1", readyName); !ok {
		t.Errorf("no \"%s.1 %s\" from getent in e2e-resolve.service's journal:\n%s", s.subnet, readyName, resLog)
	}
}

// checkStackOnlineEarly: the stack's own wait-online was done before the
// DNS server started, and a name did not resolve then.
func checkStackOnlineEarly(t *testing.T, entries []entry, state map[string]map[string]string, s stack, dnsUp int64) {
	t.Helper()
	for _, u := range s.own {
		st := state[u]
		if at := monoProp(t, st, "ActiveEnterTimestampMonotonic"); st["ActiveState"] != "active" || at == 0 || at >= dnsUp {
			t.Errorf("%s: %s at %s, want active before the DNS server started at %s", u, st["ActiveState"], fmtMono(at), fmtMono(dnsUp))
		}
	}
	e, ok := first(entries, "e2e-early.service", "", "e2e-early: getent exit")
	if !ok || e.msg == "e2e-early: getent exit 0" {
		t.Errorf("e2e-early.service (after %s, before DNS was up): %q, want getent failing; its journal:\n%s",
			strings.Join(s.own, ", "), e.msg, dump(of(entries, "e2e-early.service")))
	}
}

// TestIntegrationNetworkdResolvedLateServer boots networkd and resolved
// with no DHCP or DNS server at all: the whole server (one dnsmasq, DHCP
// and DNS) starts once netready waits, so the lease, the address, the route
// and the resolver all come late. netready-wait-online holds
// network-online.target until ready.test resolves, as does
// systemd-networkd-wait-online until the lease.
func TestIntegrationNetworkdResolvedLateServer(t *testing.T) {
	s := networkdResolved
	s.subnet = "10.213.44"
	needStackTools(t)
	root := containerRoot(t, s.pkgs...)
	lockUsr(t)
	netreadyBin(t)
	n := newStackNet(t, s.subnet)
	serve(n.server.Listen(t, n.serverAddr+":"+readyPort))
	c, begin, phase := bootStack(t, s, n, root, false)
	phase("booted")
	c.journalOnFailure(t)
	// No server: resolved has no DNS server to ask.
	waited := waitingOn(s.stub, waitedNoServer)
	waiting := c.waitJournal(t, stepTimeout, waitOnline, "netready", waited...)
	phase("netready waiting: " + waiting.msg)
	checkSharedClock(t, c)
	// networkd runs, and its wait-online waits: it has started and is
	// not done (its end, after the server started, is checked below).
	if !waitFor(stepTimeout, c.isActive("systemd-networkd.service")) {
		t.Fatal("systemd-networkd.service is not active")
	}
	var nwoState string
	if !waitFor(stepTimeout, func() bool {
		out, _ := c.systemctl("is-active", "systemd-networkd-wait-online.service")
		nwoState = strings.TrimSpace(out)
		return nwoState != "inactive"
	}) || nwoState != "activating" {
		t.Fatalf("systemd-networkd-wait-online.service is %s with no DHCP server, want activating", nwoState)
	}

	srv := startDnsmasq(t, n.server, "DHCP and DNS", append(n.dhcpArgs(t), n.dnsArgs()...)...)
	up := srv.waitLine(t, 10*time.Second, "started, version").mono
	phase("server up at " + since(begin, up))
	lease := srv.waitLine(t, leaseTimeout, "DHCPACK(")
	phase("lease: " + lease.text)
	if !waitFor(readyTimeout, c.settled("e2e-resolve.service")) {
		out, _ := c.systemctl("status", "--lines=30", waitOnline)
		t.Fatalf("e2e-resolve.service has not run %v after the server started:\n%s\ndnsmasq:\n%s", readyTimeout, out, srv.log())
	}
	phase("e2e-resolve.service done")
	c.bootOver(t)
	phase("boot over")

	entries, state := c.bootState(t, s.own...)
	checkHeldUntilResolved(t, entries, state, s, waited, up)
	nwo := state["systemd-networkd-wait-online.service"]
	if at := monoProp(t, nwo, "ActiveEnterTimestampMonotonic"); nwo["ActiveState"] != "active" || at <= up {
		t.Errorf("systemd-networkd-wait-online.service: %s at %s, want active after the server started at %s", nwo["ActiveState"], fmtMono(at), fmtMono(up))
	}

	t.Logf("TIMING %s, server late: server up → lease %s; → %s done %s; → systemd-networkd-wait-online done %s; → e2e-resolve.service started %s",
		s.name, since(up, lease.mono),
		waitOnline, since(up, monoProp(t, state[waitOnline], "ExecMainExitTimestampMonotonic")),
		since(up, monoProp(t, nwo, "ActiveEnterTimestampMonotonic")),
		since(up, monoProp(t, state["e2e-resolve.service"], "ExecMainStartTimestampMonotonic")))
	t.Logf("dnsmasq:\n%s", srv.log())
}
