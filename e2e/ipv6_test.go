package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/internal/netnstest"
)

// The tests here boot a container whose network is IPv6 only: no IPv4
// address, no IPv4 route, no DHCPv4 server. A dnsmasq in the peer
// namespace is the router, sending router advertisements with RDNSS and
// DNSSL (and for one stack answering DHCPv6), and the DNS server of the
// zone test, where v6.test has an AAAA record only. It starts late: once
// netready-wait-online is waiting, as a router booting beside its clients
// after a power cut. The stacks are those of stacks_test.go, configured
// for IPv6 only: systemd-networkd with SLAAC, systemd-networkd with
// stateful DHCPv6 (systemd-resolved as the stub for both), and
// NetworkManager with ipv4.method=disabled and ipv6.method=auto.
//
// netready-wait-online must hold network-online.target until v6.test
// resolves over IPv6 through the stack's resolver, and never be ready
// before the address has left duplicate address detection; a service
// ordered after network-online.target resolves the name at its first try.
// The stack's own wait-online runs beside it, timed, and a unit ordered
// after it says whether the name resolved then. Every boot logs its
// timeline from the test's own view of the container's namespace
// (netlink), the router's log and the container's journal.

const (
	v6Name = "v6.test" // the name the DNS server serves, AAAA only: its own address
	// v6Defaults is the container's /etc/default/netready: a link with a
	// global address, a default route, the name, and a TCP port by name.
	// Verbose: every probe's outcome is in the journal, for the timeline.
	v6Defaults = `NETREADY_TARGETS="link:any route:default dns:` + v6Name + ` tcp://` + v6Name + `:` + readyPort + `"
NETREADY_TIMEOUT=100s
NETREADY_VERBOSE=1
`
	v6ReadyLine = "ready: 4/4 targets pass"
	// raDelay: the router starts this long after netready first said
	// what it waits for.
	raDelay = 2 * time.Second
)

// addrsAfterReady makes netready-wait-online log host0's global IPv6
// addresses as soon as netready is ready, in the container: a tentative
// one there would be an address netready did not wait for. ("+": outside
// the unit's sandbox, which is netready's, not ip's.)
const addrsAfterReady = `[Service]
ExecStartPost=+/bin/ip -6 -oneline addr show dev host0 scope global
`

// v6Stack is a network stack booted IPv6 only.
type v6Stack struct {
	// id names the subtest, and so its temporary directories: no comma,
	// which overlayfs's mount options could not hold.
	id     string
	name   string
	prefix string   // the link's /64, as "fd00:213:45::"; the router is PREFIX1
	pkgs   []string // Debian packages seen only in the container
	own    []string // the stack's own wait-online units, timed beside netready
	// resolved: systemd-resolved is the stub resolver in resolv.conf.
	resolved bool
	// dhcp6: the router's advertisements say "managed", and addresses
	// come from its stateful DHCPv6 server, not from SLAAC.
	dhcp6 bool
	// setup writes the stack's configuration into the container's /etc
	// and enables its units.
	setup func(t *testing.T, etc etcTree, units unitDir)
}

func (s v6Stack) router() string { return s.prefix + "1" }

// networkdV6 is systemd-networkd and systemd-resolved, IPv6 only: router
// advertisements accepted, their DNS servers and search domains used.
func networkdV6(id, name, prefix string, dhcp6 bool) v6Stack {
	return v6Stack{
		id:       id,
		name:     name,
		prefix:   prefix,
		pkgs:     []string{"systemd-resolved"},
		own:      []string{"systemd-networkd-wait-online.service"},
		resolved: true,
		dhcp6:    dhcp6,
		setup: networkdSetup(`[Network]
DHCP=no
LinkLocalAddressing=ipv6
IPv6AcceptRA=yes

[IPv6AcceptRA]
UseDNS=yes
UseDomains=yes
`),
	}
}

// networkManagerV6 is NetworkManager with IPv4 disabled and IPv6 from
// router advertisements, writing /etc/resolv.conf itself.
var networkManagerV6 = v6Stack{
	id:     "NetworkManager",
	name:   "NetworkManager, IPv6 only",
	prefix: "fd00:213:47::",
	pkgs:   []string{"network-manager"},
	own:    []string{"NetworkManager-wait-online.service"},
	setup:  networkManagerSetup("", "disabled", "auto"),
}

