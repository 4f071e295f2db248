package main

// The harness of the tests that run netready as a process: TestMain (this
// test binary is also the netready command), the lab of two network
// namespaces, the runners that start netready inside it and read its
// output and JSON, and the servers the lab can run. The tests themselves
// are in the file named after the behaviour they test.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
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
	testscript.Main(roottest.Wrap(m), map[string]func(){
		"netready": main,
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
func waitOperUp(t testing.TB, ns *netnstest.NS, dev string) { waitState(t, ns, dev, "UP") }

// waitState waits until link dev's operstate is state (as "ip link" prints
// it), for 10 s at most: this is test setup catching up with the kernel,
// not an assertion about netready's speed.
func waitState(t testing.TB, ns *netnstest.NS, dev, state string) {
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
		Detail    string  `json:"detail"`
		Error     string  `json:"error"`
		Cause     string  `json:"cause"`
		Hint      string  `json:"hint"`
		Paths     []struct {
			Dest string    `json:"dest"`
			Role string    `json:"role"`
			Hops []jsonHop `json:"hops"`
		} `json:"paths"`
		Attempts int `json:"attempts"`
	} `json:"targets"`
}

// transition is one JSON line of watch --json.
type transition struct {
	Time    time.Time         `json:"time"`
	Ready   bool              `json:"ready"`
	Failing []string          `json:"failing"`
	Causes  map[string]string `json:"causes"`
}

// jsonHop is one hop of a path in check --explain --json.
type jsonHop struct {
	Hop    string  `json:"hop"`
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	Detail string  `json:"detail"`
	Cause  string  `json:"cause"`
	MS     float64 `json:"ms"`
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
// that contains every one of errs and, if cause is set, with that cause.
type want struct {
	ok     bool
	errs   []string
	cause  string
	hint   string // a part of the hint
	detail string // a part of the detail of a target that passes
}

// showing sets a part of the detail w wants.
func (w want) showing(detail string) want { w.detail = detail; return w }

// because sets the cause w wants.
func (w want) because(cause string) want { w.cause = cause; return w }

// hinting sets a part of the hint w wants.
func (w want) hinting(hint string) want { w.hint = hint; return w }

func pass() want { return want{ok: true} }

func fail(errs ...string) want { return want{errs: errs} }

func (w want) String() string { return map[bool]string{true: "pass", false: "fail"}[w.ok] }

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
		if w.cause != "" && got.Cause != w.cause {
			t.Errorf("%s: got cause %q (error %q), want %q", targets[i], got.Cause, got.Error, w.cause)
		}
		if !strings.Contains(got.Hint, w.hint) {
			t.Errorf("%s: got hint %q, want it to contain %q", targets[i], got.Hint, w.hint)
		}
		if w.ok && got.Error != "" {
			t.Errorf("%s: passed with error %q", targets[i], got.Error)
		}
		if !strings.Contains(got.Detail, w.detail) {
			t.Errorf("%s: got detail %q, want it to contain %q", targets[i], got.Detail, w.detail)
		}
	}
	return out
}

// eventGap and eventBurst are cli's: after a quiet spell, eventBurst
// changes each start a round at once; then at most one per eventGap.
const (
	eventGap   = 100 * time.Millisecond
	eventBurst = 6
)

// fast bounds each attempt, for targets that are meant to time out.
var fast = []string{"--probe-timeout", "1s"}

// noRetry makes sure that only a change event can cause a second round:
// both the backoff schedule and the local re-check are an hour away.
var noRetry = []string{"--backoff-initial", "1h", "--backoff-max", "1h", "--local-interval", "1h"}

func waitArgs(extra ...string) []string {
	return append(append([]string{"wait", "--timeout", "30s"}, noRetry...), extra...)
}

// labCase is a check in a fresh lab, after setup changes it.
type labCase struct {
	name    string
	setup   func(t *testing.T, l *lab)
	targets []string
	wants   []want
}

// runLabCases runs each case in parallel, each in a lab of its own.
func runLabCases(t *testing.T, cases []labCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			if tt.setup != nil {
				tt.setup(t, l)
			}
			checkTargets(t, l.client, opts{}, tt.targets, tt.wants)
		})
	}
}

// peerDown takes the server's end of the veth down, so the client's end
// loses its carrier.
func peerDown(t *testing.T, l *lab) {
	l.server.IP(t, "link", "set", "veth1", "down")
	waitState(t, l.client, "veth0", "DOWN")
}

// syncBuffer is an output that can be read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a process (netready, a server) running in the background whose
// stderr can be watched while it runs, and whose moment of exit is
// recorded.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	start, exited  time.Time
	done           chan struct{}
}

