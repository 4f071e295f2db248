package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/netready/netready/internal/netnstest"
)

// TestMain makes this test binary also act as the netready command: run as
// "netready" (through the directory testscript puts first in PATH) it is
// main. Integration tests exec it inside network namespaces.
func TestMain(m *testing.M) {
	// The race detector makes every process it built wait a second before
	// exiting (atexit_sleep_ms=1000), for reports from other goroutines.
	// The netready processes the tests start are this binary: 20 ms is
	// enough for them, and saves about a second per run.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=20")
	}
	testscript.Main(m, map[string]func(){
		"netready": main,
	})
}

// TestScripts runs the command-line scripts in testdata/script: usage
// errors, exit codes, help and version, all without a network.
//
// "exits N CMD ARGS..." runs CMD and asserts its exit code is N; its
// stdout and stderr can then be matched as after exec.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%s: %v", args[1], err)
				}
				if got != want {
					ts.Fatalf("exit code: got %d, want %d", got, want)
				}
			},
		},
	})
}

// lab is two network namespaces joined by a veth pair: "client", where
// netready runs, and "server", where the servers it probes listen.
//
//	client veth0 10.213.1.2/24 fd00:213::2/64 <-> server veth1 10.213.1.1/24 fd00:213::1/64
//
// The client has IPv4 and IPv6 default routes via the server, a resolv.conf
// naming 10.213.1.1 and a hosts file with server.test; nothing reaches the
// host's namespace.
type lab struct {
	client, server *netnstest.NS
}

const (
	serverIP4 = "10.213.1.1"
	clientIP4 = "10.213.1.2"
	serverIP6 = "fd00:213::1"
	clientIP6 = "fd00:213::2"
)

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{client: netnstest.New(t), server: netnstest.New(t)}
	netnstest.Veth(t, l.client, "veth0", l.server, "veth1")
	l.client.IP(t, "addr", "add", clientIP4+"/24", "dev", "veth0")
	l.client.IP(t, "addr", "add", clientIP6+"/64", "dev", "veth0", "nodad")
	l.server.IP(t, "addr", "add", serverIP4+"/24", "dev", "veth1")
	l.server.IP(t, "addr", "add", serverIP6+"/64", "dev", "veth1", "nodad")
	l.server.IP(t, "link", "set", "veth1", "up")
	l.client.IP(t, "link", "set", "veth0", "up")
	waitOperUp(t, l.client, "veth0")
	waitOperUp(t, l.server, "veth1")
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	l.client.IP(t, "-6", "route", "add", "default", "via", serverIP6)
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n")
	l.client.WriteEtc(t, "hosts", "127.0.0.1 localhost\n"+serverIP4+" server.test\n"+serverIP6+" server6.test\n")
	return l
}

// waitOperUp waits until the kernel reports link dev operationally up: a
// veth's carrier comes up shortly after "ip link set up", not at once.
func waitOperUp(t *testing.T, ns *netnstest.NS, dev string) { waitState(t, ns, dev, "UP") }

// waitState waits until link dev's operstate is state (as "ip link" prints
// it), for 10 s at most: this is test setup catching up with the kernel,
// not an assertion about netready's speed.
func waitState(t *testing.T, ns *netnstest.NS, dev, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ns.IP(t, "-o", "link", "show", dev), "state "+state+" ") {
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s is not %s after 10s", dev, ns.Name, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outcome is what one run of netready printed and exited with.
type outcome struct {
	code           int
	stdout, stderr string
	doc            jsonDoc // when run with --json
}

type jsonDoc struct {
	Ready     bool    `json:"ready"`
	ElapsedMS float64 `json:"elapsed_ms"`
	Rounds    int     `json:"rounds"`
	Targets   []struct {
		Target    string  `json:"target"`
		OK        bool    `json:"ok"`
		LatencyMS float64 `json:"latency_ms"`
		Error     string  `json:"error"`
		Attempts  int     `json:"attempts"`
	} `json:"targets"`
}

// opts changes how netready is run: env adds KEY=VALUE to its
// environment, wrap is a command that runs it (setpriv ... to drop
// capabilities), flags go before the targets.
type opts struct {
	env, wrap, flags []string
}

// netready runs netready inside ns with args, and waits for it (30 s at most).
func netready(t *testing.T, ns *netnstest.NS, o opts, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(append([]string{}, o.wrap...), bin), args...)
	cmd := ns.Command(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		out.code = ee.ExitCode()
	default:
		t.Fatalf("run netready %v: %v", args, err)
	}
	for _, a := range args {
		if a == "--json" {
			if err := json.Unmarshal(stdout.Bytes(), &out.doc); err != nil {
				t.Fatalf("netready %v: stdout is not JSON: %v\n%s", args, err, out)
			}
		}
	}
	return out
}

// want is the expected outcome of one target: pass, or fail with an error
// that contains every one of errs.
type want struct {
	ok   bool
	errs []string
}

func pass() want                 { return want{ok: true} }
func fail(errs ...string) want   { return want{errs: errs} }
func (w want) String() string    { return map[bool]string{true: "pass", false: "fail"}[w.ok] }
func (o outcome) String() string { return o.stdout + o.stderr }

// checkTargets runs "netready check --json" on targets and asserts the exit
// code and each target's outcome.
func checkTargets(t *testing.T, ns *netnstest.NS, o opts, targets []string, wants []want) outcome {
	t.Helper()
	args := append(append([]string{"check", "--json"}, o.flags...), targets...)
	out := netready(t, ns, o, args...)
	wantCode := 0
	for _, w := range wants {
		if !w.ok {
			wantCode = 1
		}
	}
	if out.code != wantCode {
		t.Errorf("exit code: got %d, want %d\n%s", out.code, wantCode, out)
	}
	if len(out.doc.Targets) != len(targets) {
		t.Fatalf("got %d targets in the report, want %d\n%s", len(out.doc.Targets), len(targets), out)
	}
	for i, w := range wants {
		got := out.doc.Targets[i]
		if got.Target != targets[i] {
			t.Errorf("target %d: got name %q, want %q", i, got.Target, targets[i])
		}
		if got.OK != w.ok {
			t.Errorf("%s: got ok=%v (error %q), want %s", targets[i], got.OK, got.Error, w)
			continue
		}
		for _, e := range w.errs {
			if !strings.Contains(got.Error, e) {
				t.Errorf("%s: error %q does not contain %q", targets[i], got.Error, e)
			}
		}
		if w.ok && got.Error != "" {
			t.Errorf("%s: passed with error %q", targets[i], got.Error)
		}
	}
	return out
}

// eventGap is netready's least time between rounds that changes start
// (cli's eventGap).
const eventGap = 100 * time.Millisecond

// transition is one JSON line of watch --json.
type transition struct {
	Time    time.Time `json:"time"`
	Ready   bool      `json:"ready"`
	Failing []string  `json:"failing"`
}
