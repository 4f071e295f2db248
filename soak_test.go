package main

// The soak: watch --metrics-listen --textfile --on-change driven through
// every kind of change, one at a time, for NETREADY_SOAK (default: a smoke
// run of 40s, part of make test; make soak runs 30m), with /metrics and
// /ready scraped 20 times a second each. Every transition must be printed,
// counted, written and run exactly once, within what the pacing allows;
// RSS, Go heap, goroutines and open files are sampled, and must show no
// upward trend after the warm-up.

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
)

// The soak's pacing, given to watch: a transition is allowed soakRecheck
// (a break found at the next re-check) or soakBackoffMax (a repair found
// at the next round) plus soakProbeTimeout (a hang found when it runs
// out), and soakGrace for a loaded machine.
const (
	soakRecheck      = time.Second
	soakBackoffMax   = time.Second
	soakProbeTimeout = 3 * time.Second // netready's default: a loaded machine stalls the lab's servers for a second at times
	soakGrace        = 2 * time.Second
	soakAllowed      = max(soakRecheck, soakBackoffMax) + soakProbeTimeout + soakGrace
)

// soakSample is one sample of netready's resources.
type soakSample struct {
	at                    time.Duration // since the start
	rss, heap, goroutines float64       // bytes, bytes, count
	fds                   float64
}

// fault is one kind of change the soak makes: break makes target fail with
// cause, repair undoes it.
type fault struct {
	name, target, cause string
	brk, repair         func()
}

// metricValue finds `name{target="target"} V` (or `name V` when target is
// empty) in an exposition.
func metricValue(exposition, name, target string) (float64, bool) {
	key := name
	if target != "" {
		key += `{target="` + target + `"}`
	}
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// slope fits y = a + b·x by least squares and returns b.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy = sx+xs[i], sy+ys[i]
		sxx, sxy = sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// vmRSS is the resident set of process pid, in bytes.
func vmRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return math.NaN()
}