var v6Stacks = []v6Stack{
	networkdV6("networkd-SLAAC", "systemd-networkd + systemd-resolved, SLAAC", "fd00:213:45::", false),
	networkdV6("networkd-DHCPv6", "systemd-networkd + systemd-resolved, DHCPv6", "fd00:213:46::", true),
	networkManagerV6,
}

// v6Net is a veth pair: host0 in the container's namespace, configured by
// the stack; ve1 in the router's, PREFIX1/64, up. A router advertises from
// its link-local address, which the kernel makes once the link has a
// carrier (the stack sets host0 up): ve1 does no duplicate address
// detection, so that it is usable then, and the router's start is the
// test's to choose.
type v6Net struct {
	container, server *netnstest.NS
}

func newV6Net(t *testing.T, s v6Stack) v6Net {
	t.Helper()
	n := v6Net{container: netnstest.New(t), server: netnstest.New(t)}
	netnstest.Veth(t, n.container, "host0", n.server, "ve1")
	n.server.Sysctl(t, "net.ipv6.conf.ve1.accept_dad", "0")
	n.server.IP(t, "addr", "add", s.router()+"/64", "dev", "ve1", "nodad")
	n.server.IP(t, "link", "set", "ve1", "up")
	return n
}

// routerReady waits until ve1 has its link-local address, usable.
func (n v6Net) routerReady(t *testing.T) {
	t.Helper()
	if !waitFor(stepTimeout, func() bool {
		out := n.server.IP(t, "-6", "addr", "show", "dev", "ve1", "scope", "link")
		return strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative")
	}) {
		t.Fatalf("the router's ve1 has no usable link-local address after %v: is host0 up?\n%s", stepTimeout, n.server.IP(t, "addr"))
	}
}

// routerArgs make dnsmasq the router of the link, advertising the prefix
// for SLAAC (or, for dhcp6, as managed, with a DHCPv6 server) with itself as
// RDNSS and test as DNSSL, and the DNS server of the zone test, v6.test
// being its own address; every advertisement and query is logged.
func (s v6Stack) routerArgs(t *testing.T) []string {
	rng := s.prefix + ",ra-stateless,64"
	if s.dhcp6 {
		rng = s.prefix + "100," + s.prefix + "1ff,64,1h"
	}
	return []string{
		"--interface=ve1", "--enable-ra", "--dhcp-range=" + rng,
		"--dhcp-option=option6:dns-server,[" + s.router() + "]",
		"--dhcp-option=option6:domain-search,test",
		"--dhcp-leasefile=" + filepath.Join(t.TempDir(), "leases"),
		"--log-dhcp",
		"--listen-address=" + s.router(), "--port=53",
		"--local=/test/", "--host-record=" + v6Name + "," + s.router(),
		"--log-queries",
	}
}

// TestIntegrationIPv6Only boots each IPv6-only stack, all at once (each
// boot mostly waits: for the router, for duplicate address detection).
func TestIntegrationIPv6Only(t *testing.T) {
	needStackTools(t)
	roots := map[string]string{}
	for _, s := range v6Stacks {
		roots[s.name] = containerRoot(t, s.pkgs...)
	}
	lockUsr(t) // held until every subtest is over
	netreadyBin(t)
	for _, s := range v6Stacks {
		t.Run(s.id, func(t *testing.T) {
			t.Parallel()
			testV6Only(t, s, roots[s.name])
		})
	}
	t.Run("networkd-DAD-failed", func(t *testing.T) {
		t.Parallel()
		testV6DADFailed(t, roots[v6Stacks[0].name])
	})
}

