package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
)

// noRetry makes sure that only a change event can cause a second round:
// both the backoff schedule and the local re-check are an hour away.
var noRetry = []string{"--backoff-initial", "1h", "--backoff-max", "1h", "--local-interval", "1h"}

func waitArgs(extra ...string) []string {
	return append(append([]string{"wait", "--timeout", "30s"}, noRetry...), extra...)
}

func TestIntegrationWaitEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before func(t *testing.T, l *lab)
		args   []string
		change func(t *testing.T, l *lab)
	}{
		{
			name: "default route added late",
			before: func(t *testing.T, l *lab) {
				l.client.IP(t, "route", "del", "default")
				l.client.IP(t, "-6", "route", "del", "default")
			},
			args:   []string{"route:default4"},
			change: func(t *testing.T, l *lab) { l.client.IP(t, "route", "add", "default", "via", serverIP4) },
		},
		{
			name:   "link brought up late",
			before: func(t *testing.T, l *lab) { l.client.IP(t, "link", "set", "veth0", "down") },
			args:   []string{"link:veth0", "tcp://10.213.1.1:8080"},
			change: func(t *testing.T, l *lab) {
				l.client.IP(t, "link", "set", "veth0", "up")
			},
		},
		{
			name: "IPv6 address added late",
			before: func(t *testing.T, l *lab) {
				l.client.IP(t, "-6", "route", "del", "default")
				l.client.IP(t, "-6", "addr", "flush", "dev", "veth0", "scope", "global")
			},
			args: []string{"tcp://[fd00:213::1]:8080"},
			change: func(t *testing.T, l *lab) {
				l.client.IP(t, "addr", "add", clientIP6+"/64", "dev", "veth0", "nodad")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.server.Listen(t, serverIP4+":8080")
			l.server.Listen(t, "["+serverIP6+"]:8080")
			tt.before(t, l)
			p := startFault(t, l.client, nil, waitArgs(append([]string{"--json", "-v"}, tt.args...)...)...)
			p.waitStderr(t, " ok=false") // the first round has failed
			tt.change(t, l)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit code: got %d, want 0\n%s", code, p)
			}
			if doc := p.doc(t); !doc.Ready || doc.Rounds < 2 {
				t.Errorf("got ready=%v after %d rounds, want ready after at least 2 (one failing, one after the change)\n%s", doc.Ready, doc.Rounds, p)
			}
		})
	}
}

// TestIntegrationWaitNoNetlink: with --no-netlink the same late route is
// not noticed before the schedule says so.
func TestIntegrationWaitNoNetlink(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.client.IP(t, "route", "del", "default")
	p := startFault(t, l.client, nil, append([]string{"wait", "-v", "--timeout", "3s", "--no-netlink"}, append(noRetry, "route:default4")...)...)
	p.waitStderr(t, "msg=probe target=route:default4 ok=false")
	l.client.IP(t, "route", "add", "default", "via", serverIP4)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1 (no event without netlink)\n%s", code, p)
	}
}

// TestIntegrationWaitResolvConfRename: the resolver that answers is named
// only in a resolv.conf that replaces the first one by rename.
func TestIntegrationWaitResolvConfRename(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 10.213.1.13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.server.Listen(t, serverIP4+":8080")
	p := startFault(t, l.client, nil, waitArgs("-v", "--json", "--no-netlink", "--probe-timeout", "500ms", "--resolv-conf", conf, "dns:ready.test", "tcp://svc.test:8080")...)
	p.waitStderr(t, "msg=probe target=dns:ready.test ok=false")
	tmp := filepath.Join(dir, "resolv.conf.new")
	if err := os.WriteFile(tmp, []byte("nameserver 10.213.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if doc := p.doc(t); doc.Rounds < 2 {
		t.Errorf("got ready after %d rounds, want at least 2 (one failing, one after the rename)\n%s", doc.Rounds, p)
	}
}

func TestIntegrationWaitTimeout(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	p := startFault(t, l.client, nil, "wait", "--timeout", "2s", "route:"+serverIP4, "tcp://10.213.1.1:9")
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", code, p)
	}
	if took := p.exited.Sub(p.start); took < 2*time.Second {
		t.Errorf("gave up after %s, before --timeout 2s", took)
	}
	for _, s := range []string{"not ready after 2s", "tcp://10.213.1.1:9", "FAIL", "connect 10.213.1.1:9: connection refused", "route:10.213.1.1", "not ready: 1/2 targets pass"} {
		if !strings.Contains(p.stderr.String(), s) {
			t.Errorf("stderr does not contain %q\n%s", s, p)
		}
	}
	if out := p.stdout.String(); out != "" {
		t.Errorf("stdout: got %q, want nothing (results go there only with --json)", out)
	}
}