func TestIntegrationSoak(t *testing.T) {
	roottest.Require(t)
	duration, sampleEvery := 40*time.Second, 2*time.Second
	if v := os.Getenv("NETREADY_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("NETREADY_SOAK=%s: %v", v, err)
		}
		duration, sampleEvery = d, time.Minute
	}
	if v := os.Getenv("NETREADY_SOAK_SAMPLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("NETREADY_SOAK_SAMPLE=%s: %v", v, err)
		}
		sampleEvery = d
	}
	if duration < 5*time.Minute {
		t.Parallel() // the smoke run, in make test
	}
	l := newLab(t)
	dir := t.TempDir()

	// A second link for link, carrier and address changes:
	// client veth2 10.213.2.2/24 <-> server veth3 10.213.2.1/24.
	netnstest.Veth(t, l.client, "veth2", l.server, "veth3")
	l.client.IP(t, "addr", "add", "10.213.2.2/24", "dev", "veth2")
	l.server.IP(t, "addr", "add", "10.213.2.1/24", "dev", "veth3")
	l.server.IP(t, "link", "set", "veth3", "up")
	l.client.IP(t, "link", "set", "veth2", "up")
	waitOperUp(t, l.client, "veth2")

	// The resolver of resolv.conf, at 10.213.1.53, which the soak stops
	// and starts again; 10.213.1.54 has none: its port is unreachable, as
	// the stopped resolver's is (resolver-down). The server's kernel sends
	// every port unreachable: rate-limited (a burst of six, then one a
	// second, to one destination), the ICMP errors the rewrite's queries
	// used up would leave the first queries to the stopped resolver to
	// meet silence (resolver-timeout, then resolver-down: two transitions
	// where the soak counts one).
	l.server.Sysctl(t, "net.ipv4.icmp_ratelimit", "0")
	const resolver, noResolver = "10.213.1.53", "10.213.1.54"
	l.addServerAddr(t, resolver)
	l.addServerAddr(t, noResolver)
	var dnsPC net.PacketConn
	var dnsL net.Listener
	startResolver := func() {
		dnsPC, dnsL = l.server.ListenPacket(t, resolver+":53"), l.server.Listen(t, resolver+":53")
		dnstest.Serve(t, dnsPC, dnsL, zone...)
	}
	startResolver()
	resolvConf := filepath.Join("/etc/netns", l.client.Name, "resolv.conf")
	writeResolvConf := func(server string) {
		// In place: "ip netns exec" bind-mounted this file over
		// /etc/resolv.conf, and a rename would not be seen through it.
		if err := os.WriteFile(resolvConf, []byte("nameserver "+server+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeResolvConf(resolver)

	// A service that refuses when stopped, and one that hangs on demand.
	var refusing net.Listener
	startRefusing := func() {
		refusing = l.server.Listen(t, serverIP4+":8082")
		go func(ln net.Listener) {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}(refusing)
	}
	startRefusing()
	var hang atomic.Bool
	l.serveHTTP(t, serverIP4+":8081", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), nil)

	const (
		route   = "route:default4"
		link    = "link:veth2"
		name    = "dns:ready.test"
		hanging = "http://" + serverIP4 + ":8081/"
		refused = "tcp://" + serverIP4 + ":8082"
	)
	targets := []string{route, link, name, hanging, refused}
	faults := []fault{
		{"route flap", route, "no-route",
			func() { l.client.IP(t, "route", "del", "default") },
			func() { l.client.IP(t, "route", "add", "default", "via", serverIP4) }},
		{"link flap", link, "link-down",
			func() { l.client.IP(t, "link", "set", "veth2", "down") },
			func() { l.client.IP(t, "link", "set", "veth2", "up") }},
		{"carrier flap", link, "no-carrier",
			func() { l.server.IP(t, "link", "set", "veth3", "down") },
			func() { l.server.IP(t, "link", "set", "veth3", "up") }},
		{"address change", link, "no-address",
			func() { l.client.IP(t, "addr", "del", "10.213.2.2/24", "dev", "veth2") },
			func() { l.client.IP(t, "addr", "add", "10.213.2.2/24", "dev", "veth2") }},
		{"resolv.conf rewrite", name, "resolver-down",
			func() { writeResolvConf(noResolver) },
			func() { writeResolvConf(resolver) }},
		{"resolver restart", name, "resolver-down",
			func() { dnsPC.Close(); dnsL.Close() },
			startResolver},
		{"hanging service", hanging, "timeout",
			func() { hang.Store(true) },
			func() { hang.Store(false) }},
		{"refusing service", refused, "port-closed",
			func() { refusing.Close() },
			startRefusing},
	}

	// Two watchers of the same lab and the same changes: this test
	// binary, built with -race under make test and make soak, for the
	// race detector; and netready built plainly, whose RSS is what a
	// machine sees (the race runtime's own memory grows in a long run,
	// golang/go#37233, #26813: RSS is judged on the plain one only).
	plain := filepath.Join(dir, "netready")
	build := exec.Command(goTool(t), "build", "-o", plain, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	self, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	ws := []*watcher{
		{name: "race", bin: self, addr: metricsAddr, race: raceEnabled},
		{name: "plain", bin: plain, addr: "127.0.0.1:10214"},
	}
	for _, w := range ws {
		d := filepath.Join(dir, w.name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		w.textfile, w.hookOut = filepath.Join(d, "netready.prom"), filepath.Join(d, "hook.out")
		hook := filepath.Join(d, "hook")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"$NETREADY_READY $NETREADY_CAUSES\" >>"+w.hookOut+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		w.p = startProc(t, l.client, nil, w.bin, append([]string{"watch", "--json",
			"--metrics-listen", w.addr, "--textfile", w.textfile, "--on-change", hook,
			"--recheck", soakRecheck.String(), "--backoff-initial", "500ms", "--backoff-max", soakBackoffMax.String(),
			"--probe-timeout", soakProbeTimeout.String()}, targets...)...)
		w.pid = w.p.cmd.Process.Pid
	}
	start := time.Now()
	c := l.client.HTTPClient()
	// Each watcher serves before the scrapes begin: a scrape that finds
	// the port not yet listened on says nothing of the server under load.
	for _, w := range ws {
		poll(t, "/metrics of the "+w.name+" watcher", 10*time.Millisecond, func() bool {
			code, _ := get(c, "http://"+w.addr+"/metrics")
			return code == 200
		})
	}

	// The scrapes: /metrics and /ready of each, 20 times a second each.
	var (
		scrapeMu              sync.Mutex
		scrapes, scrapeFailed int
		lastScrapeErr         string
		stopScrapes           = make(chan struct{})
		scraped               sync.WaitGroup
	)
	for _, w := range ws {
		scraped.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stopScrapes:
					return
				case <-tick.C:
				}
				for _, path := range []string{"/metrics", "/ready"} {
					code, body := get(c, "http://"+w.addr+path)
					scrapeMu.Lock()
					scrapes++
					if code != 200 && !(code == 503 && path == "/ready") {
						scrapeFailed++
						lastScrapeErr = fmt.Sprintf("%s %s at %s: %d %.100q", w.name, path, time.Since(start).Round(time.Millisecond), code, body)
					}
					scrapeMu.Unlock()
				}
			}
		})
	}
	defer func() {
		select {
		case <-stopScrapes:
		default:
			close(stopScrapes)
		}
		scraped.Wait()
	}()

	// Each sink's count of transitions: stdout's JSON lines, the hook's
	// runs, and per target the counter on /metrics and in the textfile.
	counted := map[string]int{}
	// settled waits until every sink of every watcher shows n
	// transitions, the last to ready (target ""), or not ready with
	// target failing for cause.
	settled := func(n int, target, cause string) {
		t.Helper()
		for _, w := range ws {
			w.settled(t, c, n, target, cause, targets, counted)
		}
	}

	// Resource samples, taken once every sink has shown a transition to
	// ready: the same state each time.
	sample := func() {
		for _, w := range ws {
			_, body := get(c, "http://"+w.addr+"/metrics")
			heap, _ := metricValue(body, "go_memstats_heap_alloc_bytes", "")
			gr, _ := metricValue(body, "go_goroutines", "")
			w.samples = append(w.samples, soakSample{at: time.Since(start), rss: vmRSS(w.pid), heap: heap, goroutines: gr, fds: float64(openFDs(w.pid))})
		}
	}

	n := 1
	settled(n, "", "")
	sample()
	var (
		slowest     time.Duration
		slowestWhat string
		cycles      = map[string]int{}
	)
	// transition does what changes target's state: to failing for cause,
	// or with cause "", to passing again.
	transition := func(what string, do func(), target, cause string) {
		t.Helper()
		n++
		counted[target]++
		begin := time.Now()
		do()
		for _, w := range ws {
			poll(t, w.name+": "+what, 5*time.Millisecond, func() bool { return len(transitions(t, w.p)) >= n })
			d := time.Since(begin)
			if d > slowest {
				slowest, slowestWhat = d, w.name+": "+what
			}
			if d > soakAllowed {
				t.Errorf("%s: %s: the transition came %s after the change, want within %s (re-check %s or backoff %s, probe timeout %s, %s of grace)",
					w.name, what, d.Round(time.Millisecond), soakAllowed, soakRecheck, soakBackoffMax, soakProbeTimeout, soakGrace)
			}
		}
		if cause == "" {
			target = ""
		}
		settled(n, target, cause)
	}
	for i := 0; time.Since(start) < duration; i++ {
		f := faults[i%len(faults)]
		transition(f.name, f.brk, f.target, f.cause)
		transition(f.name+" repaired", f.repair, f.target, "")
		cycles[f.name]++
		if ws[0].samples[len(ws[0].samples)-1].at+sampleEvery <= time.Since(start) {
			sample()
		}
	}
	sample()
	close(stopScrapes)
	scraped.Wait()

	// The figures, and the trends after the warm-up (a fifth of the run).
	var report strings.Builder
	fmt.Fprintf(&report, "soak of %s: %d transitions (%v) seen by both watchers, the slowest %s (%s, allowed %s); %d scrapes, %d failed\n",
		time.Since(start).Round(time.Second), n, cycles, slowest.Round(time.Millisecond), slowestWhat, soakAllowed, scrapes, scrapeFailed)
	warm := time.Since(start) / 5
	for _, w := range ws {
		w.trends(t, &report, warm)
	}
	t.Log("\n" + report.String())
	if out := os.Getenv("NETREADY_SOAK_REPORT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
	if scrapeFailed > 0 {
		t.Errorf("%d of %d scrapes failed, the last: %s", scrapeFailed, scrapes, lastScrapeErr)
	}
	for _, w := range ws {
		w.p.cmd.Process.Signal(syscall.SIGTERM)
		if code := w.p.wait(t); code != 0 {
			t.Errorf("%s: exit code: got %d, want 0\n%s", w.name, code, w.p)
		}
		if err := race(w.p); err != "" {
			t.Errorf("%s: the race detector: %s", w.name, err)
		}
	}
}

