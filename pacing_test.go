package main

// Pacing: how soon a failing target is probed again.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationLocalResolverLate: the name of a tcp target is to be
// resolved by a resolver on loopback that starts late, as
// systemd-resolved at boot; it announces itself by no event. The target is
// re-checked every --local-interval (250ms) meanwhile, not on the backoff
// schedule (an hour here), whatever address the name will have.
func TestIntegrationLocalResolverLate(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	l.server.Listen(t, serverIP4+":8080")
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startNetready(t, l.client, nil, "wait", "-v", "--json", "--timeout", "20s", "--backoff-initial", "1h", "--backoff-max", "1h", "--resolv-conf", conf, "tcp://lo.test:8080")
	p.waitStderr(t, "msg=probe target=tcp://lo.test:8080 ok=false")
	dnstest.Serve(t, l.client.ListenPacket(t, "127.0.0.1:53"), l.client.Listen(t, "127.0.0.1:53"), "lo.test. 60 IN A "+serverIP4)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0\n%s", code, p)
	}
	if doc := p.doc(t); doc.Rounds < 2 {
		t.Errorf("got ready after %d rounds, want at least 2 (one failing, one after the resolver started)\n%s", doc.Rounds, p)
	}
}
