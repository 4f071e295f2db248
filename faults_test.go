package main

// The fault matrix of issue 5: netready against resolvers, servers, links,
// routes, sandboxes and callers that misbehave, in network namespaces the
// tests create (see lab). Each case asserts the outcome (ready or not), the
// exit code and the cause the report names. Cases that the integration
// tests already cover (wrong ids, truncation, rcodes, silence, refused TCP,
// HTTP 503 and captive portals, headers that never come, untrusted and
// not-yet-valid certificates, a command that is not found) are not
// repeated here.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
)

// denyNetlinkEnv, set to 1 in netready's environment, makes the process
// refuse itself AF_NETLINK sockets before main runs, the way systemd's
// RestrictAddressFamilies= without AF_NETLINK does: socket(2) fails with
// EAFNOSUPPORT. The test binary is netready (see TestMain), so the filter
// is installed by this init, in the netready process only.
const denyNetlinkEnv = "NETREADY_TEST_DENY_NETLINK"

func init() {
	if os.Getenv(denyNetlinkEnv) != "1" {
		return
	}
	os.Unsetenv(denyNetlinkEnv)
	if err := denyNetlink(); err != nil {
		fmt.Fprintf(os.Stderr, "netready test: deny netlink: %v\n", err)
		os.Exit(125)
	}
}

// denyNetlink installs, on every thread of the process, a seccomp filter
// that fails socket(AF_NETLINK, ...) with EAFNOSUPPORT and allows every
// other system call.
func denyNetlink() error {
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
	prog := []unix.SockFilter{
		ld(offArch),
		jeq(arch, 0, 4), // another architecture: allow
		ld(offNr),
		jeq(unix.SYS_SOCKET, 0, 2),
		ld(offArg0),
		jeq(unix.AF_NETLINK, 1, 0),
		ret(unix.SECCOMP_RET_ALLOW),
		ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)),
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

// faultBuffer is an output that can be read while a process writes it.
type faultBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *faultBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *faultBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// faultProc is a netready process running in the background whose stderr can be
// watched while it runs, and whose moment of exit is recorded.
type faultProc struct {
	cmd            *exec.Cmd
	stdout, stderr faultBuffer
	start, exited  time.Time
	done           chan struct{}
}