// watcher is one netready watch of the soak, and what was seen of it.
type watcher struct {
	name, bin, addr   string
	race              bool // built with -race
	textfile, hookOut string
	p                 *proc
	pid               int
	samples           []soakSample
}

// settled waits until every sink of w shows n transitions, the last to
// ready (target ""), or not ready with target failing for cause, and
// counted[tg] transitions of each of targets.
func (w *watcher) settled(t *testing.T, c *http.Client, n int, target, cause string, targets []string, counted map[string]int) {
	t.Helper()
	poll(t, fmt.Sprintf("%s: transition %d on stdout", w.name, n), 5*time.Millisecond, func() bool { return len(transitions(t, w.p)) >= n })
	trs := transitions(t, w.p)
	if len(trs) != n {
		t.Fatalf("%s: stdout: %d transitions, want %d (one doubled?)\n%s", w.name, len(trs), n, w.p.stdout.String())
	}
	last := trs[n-1]
	got := ""
	if len(last.Failing) == 1 {
		got, _, _ = strings.Cut(strings.TrimPrefix(last.Failing[0], target+": "), ": ")
	}
	if last.Ready != (target == "") || (target != "" && (len(last.Failing) != 1 || !strings.HasPrefix(last.Failing[0], target+": ") || got != cause)) {
		t.Fatalf("%s: transition %d: got %+v, want ready=%v with only %s failing for %s", w.name, n, last, target == "", target, cause)
	}
	want := "1"
	if target != "" {
		want = "0 " + target + "=" + got
	}
	hookLines := func() []string {
		b, _ := os.ReadFile(w.hookOut)
		return splitLines(string(b))
	}
	poll(t, fmt.Sprintf("%s: on-change run %d", w.name, n), 20*time.Millisecond, func() bool { return len(hookLines()) >= n })
	if h := hookLines(); len(h) != n || strings.TrimSpace(h[n-1]) != want {
		t.Fatalf("%s: on-change runs: got %d, the last %q; want %d, the last %q", w.name, len(h), h[len(h)-1], n, want)
	}
	for _, tg := range targets {
		want := float64(counted[tg])
		poll(t, fmt.Sprintf("%s: %s counted %v times on /metrics and in the textfile", w.name, tg, want), 50*time.Millisecond, func() bool {
			_, body := get(c, "http://"+w.addr+"/metrics")
			v, _ := metricValue(body, "netready_transitions_total", tg)
			b, _ := os.ReadFile(w.textfile)
			f, _ := metricValue(string(b), "netready_transitions_total", tg)
			return v == want && f == want
		})
	}
}