// testV6DADFailed boots systemd-networkd with SLAAC on a link whose router
// already holds the address host0 makes from the advertised prefix and its
// MAC address (EUI-64, networkd's default): duplicate address detection
// fails, and netready-wait-online must say so, naming the link and the
// address, and not be ready.
func testV6DADFailed(t *testing.T, root string) {
	s := networkdV6("networkd-DAD-failed", "systemd-networkd + systemd-resolved, SLAAC, DAD failing", "fd00:213:48::", false)
	n := newV6Net(t, s)
	mac, err := net.ParseMAC(strings.Fields(strings.SplitN(n.container.IP(t, "-o", "link", "show", "host0"), "link/ether ", 2)[1])[0])
	if err != nil {
		t.Fatal(err)
	}
	taken := eui64(netip.MustParseAddr(s.prefix), mac)
	n.server.IP(t, "addr", "add", taken.String()+"/64", "dev", "ve1", "nodad")

	units := newUnitDir(t)
	etc := newEtcTree(t)
	units.install(t, "packaging/systemd/"+waitOnline, waitOnline)
	units.enable(t, "network-online.target", waitOnline)
	// What pulls in network-online.target.
	units.write(t, "e2e-resolve.service", resolveUnit(v6Name))
	units.enable(t, "multi-user.target", "e2e-resolve.service")
	s.setup(t, etc, units)
	etc.write(t, "systemd/network/10-e2e-host0.network.d/eui64.conf", "[IPv6AcceptRA]\nToken=eui64\n", 0o644)
	c := boot(t, bootOptions{
		ns: n.container, units: units, defaults: v6Defaults,
		usr:  []string{filepath.Join(root, "usr")},
		etc:  []string{filepath.Join(root, "etc"), string(etc)},
		caps: []string{"CAP_NET_ADMIN"},
	})
	c.journalOnFailure(t)
	c.waitJournal(t, stepTimeout, waitOnline, "netready", "not ready")
	n.routerReady(t)
	router := startDnsmasq(t, n.server, "router and DNS", s.routerArgs(t)...)
	router.waitLine(t, 10*time.Second, "RTR-ADVERT(")
	if !waitFor(stepTimeout, func() bool {
		return strings.Contains(n.container.IP(t, "-6", "addr", "show", "dev", "host0"), "dadfailed")
	}) {
		t.Fatalf("premise: no address of host0 failed duplicate address detection against %s:\n%s", taken, n.container.IP(t, "-6", "addr", "show", "dev", "host0"))
	}
	words := "link:any (address-dad-failed: no link is up with a global address: host0 is up, no usable global address (" + taken.String() + "/64 failed duplicate address detection))"
	said := c.waitJournal(t, stepTimeout, waitOnline, "netready", words)
	t.Logf("netready, once %s failed duplicate address detection: %s", taken, said.msg)
	if out, _ := c.systemctl("is-active", waitOnline); strings.TrimSpace(out) != "activating" {
		t.Errorf("%s is %s with host0's only global address failed, want activating", waitOnline, strings.TrimSpace(out))
	}
}