// startFault starts netready inside ns with args, and env added to its
// environment. It is killed when the test ends, if still running.
func startFault(t *testing.T, ns *netnstest.NS, env []string, args ...string) *faultProc {
	t.Helper()
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProc{cmd: ns.Command(context.Background(), bin, args...), done: make(chan struct{})}
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

func (p *faultProc) String() string {
	return "stdout: " + p.stdout.String() + "\nstderr: " + p.stderr.String()
}

// waitStderr waits until netready has written s on stderr: 20 s at most,
// since this is the test keeping pace with netready, not a measure of it.
func (p *faultProc) waitStderr(t *testing.T, s string) {
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
func (p *faultProc) wait(t *testing.T) int {
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
func (p *faultProc) doc(t *testing.T) jsonDoc {
	t.Helper()
	var d jsonDoc
	if err := json.Unmarshal([]byte(p.stdout.String()), &d); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, p)
	}
	return d
}

// waitOverField returns a field of the debug line `msg="wait over"` that
// "wait -v" writes last ("rounds", "events", "netlink", "overruns").
func waitOverField(t *testing.T, p *faultProc, field string) string {
	t.Helper()
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if !strings.Contains(line, `msg="wait over"`) {
			continue
		}
		if m := regexp.MustCompile(`\b` + field + `=(\S+)`).FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	t.Fatalf(`no %s= in a msg="wait over" line on stderr\n%s`, field, p)
	return ""
}

// waitOverInt is a numeric field of the `msg="wait over"` line.
func waitOverInt(t *testing.T, p *faultProc, field string) int {
	t.Helper()
	s := waitOverField(t, p, field)
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("wait over: %s=%s: %v", field, s, err)
	}
	return n
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
// --resolv-conf.
func confFile(content string) func(t *testing.T) string {
	return func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

func confMissing(t *testing.T) string { return filepath.Join(t.TempDir(), "missing", "resolv.conf") }
func confDir(t *testing.T) string     { return t.TempDir() }

// garbageResolvConf is binary junk from a fixed seed, a 2 MB line, and lines that
// look like nameserver lines and are not, with good appended at the end.
// glibc reads lines of any length, so a nameserver line after the long one
// counts.
func garbageResolvConf(good string) string {
	r := rand.New(rand.NewPCG(5, 213))
	var b strings.Builder
	for range 4096 {
		c := byte(r.UintN(256))
		if c == '\n' || c == '#' || c == ';' {
			c = 'x'
		}
		b.WriteByte(c)
	}
	b.WriteString("\n\x00\xff\xfe\r\n")
	b.WriteString(strings.Repeat("nameserver", 200_000)) // 2 MB on one line
	b.WriteString("\nnameserver 10.213.1.1.1\nnameserver fd00:213::zz\nnameserver\nnameserver10.213.1.1\n")
	b.WriteString("nameserver 10.213.1.1/24\nnameserver 10.213.1\nnameserver [10.213.1.1]\nnameserver 10.213.1.1:53\n")
	b.WriteString("\x00nameserver 10.213.1.1\noptions timeout:x attempts:-1 ndots:99999999999999999999\nsearch " + strings.Repeat("a", 300) + "\n")
	b.WriteString(good)
	return b.String()
}

// TestFaultDNS: resolvers and resolver configurations that misbehave, each
// case one "netready check --json" in one lab.
func TestFaultDNS(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, serverIP6, dnstest.Answer)

	spoofed4 := l.spoofer(t, "10.213.1.30", "10.213.1.130", dnstest.NXDomain, dnstest.Answer)
	spoofed6 := l.spoofer(t, "fd00:213::30", "fd00:213::130", dnstest.NXDomain, dnstest.Answer)
	onlyForged := l.spoofer(t, "10.213.1.31", "10.213.1.131", dnstest.Answer, dnstest.Silent)

	// A resolver that listens on TCP only: no UDP socket, so UDP queries
	// meet an ICMP port unreachable.
	l.addServerAddr(t, "10.213.1.32")
	tcpOnly := dnstest.Serve(t, nil, l.server.Listen(t, "10.213.1.32:53"), zone...)

	slow := l.dnsServer(t, "10.213.1.33", dnstest.Answer)
	slow.SetDelay(2 * time.Second)
	slowerThanRetransmit := l.dnsServer(t, "10.213.1.34", dnstest.Answer)
	slowerThanRetransmit.SetDelay(1500 * time.Millisecond)
	l.dnsServer(t, "10.213.1.35", dnstest.OnlyMalformed)
	l.addServerAddr(t, "10.213.1.36") // nothing listens on its port 53
	l.dnsServer(t, "10.213.1.37", dnstest.Silent)
	l.server.Listen(t, serverIP4+":8080")

	noServer := `names no nameserver, so the default was tried: 127.0.0.1:53: connection refused; [::1]:53: connection refused`
	tests := []struct {
		name    string
		conf    func(t *testing.T) string // the --resolv-conf file
		flags   []string
		targets []string
		wants   []want
		// exact, when set, is the whole error of the first target.
		exact string
		// maxLatency, when set, bounds the first target's latency: an
		// attempt that has to wait for another server to time out takes
		// far longer.
		maxLatency time.Duration
		after      func(t *testing.T)
	}{
		{
			name:    "forged replies from another address and port, then the real one",
			conf:    confFile("nameserver 10.213.1.30\n"),
			targets: []string{"dns:ready.test", "dns://[fd00:213::30]/ready.test"},
			// The forged replies say NXDOMAIN: taking one fails the target.
			wants: []want{pass(), pass()},
			after: func(t *testing.T) {
				for _, s := range []*dnstest.Spoofer{spoofed4, spoofed6} {
					if q, f := s.Queries(), s.Forged(); q != 1 || f != 2 {
						t.Errorf("spoofer %s: got %d queries and %d forged replies, want 1 and 2 (the forgers did not run)", s, q, f)
					}
				}
			},
		},
		{
			name:    "only forged replies",
			conf:    confFile("nameserver 10.213.1.1\n"),
			flags:   []string{"--probe-timeout", "1s"},
			targets: []string{"dns://10.213.1.31/ready.test"},
			wants:   []want{fail("i/o timeout")},
			// The forged replies would pass; the kernel drops them before
			// the probe reads them, so not even "ignored" is said.
			exact: `query "ready.test." A: 10.213.1.31:53: i/o timeout`,
			after: func(t *testing.T) {
				if f := onlyForged.Forged(); f != 2 {
					t.Errorf("got %d forged replies, want 2", f)
				}
			},
		},
		{
			// Like glibc, netready asks over TCP only after a truncated
			// UDP reply: a resolver without UDP refuses DNS.
			name:    "server on TCP only",
			conf:    confFile("nameserver 10.213.1.1\n"),
			targets: []string{"dns://10.213.1.32/ready.test"},
			wants:   []want{fail("10.213.1.32:53: connection refused")},
			exact:   `query "ready.test." A: 10.213.1.32:53: connection refused`,
			after: func(t *testing.T) {
				if udp, tcp := tcpOnly.Queries(); udp != 0 || tcp != 0 {
					t.Errorf("got %d UDP and %d TCP queries, want none", udp, tcp)
				}
			},
		},
		{
			name:       "reply slower than --probe-timeout",
			conf:       confFile("nameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "300ms"},
			targets:    []string{"dns://10.213.1.33/ready.test"},
			wants:      []want{fail("10.213.1.33:53: i/o timeout")},
			maxLatency: 1500 * time.Millisecond, // the reply comes at 2s
		},
		{
			// The query is sent again after 1s; the reply to the first
			// one, at 1.5s, has the same id and is taken.
			name:    "reply slower than the resolver timeout, within --probe-timeout",
			conf:    confFile("options timeout:1 attempts:2\nnameserver 10.213.1.34\n"),
			flags:   []string{"--probe-timeout", "5s"},
			targets: []string{"dns:ready.test"},
			wants:   []want{pass()},
			after: func(t *testing.T) {
				if udp, _ := slowerThanRetransmit.Queries(); udp != 2 {
					t.Errorf("got %d UDP queries, want 2 (one retransmission)", udp)
				}
			},
		},
		{
			name:    "only a malformed packet",
			conf:    confFile("nameserver 10.213.1.1\n"),
			flags:   []string{"--probe-timeout", "1s"},
			targets: []string{"dns://10.213.1.35/ready.test"},
			wants:   []want{fail("10.213.1.35:53: i/o timeout (ignored 1 malformed reply)")},
		},
		{
			// Refused at once and silent, asked at the same time as the
			// good one, which answers in milliseconds.
			name:       "dead resolvers in resolv.conf next to one that works",
			conf:       confFile("nameserver 10.213.1.36\nnameserver 10.213.1.37\nnameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "10s"},
			targets:    []string{"dns:ready.test", "tcp://svc.test:8080"},
			wants:      []want{pass(), pass()},
			maxLatency: 5 * time.Second, // the silent one would take 10s
		},
		{
			name:       "a resolver host that does not exist next to one that works",
			conf:       confFile("nameserver 10.213.1.77\nnameserver 10.213.1.1\n"),
			flags:      []string{"--probe-timeout", "10s"},
			targets:    []string{"dns:ready.test"},
			wants:      []want{pass()},
			maxLatency: 5 * time.Second, // no ARP reply: 3s before the kernel gives up
		},
		{
			name:    "empty resolv.conf",
			conf:    confFile(""),
			targets: []string{"dns:ready.test"},
			wants:   []want{fail(noServer)},
		},
		{
			name:    "garbage resolv.conf",
			conf:    confFile(garbageResolvConf("")),
			targets: []string{"dns:ready.test"},
			wants:   []want{fail(noServer)},
		},
		{
			name:    "garbage resolv.conf around one good nameserver line",
			conf:    confFile(garbageResolvConf("nameserver 10.213.1.1\n")),
			targets: []string{"dns:ready.test"},
			wants:   []want{pass()},
		},
		{
			name:    "resolv.conf missing",
			conf:    confMissing,
			targets: []string{"dns:ready.test", "tcp://svc.test:8080"},
			wants: []want{
				fail("does not exist, so the default was tried: 127.0.0.1:53: connection refused; [::1]:53: connection refused"),
				fail(`resolve "svc.test"`, "does not exist, so the default was tried", "127.0.0.1:53: connection refused"),
			},
		},
		{
			name:    "resolv.conf is a directory",
			conf:    confDir,
			targets: []string{"dns:ready.test"},
			wants:   []want{fail("read resolver configuration", "is a directory")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags := append([]string{"--resolv-conf", tt.conf(t)}, tt.flags...)
			out := checkTargets(t, l.client, opts{flags: flags}, tt.targets, tt.wants)
			if tt.exact != "" && len(out.doc.Targets) > 0 && out.doc.Targets[0].Error != tt.exact {
				t.Errorf("%s: got error %q, want %q", tt.targets[0], out.doc.Targets[0].Error, tt.exact)
			}
			if tt.maxLatency > 0 && len(out.doc.Targets) > 0 {
				if got := time.Duration(out.doc.Targets[0].LatencyMS * float64(time.Millisecond)); got > tt.maxLatency {
					t.Errorf("%s: latency %s, want at most %s", tt.targets[0], got, tt.maxLatency)
				}
			}
			if tt.after != nil {
				tt.after(t)
			}
		})
	}
}

// TestFaultResolvConfSymlinkLate: resolv.conf is a symbolic link whose
// target, in a directory that does not exist yet, appears while "netready
// wait" runs. No timer can start a second round (noRetry) and netlink is
// off, so only the file event can explain readiness.
func TestFaultResolvConfSymlinkLate(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(etc, "resolv.conf")
	if err := os.Symlink("../run/resolve/stub-resolv.conf", conf); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"wait", "--json", "-v", "--timeout", "30s", "--no-netlink", "--resolv-conf", conf}, noRetry...)
	p := startFault(t, l.client, nil, append(args, "dns:ready.test")...)
	p.waitStderr(t, `msg=probe target=dns:ready.test ok=false`)

	target := filepath.Join(dir, "run", "resolve", "stub-resolv.conf")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	// Written beside it and renamed into place, as systemd-resolved does.
	if err := os.WriteFile(target+".tmp", []byte("nameserver "+serverIP4+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(target+".tmp", target); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if d := p.doc(t); !d.Ready || d.Rounds < 2 {
		t.Errorf("got ready=%v after %d rounds, want ready after at least 2 (one failing, one after the file appeared)\n%s", d.Ready, d.Rounds, p)
	}
	if ev := waitOverInt(t, p, "events"); ev < 1 {
		t.Errorf("got %d change events, want at least 1", ev)
	}
}

// TestFaultTCP: endpoints that drop SYNs, and that accept and reset.
func TestFaultTCP(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	// Port 81 has a listener, but every packet to it is dropped before it
	// gets there: no reply to the SYN, no RST, no ICMP.
	l.server.Listen(t, serverIP4+":81")
	l.nft(t, `table inet netready_fault {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 81 drop
	}
}
`)
	l.resetServer(t, serverIP4+":82", 0)
	l.resetServer(t, serverIP4+":83", 200*time.Millisecond)
	l.server.Listen(t, serverIP4+":8080") // accepts, never speaks

	t.Run("check", func(t *testing.T) {
		t.Parallel()
		targets := []string{
			"tcp://10.213.1.1:81",
			"http://10.213.1.1:81/",
			// Port 83 resets 200ms after accepting. The handshake is
			// complete by then, which is all tcp:// asks...
			"tcp://10.213.1.1:83",
			// ...but what needs the server to speak fails.
			"http://10.213.1.1:83/",
			"tls://10.213.1.1:83",
			// Port 82 resets at once: the reset may even beat the
			// client's check that connect(2) completed, so only the
			// cause is asserted, not the step.
			"http://10.213.1.1:82/",
			"tls://10.213.1.1:82",
			// Port 8080 accepts and never speaks.
			"https://10.213.1.1:8080/",
		}
		wants := []want{
			fail("connect 10.213.1.1:81: i/o timeout"),
			fail("no connection before the probe timed out: i/o timeout"),
			pass(),
			fail("request: connection reset by peer"),
			fail("tls handshake: connection reset by peer"),
			fail("connection reset by peer"),
			fail("connection reset by peer"),
			fail("no TLS handshake before the probe timed out"),
		}
		out := checkTargets(t, l.client, opts{flags: fast}, targets, wants)
		if got, want := out.doc.Targets[3].Error, "request: connection reset by peer"; got != want {
			t.Errorf("%s: got error %q, want %q", targets[3], got, want)
		}
	})
	t.Run("hint for a blackhole", func(t *testing.T) {
		t.Parallel()
		o := netready(t, l.client, opts{}, "check", "--probe-timeout", "1s", "tcp://10.213.1.1:81")
		if o.code != 1 {
			t.Errorf("exit code: got %d, want 1\n%s", o.code, o)
		}
		for _, s := range []string{"FAIL", "connect 10.213.1.1:81: i/o timeout", "hint: no answer at all: a firewall may be dropping the traffic"} {
			if !strings.Contains(o.stdout, s) {
				t.Errorf("report does not contain %q\n%s", s, o)
			}
		}
	})
	t.Run("wait ends at --timeout while a SYN goes unanswered", func(t *testing.T) {
		t.Parallel()
		p := startFault(t, l.client, nil, "wait", "--timeout", "2s", "--probe-timeout", "30s", "tcp://10.213.1.1:81")
		code := p.wait(t)
		took := p.exited.Sub(p.start)
		t.Logf("wait --timeout 2s with a 30s probe stuck on a SYN: exited after %s", took)
		if code != 1 {
			t.Fatalf("exit code: got %d, want 1\n%s", code, p)
		}
		// 2s is the promise; 10s only keeps a loaded machine from failing
		// the test, and is still far from the 30s probe timeout.
		if took < 2*time.Second || took > 10*time.Second {
			t.Errorf("exited after %s, want soon after --timeout 2s", took)
		}
		for _, s := range []string{"not ready after 2s", "connect 10.213.1.1:81: i/o timeout"} {
			if !strings.Contains(p.stderr.String(), s) {
				t.Errorf("stderr does not contain %q\n%s", s, p)
			}
		}
	})
}

// flapper takes a link down and up again every period, through a netlink
// handle in its namespace (an "ip" command per change would take longer
// than the period), until stopped.
type flapper struct {
	stop   chan struct{}
	done   chan struct{}
	lastUp time.Time // when the link was last set up (the call began)
	flaps  int
	err    error
}

func flap(t *testing.T, ns *netnstest.NS, dev string, period time.Duration) *flapper {
	t.Helper()
	h := ns.Handle(t)
	link, err := h.LinkByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	f := &flapper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tick := time.NewTicker(period / 2)
		defer tick.Stop()
		for {
			if f.err = h.LinkSetDown(link); f.err != nil {
				return
			}
			<-tick.C
			f.lastUp = time.Now()
			if f.err = h.LinkSetUp(link); f.err != nil {
				return
			}
			f.flaps++
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return f
}

// end stops the flapping, with the link left up.
func (f *flapper) end(t *testing.T) {
	t.Helper()
	select {
	case <-f.done:
	default:
		close(f.stop)
		<-f.done
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
}

// TestFaultLinkFlap: a link that goes down and up every 20ms, far faster
// than --settle, never makes wait ready; once it stays up, it does, but
// not before it has stayed up for --settle.
func TestFaultLinkFlap(t *testing.T) {
	t.Parallel()
	const settle = time.Second
	t.Run("flapping until the timeout", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		f := flap(t, l.client, "veth0", 20*time.Millisecond)
		defer f.end(t)
		p := startFault(t, l.client, nil, "wait", "--json", "-v", "--settle", "1s", "--timeout", "3s", "link:veth0")
		code := p.wait(t)
		f.end(t)
		t.Logf("%d flaps; %s", f.flaps, waitOverLine(p))
		if code != 1 {
			t.Fatalf("exit code: got %d, want 1 (never ready while the link flaps)\n%s", code, p)
		}
		if d := p.doc(t); d.Ready {
			t.Errorf("JSON says ready\n%s", p)
		}
		if ev := waitOverInt(t, p, "events"); ev < 2 {
			t.Errorf("got %d change events from %d flaps, want many", ev, f.flaps)
		}
	})
	t.Run("flapping, then stable", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		f := flap(t, l.client, "veth0", 20*time.Millisecond)
		defer f.end(t)
		p := startFault(t, l.client, nil, "wait", "--json", "-v", "--settle", "1s", "--timeout", "20s", "link:veth0")
		time.Sleep(2 * time.Second)
		f.end(t)
		code := p.wait(t)
		t.Logf("%d flaps; ready %s after the last one; %s", f.flaps, p.exited.Sub(f.lastUp), waitOverLine(p))
		if code != 0 {
			t.Fatalf("exit code: got %d, want 0 once the link stays up\n%s", code, p)
		}
		if d := p.doc(t); !d.Ready {
			t.Errorf("JSON does not say ready\n%s", p)
		}
		// The last flap's events come after f.lastUp, and settling
		// starts again at each: ready any earlier would have been
		// declared while the link was still flapping.
		if since := p.exited.Sub(f.lastUp); since < settle {
			t.Errorf("ready %s after the link stopped flapping, want at least --settle %s", since, settle)
		}
	})
}

// waitOverLine is the `msg="wait over"` line of "wait -v", for logs.
func waitOverLine(p *faultProc) string {
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, `msg="wait over"`) {
			return line
		}
	}
	return "(no wait over line)"
}

// TestFaultRouteStorm: 20,000 route changes in one ip -batch, the last of
// which adds the default route that makes "wait route:default4" ready,
// overflow the netlink socket's default receive buffer (ENOBUFS). netready
// must read the state again and notice the route; no timer can start a
// round for it (noRetry).
func TestFaultRouteStorm(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	const n = 10_000
	batch := stormBatch(n) + "route add default via " + serverIP4 + "\n"

	args := append([]string{"wait", "--json", "-v", "--timeout", "60s"}, noRetry...)
	p := startFault(t, l.client, nil, append(args, "route:default4")...)
	p.waitStderr(t, `msg=probe target=route:default4 ok=false`)
	ip := exec.Command("ip", "-n", l.client.Name, "-batch", "-")
	ip.Stdin = strings.NewReader(batch)
	if out, err := ip.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0 (the default route came at the end of the storm)\n%s", code, p)
	}
	if d := p.doc(t); !d.Ready {
		t.Errorf("JSON does not say ready\n%s", p)
	}
	t.Log(waitOverLine(p))
	if ov := waitOverInt(t, p, "overruns"); ov == 0 {
		t.Errorf("got no netlink overrun (ENOBUFS) from %d changes: the test proves less than it says", 2*n+1)
	}
}

