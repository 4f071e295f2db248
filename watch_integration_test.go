package main

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
)

// TestIntegrationWatch: watch prints each transition as the default route
// comes and goes, sends READY=1 once, and exits 0 on SIGTERM.
func TestIntegrationWatch(t *testing.T) {
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
	const lost = "not ready: route:default4: no IPv4 default route"
	if !slices.Contains(statuses, lost) {
		t.Errorf("STATUS= messages %q do not include %q", statuses, lost)
	}
}

func splitLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