// eui64 is the SLAAC address of prefix (a /64) for mac: its modified
// EUI-64 interface identifier (RFC 4291 appendix A).
func eui64(prefix netip.Addr, mac net.HardwareAddr) netip.Addr {
	a := prefix.As16()
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// testV6Only boots the container with stack s and no router, starts the
// router once netready waits, and checks what netready-wait-online
// promises; it logs the boot's timeline.
func testV6Only(t *testing.T, s v6Stack, root string) {
	n := newV6Net(t, s)
	serve(n.server.Listen(t, "["+s.router()+"]:"+readyPort))
	mon := n.container.Monitor(t)

	units := newUnitDir(t)
	etc := newEtcTree(t)
	units.install(t, "packaging/systemd/"+waitOnline, waitOnline)
	units.enable(t, "network-online.target", waitOnline)
	units.write(t, waitOnline+".d/e2e.conf", addrsAfterReady)
	units.write(t, "e2e-resolve.service", resolveUnit(v6Name))
	units.enable(t, "multi-user.target", "e2e-resolve.service")
	units.write(t, "e2e-early.service", earlyUnit(v6Name, s.own))
	units.enable(t, "multi-user.target", "e2e-early.service")
	s.setup(t, etc, units)
	begin := monoNow(t)
	phase := func(what string) { t.Logf("%7s %s", since(begin, monoNow(t)), what) }
	c := boot(t, bootOptions{
		ns: n.container, units: units, defaults: v6Defaults,
		usr:  []string{filepath.Join(root, "usr")},
		etc:  []string{filepath.Join(root, "etc"), string(etc)},
		caps: []string{"CAP_NET_ADMIN"},
	})
	phase("booted")
	c.journalOnFailure(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the container's namespace, as netlink said it:\n%s", mon)
		}
	})

	waiting := c.waitJournal(t, stepTimeout, waitOnline, "netready", "not ready")
	phase("netready waiting: " + waiting.msg)
	checkSharedClock(t, c)
	time.Sleep(raDelay)
	peersBefore := map[string]string{}
	for _, u := range s.own {
		out, _ := c.systemctl("is-active", u)
		peersBefore[u] = strings.TrimSpace(out)
	}
	if g, ok := mon.Find(netnstest.GlobalAddr6(false)); ok {
		t.Fatalf("premise: host0 has a global address before any router advertisement: %s", g)
	}

	n.routerReady(t)
	router := startDnsmasq(t, n.server, "router and DNS", s.routerArgs(t)...)
	raUp := router.waitLine(t, 10*time.Second, "started, version").mono
	phase("router up at " + since(begin, raUp))
	if !waitFor(readyTimeout, c.settled("e2e-resolve.service")) {
		out, _ := c.systemctl("status", "--lines=30", waitOnline)
		t.Fatalf("e2e-resolve.service has not run %v after the router started:\n%s\ndnsmasq:\n%s", readyTimeout, out, router.log())
	}
	phase("e2e-resolve.service done")
	c.bootOver(t)
	phase("boot over")

	entries := c.journalWith(t, 10*time.Second,
		line{waitOnline, "netready", []string{v6ReadyLine}},
		line{"e2e-resolve.service", "", []string{v6Name}},
		line{"e2e-early.service", "", []string{"e2e-early: getent exit"}},
	)
	state := map[string]map[string]string{}
	for _, u := range append([]string{waitOnline, "network-online.target", "e2e-resolve.service", "e2e-early.service"}, s.own...) {
		state[u] = c.show(t, u, unitProps...)
	}
	usable := mon.Wait(t, 10*time.Second, "usable global IPv6 address on host0", netnstest.GlobalAddr6(true))
	checkV6Held(t, entries, state, s, usable, raUp)
	before := checkV6Words(t, entries, s, mon, usable, raUp)

	tl := v6Timeline(t, s, mon, router, entries, state, begin, raUp)
	t.Logf("what netready said before the router started: %s", before.msg)
	for _, u := range s.own {
		t.Logf("%s before the router started: %s", u, peersBefore[u])
	}
	e, _ := first(entries, "e2e-early.service", "", "e2e-early: getent exit")
	t.Logf("e2e-early.service (after %s): %s", strings.Join(s.own, ", "), e.msg)
	if out, err := c.nsenter("cat", "/etc/resolv.conf"); err == nil {
		t.Logf("the container's /etc/resolv.conf:\n%s", out)
	}
	t.Logf("TIMELINE %s (from the router's start):\n%s", s.name, tl)
	woExit := monoProp(t, state[waitOnline], "ExecMainExitTimestampMonotonic")
	t.Logf("TIMING %s: address usable → netready ready %s", s.name, since(usable.Mono, woExit))
	for _, u := range s.own {
		t.Logf("TIMING %s: address usable → %s %s", s.name, u, since(usable.Mono, monoProp(t, state[u], "ActiveEnterTimestampMonotonic")))
	}
	t.Logf("dnsmasq:\n%s", router.log())
}