// TestFaultNetlinkRefused: netready in a sandbox that refuses netlink
// sockets (seccomp, as RestrictAddressFamilies= without AF_NETLINK): it says
// so once and waits on the backoff schedule; link and route probes, which
// need netlink, fail naming the cause.
func TestFaultNetlinkRefused(t *testing.T) {
	t.Parallel()
	deny := []string{denyNetlinkEnv + "=1"}
	t.Run("wait polls on the schedule", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		p := startFault(t, l.client, deny, "wait", "--json", "-v", "--timeout", "30s",
			"--backoff-initial", "200ms", "--backoff-max", "200ms", "tcp://10.213.1.1:8080")
		p.waitStderr(t, "msg=probe target=tcp://10.213.1.1:8080 ok=false")
		l.server.Listen(t, serverIP4+":8080")
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit code: got %d, want 0 (ready on the backoff schedule)\n%s", code, p)
		}
		if got := strings.Count(p.stderr.String(), "netlink subscription refused"); got != 1 {
			t.Errorf("got %d warnings that netlink is refused, want 1\n%s", got, p)
		}
		if !strings.Contains(p.stderr.String(), "address family not supported by protocol") {
			t.Errorf("the warning does not say why netlink is refused\n%s", p)
		}
		if nl := waitOverField(t, p, "netlink"); nl != "false" {
			t.Errorf("wait over: got netlink=%s, want false", nl)
		}
	})
	t.Run("check names the cause", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		l.server.Listen(t, serverIP4+":8080")
		refused := fail("netlink socket refused: address family not supported by protocol")
		checkTargets(t, l.client, opts{env: deny, flags: fast},
			[]string{"link:veth0", "link:any", "route:default4", "route:10.213.1.1", "tcp://10.213.1.1:8080"},
			[]want{refused, refused, refused, refused, pass()})
		o := netready(t, l.client, opts{env: deny}, "check", "route:10.213.1.1")
		if want := "hint: link and route targets need a netlink route socket"; !strings.Contains(o.stdout, want) {
			t.Errorf("report does not contain %q\n%s", want, o)
		}
	})
}

