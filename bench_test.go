package main

// Benchmarks of netready wait as a process in network namespaces the
// benchmark makes (make bench-wait). Each reports its own metrics: use
// -benchtime Nx to set the number of trials.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netready/netready/internal/netnstest"
)

// benchLab is newLab for a benchmark: the client has its link and address
// but no default route.
func benchLab(b *testing.B) *lab {
	b.Helper()
	l := &lab{client: netnstest.New(b), server: netnstest.New(b)}
	netnstest.Veth(b, l.client, "veth0", l.server, "veth1")
	l.client.IP(b, "addr", "add", clientIP4+"/24", "dev", "veth0")
	l.server.IP(b, "addr", "add", serverIP4+"/24", "dev", "veth1")
	l.server.IP(b, "link", "set", "veth1", "up")
	l.client.IP(b, "link", "set", "veth0", "up")
	l.client.WriteEtc(b, "resolv.conf", "nameserver "+serverIP4+"\n")
	return l
}

// startWaiting starts "netready wait" in ns and returns once its first
// round has failed: it logs "not ready" on stderr (not a terminal) after
// every round that changes the picture.
func startWaiting(b *testing.B, ns *netnstest.NS, args ...string) (*exec.Cmd, *bufio.Scanner) {
	b.Helper()
	bin, err := exec.LookPath("netready")
	if err != nil {
		b.Fatal(err)
	}
	cmd := ns.Command(b.Context(), bin, append([]string{"wait"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `msg="not ready"`) {
			return cmd, sc
		}
	}
	cmd.Wait()
	b.Fatalf("netready wait ended before its first round failed")
	return nil, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

// reportReady reports the latencies from what made the network ready to
// netready's exit (p50/p90/max-ms) and to its "ready:" line (said-p50-ms,
// and in the log with the rest of their spread).
func reportReady(b *testing.B, what string, exited, said []time.Duration) {
	slices.Sort(exited)
	slices.Sort(said)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(exited, 0.5)), "p50-ms")
	b.ReportMetric(ms(percentile(exited, 0.9)), "p90-ms")
	b.ReportMetric(ms(exited[len(exited)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(percentile(said, 0.5)), "said-p50-ms")
	b.Logf("%s to the ready line over %d trials: min %s, p50 %s, p90 %s, max %s", what, len(said), said[0], percentile(said, 0.5), percentile(said, 0.9), said[len(said)-1])
}

// BenchmarkEventToReady measures, per trial, the time from the netlink
// request that adds the missing default route to the exit of a waiting
// "netready wait route:default4" whose schedule and local re-check are an
// hour away, so only the change event can wake it (p50/p90/max), and to the
// "ready:" line it prints just before exiting (said-p50): the difference is
// the process's exit, mostly the kernel releasing the inotify instance.
func BenchmarkEventToReady(b *testing.B) {
	l := benchLab(b)
	h := l.client.Handle(b)
	link, err := h.LinkByName("veth0")
	if err != nil {
		b.Fatal(err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: []byte{10, 213, 1, 1}}
	var lat, saidAt []time.Duration
	for b.Loop() {
		b.StopTimer()
		cmd, sc := startWaiting(b, l.client, append([]string{"--timeout", "30s"}, append(noRetry, "route:default4")...)...)
		exited := make(chan time.Time, 1)
		said := make(chan time.Time, 1)
		go func() {
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready:") {
					said <- time.Now()
				}
			}
			cmd.Wait()
			exited <- time.Now()
		}()
		b.StartTimer()
		t0 := time.Now()
		if err := h.RouteAdd(route); err != nil {
			b.Fatal(err)
		}
		t1 := <-exited
		b.StopTimer()
		saidAt = append(saidAt, (<-said).Sub(t0))
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			b.Fatalf("netready wait exited %d, want 0", code)
		}
		lat = append(lat, t1.Sub(t0))
		if err := h.RouteDel(route); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportReady(b, "the route added", lat, saidAt)
	b.Logf("event to ready over %d trials: p50 %s, p90 %s, max %s", len(lat), percentile(lat, 0.5), percentile(lat, 0.9), lat[len(lat)-1])
}

// procStats sums, over every thread of pid, the time spent on a CPU (from
// schedstat, in nanoseconds, unlike the tick-granular /proc/PID/stat) and
// the voluntary and involuntary context switches.
func procStats(b *testing.B, pid int) (cpu time.Duration, switches int64) {
	b.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tasks {
		dir := fmt.Sprintf("/proc/%d/task/%s/", pid, t.Name())
		if ss, err := os.ReadFile(dir + "schedstat"); err == nil {
			if f := strings.Fields(string(ss)); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				cpu += time.Duration(n)
			}
		}
		status, err := os.ReadFile(dir + "status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switches += n
			}
		}
	}
	return cpu, switches
}

