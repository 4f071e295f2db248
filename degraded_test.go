package main

// Degraded watching: netlink or inotify refused, netready carries on on its schedule.

import (
	"strings"
	"testing"

	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/roottest"
)

// TestIntegrationNetlinkRefused: netready in a sandbox that refuses netlink
// sockets (seccomp, as RestrictAddressFamilies= without AF_NETLINK): it says
// so once and waits on the backoff schedule; link and route probes, which
// need netlink, fail naming the cause.
func TestIntegrationNetlinkRefused(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	deny := []string{denyEnv + "=netlink"}
	t.Run("wait polls on the schedule", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		p := startNetready(t, l.client, deny, "wait", "--json", "-v", "--timeout", "30s",
			"--backoff-initial", "200ms", "--backoff-max", "200ms", "tcp://10.213.1.1:8080")
		p.waitLog(t, "probe", "target", "tcp://10.213.1.1:8080", "ok", "false")
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

// TestIntegrationInotifyRefused: inotify cannot be had (the limit of
// instances reached): netready says so once and goes on, re-reading
// resolv.conf on its schedule, as it does without netlink, rather than
// ending wait with an error.
func TestIntegrationInotifyRefused(t *testing.T) {
	roottest.Require(t)
	t.Parallel()
	l := newLab(t)
	dns := l.dnsServer(t, serverIP4, dnstest.Answer)
	dns.SetBehavior(dnstest.Refused)
	p := startNetready(t, l.client, []string{denyEnv + "=inotify"}, "wait", "--json", "-v", "--timeout", "30s",
		"--backoff-initial", "200ms", "--backoff-max", "200ms", "dns:ready.test")
	p.waitLog(t, "probe", "target", "dns:ready.test", "ok", "false")
	dns.SetBehavior(dnstest.Answer)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0 (ready on the backoff schedule)\n%s", code, p)
	}
	if got := strings.Count(p.stderr.String(), "cannot watch the resolver configuration"); got != 1 {
		t.Errorf("got %d warnings that resolv.conf cannot be watched, want 1\n%s", got, p)
	}
	if !strings.Contains(p.stderr.String(), "too many open files") {
		t.Errorf("the warning does not say why\n%s", p)
	}
	if nl := waitOverField(t, p, "netlink"); nl != "true" {
		t.Errorf("wait over: got netlink=%s, want true (only inotify is refused)", nl)
	}
	if w := waitOverField(t, p, "resolv_conf_watched"); w != "false" {
		t.Errorf("wait over: got resolv_conf_watched=%s, want false", w)
	}
}