// TestFaultSignals: SIGTERM and SIGINT while a round is in flight and while
// wait sleeps between rounds. netready must exit at once with 128+signal
// and leave no process behind in the namespace. The bound asserted is
// generous; the delays measured are logged.
func TestFaultSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sig   syscall.Signal
		round bool // in flight, else sleeping
		want  int
	}{
		{"SIGTERM during a round", syscall.SIGTERM, true, 143},
		{"SIGINT during a round", syscall.SIGINT, true, 130},
		{"SIGTERM during the backoff sleep", syscall.SIGTERM, false, 143},
		{"SIGINT during the backoff sleep", syscall.SIGINT, false, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			silent := l.dnsServer(t, "10.213.1.13", dnstest.Silent)
			var p *faultProc
			if tt.round {
				// The silent resolver holds the round for 20s.
				p = startFault(t, l.client, nil, "wait", "--timeout", "0", "--probe-timeout", "20s", "dns://10.213.1.13/ready.test")
				deadline := time.Now().Add(20 * time.Second)
				for q, _ := silent.Queries(); q == 0; q, _ = silent.Queries() {
					if time.Now().After(deadline) {
						t.Fatalf("no query reached the resolver after 20s\n%s", p)
					}
					time.Sleep(5 * time.Millisecond)
				}
			} else {
				// The connection is refused at once; the next round is
				// an hour away.
				p = startFault(t, l.client, nil, append(append([]string{"wait", "--timeout", "0"}, noRetry...), "tcp://10.213.1.1:9")...)
				p.waitStderr(t, `msg="not ready"`)
			}
			sent := time.Now()
			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t)
			delay := p.exited.Sub(sent)
			t.Logf("%s: exit %d, %s after the signal", tt.name, code, delay)
			if code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, p)
			}
			if delay > 2*time.Second {
				t.Errorf("exited %s after the signal, want at once (200ms is the goal)", delay)
			}
			out, err := exec.Command("ip", "netns", "pids", l.client.Name).Output()
			if err != nil {
				t.Fatalf("ip netns pids: %v", err)
			}
			if pids := strings.Fields(string(out)); len(pids) > 0 {
				t.Errorf("processes left in the client namespace: %v", pids)
			}
		})
	}
}