// checkV6Words: what netready said of the link before the router started
// (no global address, no default route from an advertisement, for
// systemd-resolved no DNS server), and while the stack's address was
// tentative, when the stack announced it so for long enough to be seen:
// address-tentative. It returns the last "not ready" line before the
// router started.
func checkV6Words(t *testing.T, entries []entry, s v6Stack, mon *netnstest.Monitor, usable netnstest.Event, raUp int64) entry {
	t.Helper()
	var before entry
	for _, e := range of(entries, waitOnline) {
		if e.comm == "netready" && strings.Contains(e.msg, "not ready") && e.mono < raUp {
			before = e
		}
	}
	want := []string{
		"link:any (no-address: no link is up with a global address: host0 is up, no global address)",
		"route:default (no-route: no IPv4 default route; no IPv6 default route: no router advertisement with a router lifetime has given one to host0 (link-local addresses only))",
	}
	if s.resolved {
		want = append(want, "dns:"+v6Name+" (no-resolver: systemd-resolved has no DNS server to ask (/run/systemd/resolve/resolv.conf names none)")
	}
	for _, w := range want {
		if !strings.Contains(before.msg, w) {
			t.Errorf("netready's last line before the router started:\n%s\nwant it to contain %q", before.msg, w)
		}
	}
	tentative, ok := mon.Find(netnstest.GlobalAddr6(false))
	if !ok || tentative.Mono >= usable.Mono || usable.Mono-tentative.Mono < 500_000 {
		t.Logf("host0's address was not announced tentative 500ms or more before it was usable: netready's words for it not checked")
		return before
	}
	// The monitor and netready each read the kernel's announcement of the
	// address; netready's journal line can carry a time a little before
	// the monitor's (seen: the same millisecond, which failed a strict
	// comparison).
	const observers = 100_000 // µs
	for _, e := range of(entries, waitOnline) {
		if e.comm == "netready" && e.mono > tentative.Mono-observers && e.mono < usable.Mono && strings.Contains(e.msg, "cause=address-tentative") {
			return before
		}
	}
	t.Errorf("netready said no address-tentative while %s was tentative, from %s to %s; its journal:\n%s",
		tentative.Prefix(), fmtMono(tentative.Mono), fmtMono(usable.Mono), dump(of(entries, waitOnline)))
	return before
}

// checkV6Held: netready-wait-online waited, saying why, from before the
// router started until after the address was usable and the name
// resolved; network-online.target came after it; the service after it
// resolved v6.test at its first try.
func checkV6Held(t *testing.T, entries []entry, state map[string]map[string]string, s v6Stack, usable netnstest.Event, raUp int64) {
	t.Helper()
	wo, online, res := state[waitOnline], state["network-online.target"], state["e2e-resolve.service"]
	woLog := dump(of(entries, waitOnline))
	if wo["ActiveState"] != "active" || wo["Result"] != "success" {
		t.Fatalf("%s: ActiveState=%s Result=%s, want active, success; its journal:\n%s", waitOnline, wo["ActiveState"], wo["Result"], woLog)
	}
	if e, ok := first(entries, waitOnline, "netready", "not ready"); !ok || e.mono >= raUp {
		t.Errorf("no netready line saying what it waits for before the router started at %s; its journal:\n%s", fmtMono(raUp), woLog)
	}
	if _, ok := first(entries, waitOnline, "netready", v6ReadyLine); !ok {
		t.Errorf("no %q line from netready; its journal:\n%s", v6ReadyLine, woLog)
	}
	// Never before: the addresses as they were once netready was over
	// (ExecStartPost=), none of them still tentative.
	// (journald may have no name for a process that exits at once.)
	post, ok := first(entries, waitOnline, "", "inet6", "scope global")
	if !ok || strings.Contains(post.msg, "tentative") || !strings.Contains(post.msg, usable.Prefix().String()) {
		t.Errorf("host0's global addresses once netready was over: %q, want %s and nothing tentative; its journal:\n%s", post.msg, usable.Prefix(), woLog)
	}
	onlineAt := monoProp(t, online, "ActiveEnterTimestampMonotonic")
	if online["ActiveState"] != "active" || onlineAt < monoProp(t, wo, "ActiveEnterTimestampMonotonic") {
		t.Errorf("network-online.target: %s at %s, want active after %s", online["ActiveState"], fmtMono(onlineAt), waitOnline)
	}
	resLog := dump(of(entries, "e2e-resolve.service"))
	if res["Result"] != "success" || res["ExecMainStatus"] != "0" || res["NRestarts"] != "0" {
		t.Errorf("e2e-resolve.service: Result=%s ExecMainStatus=%s NRestarts=%s, want success, 0, 0: getent resolved %s at its first try; its journal:\n%s",
			res["Result"], res["ExecMainStatus"], res["NRestarts"], v6Name, resLog)
	}
	if got := monoProp(t, res, "ExecMainStartTimestampMonotonic"); got < onlineAt {
		t.Errorf("e2e-resolve.service ran at %s, before network-online.target at %s", fmtMono(got), fmtMono(onlineAt))
	}
	if _, ok := first(entries, "e2e-resolve.service", "", s.router(), v6Name); !ok {
		t.Errorf("no \"%s %s\" from getent in e2e-resolve.service's journal:\n%s", s.router(), v6Name, resLog)
	}
}