func TestIntegrationWaitSignals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sig   syscall.Signal
		args  []string
		after string // on stderr before the signal is sent
		want  int
	}{
		{"SIGTERM during the backoff sleep", syscall.SIGTERM, []string{"tcp://10.213.1.1:9"}, `msg="not ready"`, 143},
		{"SIGINT during a round", syscall.SIGINT, []string{"--probe-timeout", "20s", "dns://10.213.1.13/ready.test"}, "msg=started", 130},
		// A signal cuts the round short: what its attempts return then is
		// no verdict, though --any would accept the target that passed.
		// Neither "ready" nor the command.
		{"SIGTERM during a round --any would accept", syscall.SIGTERM, []string{"--any", "--json", "--probe-timeout", "20s", "route:default", "dns://10.213.1.13/ready.test", "--", "sh", "-c", "echo the command ran"}, "msg=started", 143},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			l.dnsServer(t, "10.213.1.13", dnstest.Silent)
			p := startFault(t, l.client, nil, append([]string{"wait", "-v", "--timeout", "0"}, tt.args...)...)
			p.waitStderr(t, tt.after)
			p.cmd.Process.Signal(tt.sig)
			if code := p.wait(t); code != tt.want {
				t.Errorf("exit code: got %d, want %d\n%s", code, tt.want, p)
			}
			if out := p.stdout.String(); out != "" {
				t.Errorf("stdout: got %q, want nothing\n%s", out, p)
			}
		})
	}
}

func TestIntegrationWaitExec(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	o := netready(t, l.client, opts{}, "wait", "route:default", "--", "sh", "-c", "echo from the command; exit 7")
	if o.code != 7 || o.stdout != "from the command\n" {
		t.Errorf("got exit %d stdout %q, want 7 and the command's output\n%s", o.code, o.stdout, o)
	}
	o = netready(t, l.client, opts{}, "wait", "route:default", "--", "no-such-command-here")
	if o.code != 127 || !strings.Contains(o.stderr, "no-such-command-here") {
		t.Errorf("got exit %d stderr %q, want 127 naming the command", o.code, o.stderr)
	}
}

// TestIntegrationWaitLocalResolverLate: the name of a tcp target is to be
// resolved by a resolver on loopback that starts late, as
// systemd-resolved at boot; it announces itself by no event. The target is
// re-checked every --local-interval (250ms) meanwhile, not on the backoff
// schedule (an hour here), whatever address the name will have.
func TestIntegrationWaitLocalResolverLate(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startFault(t, l.client, nil, "wait", "-v", "--json", "--timeout", "20s", "--backoff-initial", "1h", "--backoff-max", "1h", "--resolv-conf", conf, "tcp://lo.test:8080")
	p.waitStderr(t, "msg=probe target=tcp://lo.test:8080 ok=false")
	dnstest.Serve(t, l.client.ListenPacket(t, "127.0.0.1:53"), l.client.Listen(t, "127.0.0.1:53"), "lo.test. 60 IN A "+serverIP4)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if doc := p.doc(t); doc.Rounds < 2 {
		t.Errorf("got ready after %d rounds, want at least 2 (one failing, one after the resolver started)\n%s", doc.Rounds, p)
	}
}

// TestIntegrationWaitResolvConfBindMounted: /etc/resolv.conf is a bind
// mount, as ip netns exec (and nspawn, Docker, Podman) provide it, and is
// rewritten in place through its other name. The events of that write go
// to the directory the file really is in, not /etc: only the watch on the
// file itself sees them.
func TestIntegrationWaitResolvConfBindMounted(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.1.13\n")
	// --no-netlink: the lab's own address changes (IPv6 DAD finishing)
	// must not be what starts the next round.
	p := startFault(t, l.client, nil, waitArgs("-v", "--json", "--no-netlink", "--probe-timeout", "500ms", "dns:ready.test")...)
	p.waitStderr(t, "msg=probe target=dns:ready.test ok=false")
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n") // in place: same inode
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if doc := p.doc(t); doc.Rounds < 2 {
		t.Errorf("got ready after %d rounds, want at least 2 (one failing, one after the write)\n%s", doc.Rounds, p)
	}
}