// TestFaultStdoutClosed: the reader of netready's stdout is gone before
// the result is written (netready check --json | head -c 0). netready must
// neither panic nor hang: like any Unix filter, it dies of SIGPIPE, which a
// shell reports as 141 and "set -o pipefail" as a failure.
func TestFaultStdoutClosed(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"check --json", []string{"check", "--json", "route:default4"}},
		{"check, failing, text report", []string{"check", "route:10.213.1.1", "tcp://10.213.1.1:9"}},
		{"wait --json, ready", []string{"wait", "--json", "route:default4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" into a pipe nobody reads", func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := l.client.Command(ctx, bin, tt.args...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = w, &stderr
			err = cmd.Run()
			w.Close()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30s (hangs on a closed stdout)\n%s", &stderr)
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			t.Logf("%v: %v", tt.args, cmd.ProcessState)
			if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
				t.Errorf("got %v (%v), want death by SIGPIPE\n%s", cmd.ProcessState, err, &stderr)
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", &stderr)
			}
		})
	}
	// With stdout not open at all, the Go runtime opens /dev/null in its
	// place before main runs: the result is discarded, never written into
	// a socket that happens to get descriptor 1, and the exit status is
	// still the outcome.
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"passing", []string{"check", "--json", "route:default4"}, 0},
		{"failing", []string{"check", "--json", "tcp://10.213.1.1:9"}, 1},
	} {
		t.Run("check --json with stdout closed, "+tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := l.client.Command(ctx, "sh", "-c", `exec "$@" >&-`, "sh", bin)
			cmd.Args = append(cmd.Args, tt.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30s\n%s", &stderr)
			}
			if code := cmd.ProcessState.ExitCode(); code != tt.code {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.code, &stderr)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: got %q, want nothing", &stderr)
			}
		})
	}
}