// startNetready starts netready inside ns with args, and env added to its
// environment. It is killed when the test ends, if still running.
func startNetready(t *testing.T, ns *netnstest.NS, env []string, args ...string) *proc {
	t.Helper()
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	return startProc(t, ns, env, bin, args...)
}

// startProc starts bin inside ns with args, and env added to its
// environment. It is killed when the test ends, if still running.
func startProc(t *testing.T, ns *netnstest.NS, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: ns.Command(context.Background(), bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) String() string {
	return "stdout: " + p.stdout.String() + "\nstderr: " + p.stderr.String()
}

// waitStderr waits until netready has written s on stderr: 20 s at most,
// since this is the test keeping pace with netready, not a measure of it.
func (p *proc) waitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		select {
		case <-p.done:
			if !strings.Contains(p.stderr.String(), s) {
				t.Fatalf("netready exited (%v) without writing %q on stderr\n%s", p.cmd.ProcessState, s, p)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("netready has not written %q on stderr after 20s\n%s", s, p)
		}
	}
}

// wait waits for netready to exit, 60 s at most, and returns its exit code
// (-1 if a signal killed it).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("netready still running after 60s\n%s", p)
	}
	return p.cmd.ProcessState.ExitCode()
}

// doc parses the JSON document netready printed.
func (p *proc) doc(t *testing.T) jsonDoc {
	t.Helper()
	var d jsonDoc
	if err := json.Unmarshal([]byte(p.stdout.String()), &d); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, p)
	}
	return d
}

// waitOverField returns a field of the debug record "wait over" that
// "wait -v" logs last ("rounds", "events", "netlink", "overruns").
func waitOverField(t *testing.T, p *proc, field string) string {
	t.Helper()
	for _, r := range p.records() {
		if v, ok := r[field]; ok && r["msg"] == "wait over" {
			return v
		}
	}
	t.Fatalf(`no %s= in a "wait over" record on stderr\n%s`, field, p)
	return ""
}

// waitOverInt is a numeric field of the `msg="wait over"` line.
func waitOverInt(t *testing.T, p *proc, field string) int {
	t.Helper()
	s := waitOverField(t, p, field)
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("wait over: %s=%s: %v", field, s, err)
	}
	return n
}

// readyAfterChange checks that p, a wait that saw its targets fail before
// a change (what names it), ends ready, exit 0, after at least two rounds:
// one failing, one after the change.
func (p *proc) readyAfterChange(t *testing.T, what string) {
	t.Helper()
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if doc := p.doc(t); !doc.Ready || doc.Rounds < 2 {
		t.Errorf("got ready=%v after %d rounds, want ready after at least 2 (one failing, one after %s)\n%s", doc.Ready, doc.Rounds, what, p)
	}
}

// waitOverLine is the "wait over" record of "wait -v", for logs.
func waitOverLine(p *proc) string {
	for _, r := range p.records() {
		if r["msg"] == "wait over" {
			return fmt.Sprint(map[string]string(r))
		}
	}
	return "(no wait over record)"
}

// logRecord is one record netready logged on stderr, by key.
type logRecord map[string]string

// records are the records netready has logged so far: the lines of
// log/slog's text format (key=value, a value quoted as Go quotes it when
// it has to be) that parse as one.
func (p *proc) records() []logRecord {
	var rs []logRecord
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if r, ok := parseRecord(line); ok {
			rs = append(rs, r)
		}
	}
	return rs
}

// parseRecord parses a line of log/slog's text format; ok is false for
// a line that is not one (no time=, level= and msg=, or a bad quote).
func parseRecord(line string) (r logRecord, ok bool) {
	r = logRecord{}
	for line != "" {
		key, rest, found := strings.Cut(line, "=")
		if !found || key == "" || strings.ContainsAny(key, " \"") {
			return nil, false
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				return nil, false
			}
			v, err := strconv.Unquote(rest[:end+1])
			if err != nil {
				return nil, false
			}
			val, rest = v, rest[end+1:]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
			rest = " " + rest
		}
		r[key] = val
		line = strings.TrimPrefix(rest, " ")
	}
	_, hasTime := r["time"]
	_, hasLevel := r["level"]
	_, hasMsg := r["msg"]
	return r, hasTime && hasLevel && hasMsg
}

