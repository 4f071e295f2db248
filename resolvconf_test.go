package main

// resolv.conf: its changes are seen however the file is replaced, and re-probe at once.

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationResolvConfRename: the resolver that answers is named
// only in a resolv.conf that replaces the first one by rename.
//
// The probe timeout (2s) leaves a loaded machine time for the one query
// of the round after the change: with no retry, a slower query would leave
// netready waiting. So in TestIntegrationResolvConfBindMounted.
func TestIntegrationResolvConfRename(t *testing.T) {
	roottest.Require(t)
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
	p := startNetready(t, l.client, nil, waitArgs("-v", "--json", "--no-netlink", "--probe-timeout", "2s", "--resolv-conf", conf, "dns:ready.test", "tcp://svc.test:8080")...)
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "false")
	tmp := filepath.Join(dir, "resolv.conf.new")
	if err := os.WriteFile(tmp, []byte("nameserver 10.213.1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, conf); err != nil {
		t.Fatal(err)
	}
	p.readyAfterChange(t, "the rename")
}

// TestIntegrationResolvConfBindMounted: /etc/resolv.conf is a bind
// mount, as ip netns exec (and nspawn, Docker, Podman) provide it, and is
// rewritten in place through its other name. The events of that write go
// to the directory the file really is in, not /etc: only the watch on the
// file itself sees them.
func TestIntegrationResolvConfBindMounted(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.1.13\n")
	// --no-netlink: the lab's own address changes (IPv6 DAD finishing)
	// must not be what starts the next round.
	p := startNetready(t, l.client, nil, waitArgs("-v", "--json", "--no-netlink", "--probe-timeout", "2s", "dns:ready.test")...)
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "false")
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n") // in place: same inode
	p.readyAfterChange(t, "the write")
}

// TestIntegrationResolvConfSymlinkLate: resolv.conf is a symbolic link whose
// target, in a directory that does not exist yet, appears while "netready
// wait" runs. No timer can start a second round (noRetry) and netlink is
// off, so only the file event can explain readiness.
func TestIntegrationResolvConfSymlinkLate(t *testing.T) {
	roottest.Require(t)
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
	p := startNetready(t, l.client, nil, append(args, "dns:ready.test")...)
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "false")

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
	p.readyAfterChange(t, "the file appeared")
	if ev := waitOverInt(t, p, "events"); ev < 1 {
		t.Errorf("got %d change events, want at least 1", ev)
	}
}

// TestIntegrationResolvConfWatchedWhenNeeded: resolv.conf is watched only
// for targets that read it, and by wait only once one of them failed or
// 50ms have passed (cli's resolvConfDelay). A wait that is over at the
// first look never makes an inotify instance, whose release costs the
// process an SRCU grace period in the kernel (5 ms typically, up to 20) on
// its way out.
func TestIntegrationResolvConfWatchedWhenNeeded(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dns := l.dnsServer(t, serverIP4, dnstest.Answer)
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n")

	// A name that resolves at once: ready in the first round, unwatched.
	// That needs the wait to be over well within the delay: a run that
	// was not (a loaded machine) proves nothing, and another is made.
	const delay = 50 * time.Millisecond
	for try := 1; ; try++ {
		p := startNetready(t, l.client, nil, waitArgs("-v", "--json", "dns:ready.test")...)
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit code: got %d, want 0\n%s", code, p)
		}
		if ms := p.doc(t).ElapsedMS; ms > float64(delay.Milliseconds())/2 {
			if try == 5 {
				t.Fatalf("premise does not hold: 5 waits that should be over at once took %.1fms and more (the last), not under %v\n%s", ms, delay/2, p)
			}
			continue
		}
		if w := waitOverField(t, p, "resolv_conf_watched"); w != "false" {
			t.Errorf("ready at the first look: got resolv_conf_watched=%s, want false\n%s", w, p)
		}
		break
	}

	// The same name refused first: watched from the failure on. Once the
	// resolver answers, resolv.conf is written again (the same line, in
	// place): the watch begun at the failure starts a round that passes,
	// whatever rounds other changes started before the answer did.
	dns.SetBehavior(dnstest.Refused)
	p := startNetready(t, l.client, nil, waitArgs("-v", "--json", "dns:ready.test")...)
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "false")
	dns.SetBehavior(dnstest.Answer)
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if w := waitOverField(t, p, "resolv_conf_watched"); w != "true" {
		t.Errorf("after a failure of dns:ready.test: got resolv_conf_watched=%s, want true\n%s", w, p)
	}

	// An address that refuses: nothing it does reads resolv.conf.
	p = startNetready(t, l.client, nil, waitArgs("-v", "--json", "tcp://"+serverIP4+":8081")...)
	p.waitLog(t, "probe", "target", "tcp://"+serverIP4+":8081", "ok", "false")
	l.server.Listen(t, serverIP4+":8081")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if w := waitOverField(t, p, "resolv_conf_watched"); w != "false" {
		t.Errorf("tcp to an address: got resolv_conf_watched=%s, want false\n%s", w, p)
	}
}

// TestIntegrationResolvConfFirstRoundStuck: the first round waits on a
// resolver that does not answer, and resolv.conf is rewritten to name one
// that does. Though no attempt has failed yet (the silent resolver's
// attempt runs until --probe-timeout, 20s), the watch begins 50ms after
// the start and sees the change: the round is abandoned and the next one
// passes. It did not, when the watch began only at a first failure.
func TestIntegrationResolvConfFirstRoundStuck(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.dnsServer(t, serverIP4, dnstest.Answer)
	l.dnsServer(t, "10.213.1.13", dnstest.Silent)
	l.client.WriteEtc(t, "resolv.conf", "nameserver 10.213.1.13\n")
	p := startNetready(t, l.client, nil, waitArgs("-v", "--json", "--no-netlink", "--probe-timeout", "20s", "dns:ready.test")...)
	p.waitLog(t, "started")
	// Before or after the watch begins: either way it sees the change.
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\n")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	// Abandoned, not ended: the silent resolver's attempt could only end
	// at --probe-timeout, and a watch begun by its failure would see the
	// change (and call the round abandoned) only then.
	if ms := p.doc(t).ElapsedMS; ms >= 20000 {
		t.Errorf("ready after %.0fms: the change was seen only when the stuck attempt timed out\n%s", ms, p)
	}
	if a := waitOverInt(t, p, "abandoned"); a < 1 {
		t.Errorf("got %d rounds abandoned, want the first one abandoned on the change\n%s", a, p)
	}
	if w := waitOverField(t, p, "resolv_conf_watched"); w != "true" {
		t.Errorf("got resolv_conf_watched=%s, want true\n%s", w, p)
	}
}