// TestFaultExecNotExecutable: the command after "--" exists but cannot be
// executed. A file without execute permission, or a directory, is found
// before waiting (126 at once, though the target never passes); a file
// the kernel cannot execute is found only by exec, once ready (126 too, as
// a shell says for "cannot execute binary file").
func TestFaultExecNotExecutable(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	dir := t.TempDir()
	noX := filepath.Join(dir, "deploy.sh")
	if err := os.WriteFile(noX, []byte("#!/bin/sh\necho deployed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("\x7fELF\x02\x01\x01 not really an executable\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	never := []string{"wait", "--timeout", "60s", "tcp://10.213.1.1:9", "--"}
	tests := []struct {
		name string
		args []string
		code int
		errs []string
	}{
		{"file without execute permission", append(never, noX, "arg"), 126, []string{noX, "permission denied"}},
		{"directory", append(never, dir), 126, []string{dir, "is a directory"}},
		{"relative path that does not exist", append(never, "./no-such-script"), 127, []string{"./no-such-script"}},
		{"a file the kernel cannot execute", []string{"wait", "route:default4", "--", junk}, 126, []string{"exec " + junk, "exec format error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := netready(t, l.client, opts{}, tt.args...)
			took := time.Since(start)
			if o.code != tt.code {
				t.Errorf("exit code: got %d, want %d\n%s", o.code, tt.code, o)
			}
			for _, s := range tt.errs {
				if !strings.Contains(o.stderr, s) {
					t.Errorf("stderr does not contain %q\n%s", s, o)
				}
			}
			if strings.Contains(o.stdout, "deployed") {
				t.Errorf("the command ran\n%s", o)
			}
			// The target never passes and --timeout is 60s: an error
			// after waiting would come far later.
			if took > 15*time.Second {
				t.Errorf("took %s: the command was not checked before waiting", took)
			}
		})
	}
}

// TestFaultWatchStorm: watch, ready, during a storm of route changes. The
// rounds the changes start are eventGap apart at least, as in wait: the
// storm must not make watch probe back to back (it once did, since only
// wait's loop bounded the rate).
func TestFaultWatchStorm(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	const n = 5_000
	batch := stormBatch(n)
	p := startFault(t, l.client, nil, append([]string{"watch", "--json", "-v", "--recheck", "1h"}, append(noRetry, "route:default4")...)...)
	p.waitStderr(t, "msg=probe target=route:default4 ok=true")
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
	// One round at the first change, then at most one per gap while the
	// storm lasted, the one pending at its end, and one for messages the
	// kernel delivered after ip exited; a slower machine only means fewer.
	limit := int(storm/eventGap) + 4
	t.Logf("%d changes in %s: %d rounds (at most %d)", 2*n, storm.Round(time.Millisecond), rounds, limit)
	if rounds < 1 || rounds > limit {
		t.Errorf("got %d rounds during a %s storm, want 1 to %d", rounds, storm.Round(time.Millisecond), limit)
	}
}

// TestFaultWatchAbandonsStuckRound: watch is ready when resolv.conf is
// replaced by one naming a resolver that never answers, and replaced back
// while a round is stuck on it. That round is abandoned: watch stays
// ready, instead of reporting, when the stuck probe times out, an outage
// that was over by then.
func TestFaultWatchAbandonsStuckRound(t *testing.T) {
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
	p := startFault(t, l.client, nil, append([]string{"watch", "-v", "--recheck", "1h", "--probe-timeout", probeTimeout.String(), "--resolv-conf", conf}, append(noRetry, "dns:ready.test")...)...)
	p.waitStderr(t, "msg=probe target=dns:ready.test ok=true")
	replace("10.213.1.13")
	waitFor(t, "a query to the silent resolver", func() bool { udp, _ := silent.Queries(); return udp > 0 })
	before, _ := good.Queries()
	replace(serverIP4)
	waitFor(t, "a query to the good resolver after the change", func() bool { udp, _ := good.Queries(); return udp > before })
	// Time for the stuck probe to have timed out, had it been waited for.
	time.Sleep(probeTimeout + time.Second)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if out := p.stdout.String(); strings.Contains(out, "not ready") || strings.Count(out, " ready") != 1 {
		t.Errorf("got transitions %q, want one: ready\n%s", out, p)
	}
}

// waitFor polls cond until it holds, 20 s at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

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
