package main

// watch --on-change: the command run after each transition, its
// environment, and that it neither piles up nor holds probing back.

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/roottest"
)

// onChangeScript records each run in DIR/log: its number, argument and
// environment, "overlap" if another run was in progress, and its end. A
// run waits while DIR/hold exists (30 s at most). It always fails, exit 3.
const onChangeScript = `#!/bin/sh
d=$(dirname "$0")
n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 ))
echo $n > "$d/count"
mkdir "$d/running" 2>/dev/null || echo overlap >> "$d/log"
echo "run $n arg=$1 ready=$NETREADY_READY failing=$NETREADY_FAILING causes=$NETREADY_CAUSES notify=${NOTIFY_SOCKET-unset}" >> "$d/log"
i=0
while [ -e "$d/hold" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
rmdir "$d/running"
echo "end $n" >> "$d/log"
exit 3
`

// TestIntegrationOnChange: the command given with --on-change (a program
// and an argument, split on the space) runs after the first verdict with
// the failing targets and their causes in its environment, and no
// NOTIFY_SOCKET. While that run is held, watch goes through three more
// transitions without waiting for it; once it ends, one run follows, with
// the latest state only. Runs never overlap; a run that fails (exit 3) is
// a warning, and later transitions still run the command.
func TestIntegrationOnChange(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	dir := t.TempDir()
	script := filepath.Join(dir, "on-change.sh")
	if err := os.WriteFile(script, []byte(onChangeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	hold := filepath.Join(dir, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()

	const endpoint = "tcp://" + serverIP4 + ":8080"
	p := startNetready(t, l.client, []string{"NOTIFY_SOCKET=" + sock}, "watch", "--json", "--on-change", script+" hello", "route:default4", endpoint)
	log := func() []string { b, _ := os.ReadFile(filepath.Join(dir, "log")); return splitLines(string(b)) }
	waitLog := func(line string) {
		t.Helper()
		poll(t, "on-change log line "+line, 5*time.Millisecond, func() bool {
			return slices.ContainsFunc(log(), func(l string) bool { return strings.HasPrefix(l, line) })
		})
	}
	waitTransitions := func(n int, ready bool) {
		t.Helper()
		poll(t, "the next transition", 5*time.Millisecond, func() bool { return len(transitions(t, p)) >= n })
		if trs := transitions(t, p); len(trs) != n || trs[n-1].Ready != ready {
			t.Fatalf("got transitions %+v, want %d, the last ready=%v", trs, n, ready)
		}
	}

	waitTransitions(1, false)
	waitLog("run 1 ")
	// While run 1 is held: ready, not ready, ready again.
	tcpServer(t, l.server, serverIP4+":8080")
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	waitTransitions(2, true)
	l.client.IP(t, "route", "del", "default")
	waitTransitions(3, false)
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	waitTransitions(4, true)
	if got := log(); len(got) != 1 {
		t.Fatalf("while run 1 is held, got log %q, want run 1 alone", got)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	waitLog("end 2")
	// A transition after the failed runs runs the command again.
	l.client.IP(t, "route", "del", "default")
	waitTransitions(5, false)
	waitLog("end 3")

	want := []string{
		"run 1 arg=hello ready=0 failing=route:default4 " + endpoint + " causes=route:default4=no-route " + endpoint + "=port-closed notify=unset",
		"end 1",
		"run 2 arg=hello ready=1 failing= causes= notify=unset", // the latest of three states
		"end 2",
		"run 3 arg=hello ready=0 failing=route:default4 causes=route:default4=no-route notify=unset",
		"end 3",
	}
	if got := log(); !slices.Equal(got, want) {
		t.Errorf("on-change runs:\ngot  %q\nwant %q", got, want)
	}
	// The warning follows the end of the run that the log shows.
	failed := func() (n int) {
		for _, r := range p.records() {
			if r["msg"] == "on-change command failed" && r["command"] == script+" hello" && r["error"] == "exit status 3" {
				n++
			}
		}
		return n
	}
	poll(t, "the third warning of a failed run", 5*time.Millisecond, func() bool { return failed() >= 3 })
	if n := failed(); n != 3 {
		t.Errorf("got %d warnings of a failed run, want 3\n%s", n, p)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code: got %d, want 0\n%s", code, p)
	}
}
