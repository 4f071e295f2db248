package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntegrationDnsmasq checks interoperability with a real third-party
// resolver: Debian's dnsmasq, serving a local zone in the server namespace
// on IPv4 and IPv6, with no upstream. "make test" installs dnsmasq-base when
// it is missing; this test fails rather than skips without it.
func TestIntegrationDnsmasq(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Fatalf("dnsmasq not found (run the tests with make test, which installs dnsmasq-base): %v", err)
	}
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	dir := t.TempDir()
	cmd := l.server.Command(t.Context(), bin,
		"--keep-in-foreground", "--conf-file=/dev/null", "--pid-file="+filepath.Join(dir, "pid"),
		"--user=root", "--group=root", "--log-facility=-",
		"--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address="+serverIP4, "--listen-address="+serverIP6, "--port=53",
		"--local=/test/",
		"--host-record=db.test,"+serverIP4+","+serverIP6,
		"--cname=alias.test,db.test",
		"--txt-record=info.test,netready",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, l, serverIP4+":53")

	l.client.WriteEtc(t, "resolv.conf", "nameserver "+serverIP4+"\nnameserver "+serverIP6+"\n")
	targets := []string{
		"dns:db.test", "dns:db.test?type=AAAA", "dns:alias.test", "dns:info.test?type=TXT",
		"dns://[" + serverIP6 + "]/db.test", "dns:missing.test", "dns:db.test?type=MX",
		"tcp://db.test:8080", "tcp://alias.test:8080",
	}
	wants := []want{
		pass(), pass(), pass(), pass(), pass(),
		fail("10.213.1.1:53: rcode NXDOMAIN", "[fd00:213::1]:53: rcode NXDOMAIN"),
		fail("no MX records"),
		pass(), pass(),
	}
	checkTargets(t, l.client, opts{flags: fast}, targets, wants)
}

// waitListening waits until something listens on UDP addr in the lab's
// server namespace (dnsmasq binds a moment after it starts).
func waitListening(t *testing.T, l *lab, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := l.server.Command(t.Context(), "ss", "-H", "-l", "-u", "-n").Output()
		if err == nil && strings.Contains(string(out), addr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on udp %s after 10s: %s", addr, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