// waitLog waits until netready has logged a record with msg and each key
// of kv (key, value, key, value ...) set to its value, and returns it: 20
// s at most, since this is the test keeping pace with netready.
func (p *proc) waitLog(t *testing.T, msg string, kv ...string) logRecord {
	t.Helper()
	match := func() logRecord {
		for _, r := range p.records() {
			ok := r["msg"] == msg
			for i := 0; ok && i+1 < len(kv); i += 2 {
				ok = r[kv[i]] == kv[i+1]
			}
			if ok {
				return r
			}
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if r := match(); r != nil {
			return r
		}
		select {
		case <-p.done:
			if r := match(); r != nil {
				return r
			}
			t.Fatalf("netready exited (%v) without logging %q %q\n%s", p.cmd.ProcessState, msg, kv, p)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("netready has not logged %q %q after 20s\n%s", msg, kv, p)
		}
	}
}

// poll checks cond every interval until it holds, 20 s at most.
func poll(t testing.TB, what string, interval time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s", what)
		}
		time.Sleep(interval)
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

// zone is what the test DNS servers answer.
var zone = []string{
	". 60 IN NS a.root.test.",
	"ready.test. 60 IN A 10.213.1.1",
	"ready.test. 60 IN AAAA fd00:213::1",
	"v4only.test. 60 IN A 10.213.1.1",
	"v6only.test. 60 IN AAAA fd00:213::1",
	"alias.test. 60 IN CNAME ready.test.",
	"svc.test. 60 IN A 10.213.1.1",
}

// dnsServer starts a test DNS server on addr:53 in the lab's server
// namespace, adding addr to veth1 first if it is not serverIP4/6.
func (l *lab) dnsServer(t *testing.T, addr string, b dnstest.Behavior) *dnstest.Server {
	t.Helper()
	if addr != serverIP4 && addr != serverIP6 {
		plen := "/24"
		if strings.Contains(addr, ":") {
			plen = "/64"
		}
		l.server.IP(t, "addr", "add", addr+plen, "dev", "veth1", "nodad")
	}
	hp := addr + ":53"
	if strings.Contains(addr, ":") {
		hp = "[" + addr + "]:53"
	}
	s := dnstest.Serve(t, l.server.ListenPacket(t, hp), l.server.Listen(t, hp), zone...)
	s.SetBehavior(b)
	return s
}

// serveHTTP serves h on addr in the lab's server namespace, over TLS with
// cert when cert is not nil.
func (l *lab) serveHTTP(t *testing.T, addr string, h http.Handler, cert *tls.Certificate) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	// Handshake failures are what some cases test; keep them off the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Listener.Close()
	s.Listener = l.server.Listen(t, addr)
	if cert != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
}

// addServerAddr adds addr to the server's veth1.
func (l *lab) addServerAddr(t *testing.T, addr string) {
	t.Helper()
	plen := "/24"
	if strings.Contains(addr, ":") {
		plen = "/64"
	}
	l.server.IP(t, "addr", "add", addr+plen, "dev", "veth1", "nodad")
}

// spoofer starts a dnstest.Spoofer on addr:53 in the server namespace whose
// accomplices send forged replies from other:53 (another address) and from
// addr:5353 (another port of the right address).
func (l *lab) spoofer(t *testing.T, addr, other string, forged, truth dnstest.Behavior) *dnstest.Spoofer {
	t.Helper()
	l.addServerAddr(t, addr)
	l.addServerAddr(t, other)
	forgers := []net.PacketConn{
		l.server.ListenPacket(t, net.JoinHostPort(other, "53")),
		l.server.ListenPacket(t, net.JoinHostPort(addr, "5353")),
	}
	return dnstest.Spoof(t, l.server.ListenPacket(t, net.JoinHostPort(addr, "53")), forgers, forged, truth, zone...)
}

// resetServer accepts TCP connections on addr in the server namespace and,
// after delay, resets each (SO_LINGER 0, then close) without having sent
// anything.
func (l *lab) resetServer(t *testing.T, addr string, delay time.Duration) {
	t.Helper()
	ln := l.server.Listen(t, addr)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			time.AfterFunc(delay, func() {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			})
		}
	}()
}

// nft loads an nftables ruleset into the server namespace; it goes with the
// namespace. The test fails without nft (Debian package nftables).
func (l *lab) nft(t *testing.T, ruleset string) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("nft not found (apt-get install nftables): %v", err)
	}
	cmd := l.server.Command(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
}