// BenchmarkIdle measures the CPU time and context switches of a "netready
// wait" that idles 10 s on a target that never comes: a remote one (paced
// by the backoff schedule) and local ones (re-checked every
// --local-interval, 250ms). "floor" is the baseline, run the same way in the same
// run: internal/idlefloor, a bare Go program that dials the same refused
// loopback port every 250ms and does nothing else — what re-checking a
// local target that often costs on this machine before netready adds
// anything.
func BenchmarkIdle(b *testing.B) {
	floor := filepath.Join(b.TempDir(), "idlefloor")
	if out, err := exec.Command("go", "build", "-o", floor, "./internal/idlefloor").CombinedOutput(); err != nil {
		b.Fatalf("build idlefloor: %v\n%s", err, out)
	}
	for _, tc := range []struct{ name, target string }{
		{"remote", "tcp://10.213.1.1:9"},
		{"local-route", "route:default4"},
		{"local-tcp", "tcp://127.0.0.1:9"},
		{"floor", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := benchLab(b)
			var cpus []time.Duration
			var switches []int64
			for b.Loop() {
				var cmd *exec.Cmd
				if tc.target == "" {
					cmd = l.client.Command(b.Context(), floor, "127.0.0.1:9")
					cmd.Env = append(os.Environ(), "GOMAXPROCS=1") // as netready sets for itself
					if err := cmd.Start(); err != nil {
						b.Fatal(err)
					}
					time.Sleep(time.Second)
				} else {
					cmd, _ = startWaiting(b, l.client, "--timeout", "0", tc.target)
				}
				pid := cmd.Process.Pid
				cpu0, sw0 := procStats(b, pid)
				time.Sleep(10 * time.Second)
				cpu1, sw1 := procStats(b, pid)
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
				cpus = append(cpus, cpu1-cpu0)
				switches = append(switches, sw1-sw0)
			}
			slices.Sort(cpus)
			slices.Sort(switches)
			b.ReportMetric(float64(cpus[len(cpus)/2])/float64(time.Millisecond), "cpu-ms/10s")
			b.Logf("%s: CPU per 10s %v, context switches %v", b.Name(), cpus, switches)
			b.ReportMetric(float64(switches[len(switches)/2]), "ctxsw/10s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

var waitOver = regexp.MustCompile(`msg="wait over" .*rounds=(\d+) abandoned=(\d+) events=(\d+)`)

// BenchmarkStorm counts the probe rounds of a waiting "netready wait
// route:default4" during 2,000 route changes (1,000 added, 1,000 deleted in
// one ip -batch), then adds the default route and reads the totals from its
// debug log.
func BenchmarkStorm(b *testing.B) {
	l := benchLab(b)
	batch := stormBatch(1000)
	var rounds []int
	for b.Loop() {
		cmd, sc := startWaiting(b, l.client, append([]string{"--timeout", "60s", "-v"}, append(noRetry, "route:default4")...)...)
		ip := exec.Command("ip", "-n", l.client.Name, "-batch", "-")
		ip.Stdin = strings.NewReader(batch)
		if out, err := ip.CombinedOutput(); err != nil {
			b.Fatalf("ip -batch: %v: %s", err, out)
		}
		time.Sleep(500 * time.Millisecond) // let the storm's rounds run
		l.client.IP(b, "route", "add", "default", "via", serverIP4)
		var total, abandoned, events int
		for sc.Scan() {
			if m := waitOver.FindStringSubmatch(sc.Text()); m != nil {
				total, _ = strconv.Atoi(m[1])
				abandoned, _ = strconv.Atoi(m[2])
				events, _ = strconv.Atoi(m[3])
			}
		}
		cmd.Wait()
		l.client.IP(b, "route", "del", "default")
		// Rounds caused by the storm: all but the first (before it) and
		// the last (after the default route came).
		rounds = append(rounds, total+abandoned-2)
		b.Logf("storm: %d rounds completed, %d abandoned, %d events received", total, abandoned, events)
	}
	slices.Sort(rounds)
	b.ReportMetric(float64(rounds[len(rounds)/2]), "storm-rounds")
	b.ReportMetric(0, "ns/op")
}