// trends fits a line to each resource of w's samples after warm and
// writes its slope to report; one that rises more than its tolerance
// fails t. The RSS of a process built with -race is written, not judged:
// the race runtime's own memory grows in a long run.
func (w *watcher) trends(t *testing.T, report *strings.Builder, warm time.Duration) {
	var after []soakSample
	for _, s := range w.samples {
		if s.at >= warm {
			after = append(after, s)
		}
	}
	for _, m := range []struct {
		name string
		get  func(soakSample) float64
		// tolerance is the most the fitted line may rise over the run
		// after the warm-up (0: not judged): a leak of one per
		// transition would rise by hundreds.
		tolerance func(mean float64) float64
		unit      float64
		unitName  string
	}{
		{"RSS", func(s soakSample) float64 { return s.rss }, func(m float64) float64 {
			if w.race {
				return 0
			}
			return max(4<<20, m/10)
		}, 1 << 20, "MiB"},
		{"Go heap", func(s soakSample) float64 { return s.heap }, func(m float64) float64 { return max(4<<20, m/4) }, 1 << 20, "MiB"},
		{"goroutines", func(s soakSample) float64 { return s.goroutines }, func(float64) float64 { return 8 }, 1, ""},
		{"open files", func(s soakSample) float64 { return s.fds }, func(float64) float64 { return 4 }, 1, ""},
	} {
		var xs, ys, all []float64
		for _, s := range after {
			xs, ys = append(xs, s.at.Hours()), append(ys, m.get(s))
		}
		for _, s := range w.samples {
			all = append(all, m.get(s)/m.unit)
		}
		if len(xs) < 2 {
			t.Errorf("%s: %d samples after the warm-up, want at least 2", w.name, len(xs))
			return
		}
		mean := 0.0
		for _, y := range ys {
			mean += y / float64(len(ys))
		}
		b := slope(xs, ys) // per hour
		rise := b * (xs[len(xs)-1] - xs[0])
		tol := m.tolerance(mean)
		judged := ""
		if tol == 0 {
			judged = " (not judged: -race)"
		}
		fmt.Fprintf(report, "%s %s: slope %+.3g %s/h after %s of warm-up (a rise of %+.3g %s over %d samples, mean %.3g)%s; samples %s\n",
			w.name, m.name, b/m.unit, m.unitName, warm.Round(time.Second), rise/m.unit, m.unitName, len(ys), mean/m.unit, judged, formatSamples(all))
		if tol > 0 && rise > tol {
			t.Errorf("%s: %s grows: a rise of %.3g %s after the warm-up, want at most %.3g", w.name, m.name, rise/m.unit, m.unitName, tol/m.unit)
		}
	}
}

// goTool is the go command, for a build.
func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command to build netready with: %v", err)
	}
	return p
}

// formatSamples writes values compactly.
func formatSamples(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strings.Join(s, " ")
}

// race is the first report of the race detector on p's stderr, if any.
func race(p *proc) string {
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "WARNING: DATA RACE") {
			return sc.Text()
		}
	}
	return ""
}