// confFile, confMissing and confDir make the file a case names with
// --resolv-conf. A file named must exist, so a missing one is a symbolic
// link to nowhere, as a resolver's stub file is before the resolver runs.
func confFile(content string) func(t *testing.T) string {
	return func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

func confMissing(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.Symlink("missing/resolv.conf", path); err != nil {
		t.Fatal(err)
	}
	return path
}

func confDir(t *testing.T) string { return t.TempDir() }

// stormBatch is an "ip -batch" script of 2n route changes on veth0: n host
// routes in 10.213.100.0/22 added, then deleted.
func stormBatch(n int) string {
	var b strings.Builder
	for _, op := range []string{"add", "del"} {
		for i := range n {
			fmt.Fprintf(&b, "route %s 10.213.%d.%d/32 dev veth0\n", op, 100+i/250, i%250)
		}
	}
	return b.String()
}

// denyEnv, set in netready's environment, makes the process refuse itself
// a facility before main runs, with a seccomp filter:
//
//   - "netlink": socket(AF_NETLINK, ...) fails with EAFNOSUPPORT, the way
//     systemd's RestrictAddressFamilies= without AF_NETLINK does;
//   - "inotify": inotify_init1(2) fails with EMFILE, as it does when
//     fs.inotify.max_user_instances is reached.
//
// The test binary is netready (see TestMain), so the filter is installed
// by this init, in the netready process only.
const denyEnv = "NETREADY_TEST_DENY"

func init() {
	what := os.Getenv(denyEnv)
	if what == "" {
		return
	}
	os.Unsetenv(denyEnv)
	if err := deny(what); err != nil {
		fmt.Fprintf(os.Stderr, "netready test: deny %s: %v\n", what, err)
		os.Exit(125)
	}
}

// deny installs, on every thread of the process, a seccomp filter that
// fails the system call of what (see denyEnv) and allows every other one.
func deny(what string) error {
	arch, ok := map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("no seccomp filter for %s", runtime.GOARCH)
	}
	// Offsets in struct seccomp_data: nr, arch, then args[0] (its low
	// 32 bits on a little-endian machine).
	const offNr, offArch, offArg0 = 0, 4, 16
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	var prog []unix.SockFilter
	switch what {
	case "netlink":
		prog = []unix.SockFilter{
			ld(offArch),
			jeq(arch, 0, 4), // another architecture: allow
			ld(offNr),
			jeq(unix.SYS_SOCKET, 0, 2),
			ld(offArg0),
			jeq(unix.AF_NETLINK, 1, 0),
			ret(unix.SECCOMP_RET_ALLOW),
			ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)),
		}
	case "inotify":
		prog = []unix.SockFilter{
			ld(offArch),
			jeq(arch, 0, 2), // another architecture: allow
			ld(offNr),
			jeq(unix.SYS_INOTIFY_INIT1, 1, 0),
			ret(unix.SECCOMP_RET_ALLOW),
			ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EMFILE)),
		}
	default:
		return fmt.Errorf("unknown facility %q", what)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: thread %d could not be synchronised", r)
	}
	return nil
}

// needTool returns the path of a program a test runs; a missing one fails
// the test (make deps installs them all: scripts/install-test-deps.sh and
// scripts/install-fleet-deps.sh).
func needTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: make deps installs it", name)
	}
	return path
}

// get fetches url with c and returns the status and body; an error (a
// refused connection) is status 0 and the error's text.
func get(c *http.Client, url string) (int, string) {
	return statusBody(c.Get(url))
}

// statusBody is the status and body of a response; an error, before or
// while reading it, is status 0 and the error's text.
func statusBody(resp *http.Response, err error) (int, string) {
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}

// promtoolCheckMetrics runs "promtool check metrics" on an exposition and
// fails the test on anything it says (a lint problem or an error).
func promtoolCheckMetrics(t *testing.T, what, exposition string) {
	t.Helper()
	cmd := exec.Command(needTool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics on %s: %v: %s", what, err, out)
	}
}

// parseRecord reads back what log/slog's text handler writes, quoted
// values with spaces, quotes, = and escapes included; other lines are not
// records.
func TestParseRecord(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	attrs := map[string]string{
		"target": "dns:ready.test", "ok": "false", "error": `query "." NS: 10.213.1.1:53: i/o timeout`,
		"status": "a=b c", "tab": "x\ty", "empty": "", "backslash": `C:\path\`,
	}
	var args []any
	for k, v := range attrs {
		args = append(args, k, v)
	}
	log.Debug("wait over", args...)
	r, ok := parseRecord(strings.TrimSuffix(b.String(), "\n"))
	if !ok {
		t.Fatalf("not parsed: %q", b.String())
	}
	if r["msg"] != "wait over" || r["level"] != "DEBUG" {
		t.Errorf("msg %q level %q", r["msg"], r["level"])
	}
	for k, v := range attrs {
		if r[k] != v {
			t.Errorf("%s: got %q, want %q (line %q)", k, r[k], v, b.String())
		}
	}
	for _, line := range []string{"", "netready: not ready after 2s", `time=x level=INFO msg="unterminated`, "FAIL tcp://10.213.1.1:9"} {
		if _, ok := parseRecord(line); ok {
			t.Errorf("%q parsed as a record", line)
		}
	}
}
