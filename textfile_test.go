package main

// watch --textfile: a real node_exporter serves the file netready writes;
// how and when the file is written.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

// inode is the inode number of path, 0 if it does not exist: the file is
// replaced by a rename, so a new inode is a new write.
func inode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestIntegrationTextfile: netready watch, run with umask 0077 as the unit
// runs it, writes its metrics for node_exporter's textfile collector, and
// a real node_exporter serves them through a break and a repair. The file
// is mode 0644, promtool finds nothing to say about it, no temporary file
// is left beside it; rounds that change nothing (every 250ms, --recheck)
// do not rewrite it, a change does at once;
// it is removed when watch stops.
func TestIntegrationTextfile(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "netready.prom")

	const listen = "127.0.0.1:19100"
	ne := startProc(t, l.client, nil, needTool(t, "prometheus-node-exporter"), "--web.listen-address="+listen,
		"--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+dir, "--log.level=warn")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node_exporter:\n%s", ne.stderr.String())
		}
	})
	c := l.client.HTTPClient()
	exporter := func() string {
		code, body := get(c, "http://"+listen+"/metrics")
		if code != 200 {
			return ""
		}
		return body
	}
	poll(t, "node_exporter answering", 20*time.Millisecond, func() bool { return exporter() != "" })

	// --any: ready while the route is there; tcp://127.0.0.1:9 (nothing
	// listens) fails throughout. Every target is re-checked every 250ms,
	// changing nothing but latencies.
	const quiet = "tcp://127.0.0.1:9"
	p := startProc(t, l.client, nil, "sh", "-c", `umask 077 && exec "$0" "$@"`, needTool(t, "netready"),
		"watch", "-v", "--any", "--textfile", path, "--recheck", "250ms", "route:default4", quiet)
	file := func() string { b, _ := os.ReadFile(path); return string(b) }
	has := func(s string, lines ...string) bool {
		for _, l := range lines {
			if !strings.Contains(s, "\n"+l+"\n") {
				return false
			}
		}
		return true
	}
	readyLines := []string{"netready_ready 1", `netready_target_up{target="route:default4"} 1`, `netready_target_up{target="tcp://127.0.0.1:9"} 0`,
		`netready_target_cause{cause="port-closed",target="tcp://127.0.0.1:9"} 1`}
	poll(t, "the textfile saying ready", 5*time.Millisecond, func() bool { return has(file(), readyLines...) })

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("textfile mode: got %v, want 0644 (node_exporter runs as another user)", fi.Mode().Perm())
	}
	promtoolCheckMetrics(t, "the textfile", file())
	if strings.Contains(file(), "go_goroutines") || strings.Contains(file(), "process_") {
		t.Errorf("the textfile has the Go or process collector's metrics, which node_exporter has of its own:\n%s", file())
	}
	poll(t, "node_exporter serving the textfile", 20*time.Millisecond, func() bool {
		return has(exporter(), append(readyLines, "node_textfile_scrape_error 0")...)
	})

	// Rounds that change nothing but latencies leave the file alone. A
	// change the kernel announces meanwhile (an IPv6 link-local address
	// whose duplicate address detection ends a second or two after the
	// lab came up) is a change, and rewrites it: the window is tried
	// again then.
	probes := func() int { return strings.Count(p.stderr.String(), "msg=probe target="+quiet+" ") }
	changes := regexp.MustCompile(`\nnetready_network_changes_total (\d+)\n`)
	var rounds, windows int
	for try := 0; ; try++ {
		windows++
		ino, before, seen := inode(path), probes(), changes.FindString(file())
		time.Sleep(2 * time.Second)
		rounds = probes() - before
		if rounds < 4 {
			t.Fatalf("got %d rounds of %s in 2s, want about 8 (every 250ms): the premise does not hold\n%s", rounds, quiet, p)
		}
		if inode(path) == ino {
			break
		}
		if changes.FindString(file()) == seen || try == 2 {
			t.Fatalf("the textfile was rewritten during %d rounds that changed nothing\n%s", rounds, file())
		}
	}

	// A change is written at once.
	start := time.Now()
	l.client.IP(t, "route", "del", "default")
	notReady := []string{"netready_ready 0", `netready_target_up{target="route:default4"} 0`, `netready_target_cause{cause="no-route",target="route:default4"} 1`,
		`netready_transitions_total{target="route:default4"} 1`}
	poll(t, "the textfile saying not ready", time.Millisecond, func() bool { return has(file(), notReady...) })
	rewrite := time.Since(start)
	poll(t, "node_exporter serving not ready", 20*time.Millisecond, func() bool { return has(exporter(), notReady...) })
	t.Logf("textfile: %d rounds in 2s that changed nothing, no rewrite (window %d: the ones before saw a network change); the route deleted -> the file says not ready %s later",
		rounds, windows, rewrite.Round(time.Millisecond))

	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	poll(t, "node_exporter serving ready again", 20*time.Millisecond, func() bool {
		return has(exporter(), "netready_ready 1", `netready_transitions_total{target="route:default4"} 2`)
	})
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("got %d files in the textfile directory, want netready.prom alone", len(entries))
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the textfile is still there after watch stopped (%v): node_exporter would serve a stale state", err)
	}
	if strings.Contains(exporter(), "netready_ready") {
		t.Errorf("node_exporter still serves netready_ready after watch stopped")
	}
}

// TestIntegrationTextfileUnwritable: a textfile that cannot be written at
// the start (its directory does not exist) ends watch at once, exit 1,
// naming the flag, before any probing.
func TestIntegrationTextfileUnwritable(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	path := filepath.Join(t.TempDir(), "missing", "netready.prom")
	out := netready(t, l.client, opts{}, "watch", "--textfile", path, "route:default4")
	want := regexp.MustCompile(`^netready: --textfile ` + regexp.QuoteMeta(path) + `: open ` + regexp.QuoteMeta(path) + `\d+: no such file or directory\n$`)
	if out.code != 1 || out.stdout != "" || !want.MatchString(out.stderr) {
		t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1, nothing on stdout, stderr matching %s", out.code, out.stdout, out.stderr, want)
	}
}
