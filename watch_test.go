package main

// watch: transitions, storms and stuck rounds.

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationWatch: watch prints each transition as the default route
// comes and goes, sends READY=1 once, and exits 0 on SIGTERM.
func TestIntegrationWatch(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	sock := filepath.Join(t.TempDir(), "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	// Only change events can explain a transition: the schedule, the local
	// re-check and the ready re-check are all an hour away.
	cmd := l.client.Command(t.Context(), bin, append([]string{"watch", "--json", "--recheck", "1h"}, append(noRetry, "route:default4")...)...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A transition that never comes must fail the test, not hang it.
	watchdog := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	lines := bufio.NewScanner(stdout)
	next := func(want bool) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended before the next transition (want ready=%v): %v", want, lines.Err())
		}
		var tr transition
		if err := json.Unmarshal(lines.Bytes(), &tr); err != nil {
			t.Fatalf("not JSON: %q: %v", lines.Text(), err)
		}
		if tr.Ready != want {
			t.Fatalf("transition %s: got ready=%v, want %v", lines.Text(), tr.Ready, want)
		}
		if !want && len(tr.Failing) != 1 {
			t.Errorf("got failing %q, want route:default4 named", tr.Failing)
		}
	}
	next(false) // the first round: no default route
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	next(true)
	l.client.IP(t, "route", "del", "default")
	next(false)
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	next(true)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v, want exit 0", err)
	}
	var (
		readies  int
		statuses []string
	)
	buf := make([]byte, 4096)
	for {
		notify.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := notify.Read(buf)
		if err != nil {
			break
		}
		for _, line := range splitLines(string(buf[:n])) {
			if line == "READY=1" {
				readies++
			}
			if s, ok := strings.CutPrefix(line, "STATUS="); ok {
				statuses = append(statuses, s)
			}
		}
	}
	if readies != 1 {
		t.Errorf("got READY=1 %d times, want once", readies)
	}
	// systemctl status says what is failing, not just "not ready".
	const lost = "not ready: route:default4: no-route: no IPv4 default route"
	if !slices.Contains(statuses, lost) {
		t.Errorf("STATUS= messages %q do not include %q", statuses, lost)
	}
}

// TestIntegrationWatchStorm: watch, ready, during a storm of route changes. The
// rounds the changes start are eventGap apart at least, as in wait: the
// storm must not make watch probe back to back (it once did, since only
// wait's loop bounded the rate).
func TestIntegrationWatchStorm(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	const n = 5_000
	batch := stormBatch(n)
	p := startNetready(t, l.client, nil, append([]string{"watch", "--json", "-v", "--recheck", "1h"}, append(noRetry, "route:default4")...)...)
	p.waitLog(t, "probe", "target", "route:default4", "ok", "true")
	before := strings.Count(p.stderr.String(), "msg=probe ")
	start := time.Now()
	ip := exec.Command("ip", "-n", l.client.Name, "-batch", "-")
	ip.Stdin = strings.NewReader(batch)
	if out, err := ip.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	storm := time.Since(start)
	time.Sleep(3 * eventGap) // the round the last change left pending
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	rounds := strings.Count(p.stderr.String(), "msg=probe ") - before
	// A burst of rounds at the first changes, then at most one per gap
	// while the storm lasted, the one pending at its end, and one for
	// messages the kernel delivered after ip exited; a slower machine only
	// means fewer.
	limit := int(storm/eventGap) + eventBurst + 4
	t.Logf("%d changes in %s: %d rounds (at most %d)", 2*n, storm.Round(time.Millisecond), rounds, limit)
	if rounds < 1 || rounds > limit {
		t.Errorf("got %d rounds during a %s storm, want 1 to %d", rounds, storm.Round(time.Millisecond), limit)
	}
}

