package probegate

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netready/netready/probe"
)

// closedPort is a loopback address where nothing listens: a connect to it
// is refused at once.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func mustParse(t *testing.T, raw string) probe.Target {
	t.Helper()
	tg, err := probe.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// A round's results say what the gate decides by, and the probe.Result
// itself; a failure of a target that reads resolv.conf is reported.
func TestRound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	// A loopback resolver nothing listens on: refused at once.
	if err := os.WriteFile(rc, []byte("nameserver 127.213.0.254\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := 0
	p := &Prober{
		Targets: []probe.Target{
			mustParse(t, "tcp://"+ln.Addr().String()),
			mustParse(t, "tcp://"+closedPort(t)),
			mustParse(t, "dns:example.test"),
		},
		ResolvConf: rc, ProbeTimeout: 5 * time.Second, Peers: probe.NewPeers(),
		Failed: func() { failed++ },
	}
	rs := p.Round(t.Context(), []int{0, 1, 2}, make([]Result, 3))
	if r := rs[0]; !r.OK || !r.Value.OK || r.Value.Target.String() != p.Targets[0].String() || !r.Local {
		t.Errorf("listening port: %+v", r)
	}
	if r := rs[1]; r.OK || !r.Refused || r.Value.Cause != probe.CausePortClosed || r.Announced {
		t.Errorf("closed port: OK %v refused %v announced %v cause %s, want a refusal", r.OK, r.Refused, r.Announced, r.Value.Cause)
	}
	if r := rs[2]; r.OK || r.Value.Target.String() != p.Targets[2].String() {
		t.Errorf("dns: %+v", r)
	}
	if failed != 1 {
		t.Errorf("Failed called %d times, want once (the dns target)", failed)
	}
	for i, r := range rs {
		if r.Probed {
			t.Errorf("result %d: Probed set by the prober; the gate sets it", i)
		}
	}

	// Only the due targets, in due's order.
	rs = p.Round(t.Context(), []int{1}, make([]Result, 1))
	if len(rs) != 1 || rs[0].Value.Target.String() != p.Targets[1].String() {
		t.Errorf("due [1]: %+v", rs)
	}
}

// An attempt that --timeout cut short keeps the cause the attempt before
// found, saying both; any other attempt is left as it is.
func TestTranslate(t *testing.T) {
	before := &probe.Failure{Cause: probe.CauseLinkDown, Phase: probe.PhaseLink, Hop: "eth0", Err: errors.New("link eth0 is down")}
	prev := Result{Probed: true, Value: probe.Result{Err: before, Cause: probe.CauseLinkDown, Hint: "check the cable"}}
	cutShort := probe.Result{Err: &probe.Failure{Cause: probe.CauseTimeout, Phase: probe.PhaseConnect, Err: context.DeadlineExceeded}, Cause: probe.CauseTimeout}

	g := translate(cutShort, prev, true)
	if g.OK || g.Value.Cause != probe.CauseLinkDown || g.Value.Hint != "check the cable" {
		t.Errorf("cut short: cause %s hint %q, want link-down and its hint", g.Value.Cause, g.Value.Hint)
	}
	const msg = "context deadline exceeded (cut short by --timeout; the attempt before: link eth0 is down)"
	if g.Value.Err.Error() != msg {
		t.Errorf("cut short: %q, want %q", g.Value.Err, msg)
	}
	if f := probe.FailureOf(g.Value.Err); f.Cause != probe.CauseLinkDown || f.Hop != "eth0" || !g.Announced {
		t.Errorf("cut short: failure %+v, announced %v: want the attempt before's, announced", f, g.Announced)
	}
	if g.Cause != "link-down" {
		t.Errorf("cut short: the gate's cause %q, want the attempt before's, link-down", g.Cause)
	}

	for _, c := range []struct {
		name string
		r    probe.Result
		prev Result
		cut  bool
	}{
		{"not cut", cutShort, prev, false},
		{"no attempt before", cutShort, Result{}, true},
		{"the same error before", cutShort, Result{Probed: true, Value: cutShort}, true},
		{"passing", probe.Result{OK: true}, prev, true},
	} {
		g := translate(c.r, c.prev, c.cut)
		if g.OK != c.r.OK || g.Value.Cause != c.r.Cause || (c.r.Err != nil && g.Value.Err.Error() != c.r.Err.Error()) {
			t.Errorf("%s: changed to %+v", c.name, g.Value)
		}
		if want := map[bool]string{true: "", false: "timeout"}[c.r.OK]; g.Cause != want {
			t.Errorf("%s: the gate's cause %q, want %q", c.name, g.Cause, want)
		}
		if g.Value.Err != nil && strings.Contains(g.Value.Err.Error(), "cut short") {
			t.Errorf("%s: %v", c.name, g.Value.Err)
		}
	}

	// Announced follows the cause; a result without a Failure is neither
	// announced nor refused.
	for _, c := range []struct {
		cause     probe.Cause
		announced bool
	}{{probe.CauseNoRoute, true}, {probe.CauseAddressTentative, true}, {probe.CauseFiltered, false}, {probe.CauseResolverTimeout, false}} {
		g := translate(probe.Result{Err: &probe.Failure{Cause: c.cause, Err: errors.New("x")}, Cause: c.cause}, Result{}, false)
		if g.Announced != c.announced || g.Refused {
			t.Errorf("%s: announced %v refused %v, want announced %v", c.cause, g.Announced, g.Refused, c.announced)
		}
	}
	if g := translate(probe.Result{Err: errors.New("plain")}, Result{}, false); g.Announced || g.Refused {
		t.Errorf("a plain error: %+v", g)
	}
}