// v6Timeline is the boot's timeline, every time since the router started
// (the boot's own start first): what the kernel announced in the
// container's namespace, what the router logged, and when each unit
// finished.
func v6Timeline(t *testing.T, s v6Stack, mon *netnstest.Monitor, router *dnsmasq, entries []entry, state map[string]map[string]string, begin, raUp int64) string {
	t.Helper()
	type mark struct {
		mono int64
		what string
	}
	var marks []mark
	add := func(mono int64, what string) {
		if mono != 0 {
			marks = append(marks, mark{mono, what})
		}
	}
	add(begin, "boot began (systemd-nspawn started)")
	if e, ok := mon.Find(netnstest.LinkUp("host0")); ok {
		add(e.Mono, "host0 operationally up")
	}
	add(raUp, "router (dnsmasq) started")
	for _, what := range []string{"RTR-SOLICIT(", "RTR-ADVERT(", "DHCPSOLICIT(", "DHCPREPLY("} {
		if l, ok := router.find(what); ok {
			add(l.mono, "router: first "+strings.TrimSuffix(what, "(")+": "+l.text)
		}
	}
	if e, ok := mon.Find(netnstest.Default6); ok {
		add(e.Mono, "IPv6 default route: "+e.Route.Route.String())
	}
	if e, ok := mon.Find(netnstest.GlobalAddr6(false)); ok && !netnstest.GlobalAddr6(true)(e) {
		add(e.Mono, "global address added, tentative: "+e.Prefix().String())
	}
	if e, ok := mon.Find(netnstest.GlobalAddr6(true)); ok {
		add(e.Mono, "global address usable (DAD over): "+e.Prefix().String())
	}
	if l, ok := router.find("query["); ok {
		add(l.mono, "router: first query: "+l.text)
	}
	// netready's probes from the address's coming to its being ready.
	if e, ok := mon.Find(netnstest.GlobalAddr6(false)); ok {
		for _, j := range of(entries, waitOnline) {
			if j.comm == "netready" && j.mono >= e.Mono && strings.Contains(j.msg, "msg=probe") && !strings.Contains(j.msg, "ok=true") {
				add(j.mono, "netready: "+j.msg[strings.Index(j.msg, "msg=probe"):])
			}
		}
	}
	for _, u := range s.own {
		add(monoProp(t, state[u], "ActiveEnterTimestampMonotonic"), u+" active")
	}
	add(monoProp(t, state[waitOnline], "ExecMainExitTimestampMonotonic"), "netready ready (exited)")
	add(monoProp(t, state["network-online.target"], "ActiveEnterTimestampMonotonic"), "network-online.target reached")
	add(monoProp(t, state["e2e-early.service"], "ExecMainStartTimestampMonotonic"), "e2e-early.service started (after the stack's own wait-online)")
	add(monoProp(t, state["e2e-resolve.service"], "ExecMainStartTimestampMonotonic"), "e2e-resolve.service started: its first lookup")
	if e, ok := first(entries, "e2e-resolve.service", "", v6Name); ok {
		add(e.mono, "e2e-resolve.service: "+e.msg)
	}
	slices.SortStableFunc(marks, func(a, b mark) int { return int(a.mono - b.mono) })
	var b strings.Builder
	for _, m := range marks {
		fmt.Fprintf(&b, "  %9s  %s\n", since(raUp, m.mono), m.what)
	}
	return b.String()
}