// TestIntegrationWatchAbandonsStuckRound: watch is ready when resolv.conf is
// replaced by one naming a resolver that never answers, and replaced back
// while a round is stuck on it. That round is abandoned: watch stays
// ready, instead of reporting, when the stuck probe times out, an outage
// that was over by then.
func TestIntegrationWatchAbandonsStuckRound(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	good := l.dnsServer(t, serverIP4, dnstest.Answer)
	silent := l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	replace := func(server string) {
		t.Helper()
		tmp := filepath.Join(dir, "new")
		if err := os.WriteFile(tmp, []byte("nameserver "+server+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, conf); err != nil {
			t.Fatal(err)
		}
	}
	replace(serverIP4)
	const probeTimeout = 2 * time.Second
	p := startNetready(t, l.client, nil, append([]string{"watch", "-v", "--recheck", "1h", "--probe-timeout", probeTimeout.String(), "--resolv-conf", conf}, append(noRetry, "dns:ready.test")...)...)
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "true")
	replace("10.213.1.13")
	poll(t, "a query to the silent resolver", 5*time.Millisecond, func() bool { udp, _ := silent.Queries(); return udp > 0 })
	stuck := time.Now()
	before, _ := good.Queries()
	replace(serverIP4)
	poll(t, "a query to the good resolver after the change", 5*time.Millisecond, func() bool { udp, _ := good.Queries(); return udp > before })
	poll(t, "the round after the change, passing", 5*time.Millisecond, func() bool {
		return strings.Count(p.stderr.String(), "msg=probe target=dns:ready.test ok=true") >= 2
	})
	// The stuck attempt ends at --probe-timeout after it began: had its
	// round been waited for, its failure would be reported by then.
	time.Sleep(time.Until(stuck.Add(probeTimeout + time.Second)))
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if out := p.stdout.String(); strings.Contains(out, "not ready") || strings.Count(out, " ready") != 1 {
		t.Errorf("got transitions %q, want one: ready\n%s", out, p)
	}
}

// TestIntegrationWatchFailingChanges: while not ready, watch --json prints
// a line for each change of the failing targets or their causes — the
// resolver refuses, then the link loses its carrier — and none for rounds
// that find the same failures; then ready again.
func TestIntegrationWatchFailingChanges(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dns := l.dnsServer(t, serverIP4, dnstest.Answer)
	l.server.Listen(t, serverIP4+":8080")
	const dnsT, tcpT = "dns:ready.test", "tcp://10.213.1.1:8080"
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	// While ready, a re-check every second sees the resolver refuse; the
	// refusing target is then re-checked every second, and finds the
	// same, until the carrier goes (a change: every target is probed).
	cmd := l.client.Command(t.Context(), bin, "watch", "-v", "--json", "--recheck", "1s", "--hosts-file", "", dnsT, tcpT)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	lines := bufio.NewScanner(stdout)
	var seen []string
	next := func() transition {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended before the next line: %v; lines so far:\n%s", lines.Err(), strings.Join(seen, "\n"))
		}
		seen = append(seen, lines.Text())
		var tr transition
		if err := json.Unmarshal(lines.Bytes(), &tr); err != nil {
			t.Fatalf("not JSON: %q: %v", lines.Text(), err)
		}
		return tr
	}
	causes := func(tr transition) string {
		var s []string
		for _, n := range []string{dnsT, tcpT} {
			if c, ok := tr.Causes[n]; ok {
				s = append(s, n+"="+c)
			}
		}
		return strings.Join(s, " ")
	}
	if tr := next(); !tr.Ready {
		t.Fatalf("first line: got %s, want ready", seen[0])
	}
	dns.SetBehavior(dnstest.Refused)
	if tr := next(); tr.Ready || causes(tr) != dnsT+"=resolver-refused" {
		t.Fatalf("after the resolver refuses: got %s, want not ready, %s=resolver-refused", seen[len(seen)-1], dnsT)
	}
	// Rounds a second apart keep finding the refusal: no line for them.
	refusals := func() int { return strings.Count(stderr.String(), "msg=probe target="+dnsT+" ok=false") }
	poll(t, "two more rounds that find the refusal", 5*time.Millisecond, func() bool { return refusals() >= 3 })
	peerDown(t, l)
	tr := next()
	if want := dnsT + "=no-carrier " + tcpT + "=no-carrier"; tr.Ready || causes(tr) != want {
		t.Fatalf("after the carrier goes: got %s, want not ready, %s", seen[len(seen)-1], want)
	}
	dns.SetBehavior(dnstest.Answer)
	l.server.IP(t, "link", "set", "veth1", "up")
	// Whatever states the link passes through coming back, each line
	// says something the one before did not.
	prev := causes(tr)
	for tr = next(); !tr.Ready; tr = next() {
		if c := causes(tr); c == prev {
			t.Errorf("a line that changes nothing: %s", seen[len(seen)-1])
		} else {
			prev = c
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v, want exit 0", err)
	}
	t.Logf("lines:\n%s", strings.Join(seen, "\n"))
}
