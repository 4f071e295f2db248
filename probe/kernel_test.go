package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netready/netready/internal/netnstest"
	"github.com/netready/netready/internal/roottest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The fake kernel answers "ip route get" as Linux does: the same links,
// addresses, routes and rules, built in a namespace with ip(8) and in the
// fake from the same words, give the same answers (errno, output link,
// gateway, preferred source, route type) for every destination asked.
func TestIntegrationFakeKernel(t *testing.T) {
	ns, peer := netnstest.New(t), netnstest.New(t)
	real := netlinkKernel{ns.Handle(t)}
	k := newFake()
	// nrk0 and nrk1 up, nrk2 down, nrk3 up without carrier (its peer is
	// down), so that its IPv6 address stays tentative.
	for i, name := range []string{"nrk0", "nrk1", "nrk2", "nrk3"} {
		netnstest.Veth(t, ns, name, peer, name+"p")
		switch name {
		case "nrk2":
			k.link(i+2, name, 0)
		case "nrk3":
			ns.IP(t, "link", "set", name, "up")
			k.link(i+2, name, noCarrier)
		default:
			peer.IP(t, "link", "set", name+"p", "up")
			ns.IP(t, "link", "set", name, "up")
			k.link(i+2, name, up)
		}
	}
	for _, a := range [][2]string{
		{"nrk0", "10.213.1.2/24"}, {"nrk1", "10.213.2.2/24"}, {"nrk2", "10.213.3.2/24"},
		{"nrk0", "fd00:213:1::2/64"}, {"nrk1", "fd00:213:2::2/64"},
	} {
		ns.IP(t, "addr", "add", a[1], "dev", a[0], "nodad")
		k.addr(a[0], a[1], 0)
	}
	ns.IP(t, "addr", "add", "fd00:213:3::2/64", "dev", "nrk3")
	k.addr("nrk3", "fd00:213:3::2/64", tentative)
	addrs, err := real.Addrs(nil, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IP.String() == "fd00:213:3::2" && a.Flags&unix.IFA_F_TENTATIVE == 0 {
			t.Fatalf("premise: fd00:213:3::2 on a link without carrier is not tentative (flags %#x)", a.Flags)
		}
	}
	for _, r := range []string{
		"default via 10.213.1.1 dev nrk0",
		"::/0 via fd00:213:1::1 dev nrk0",
		"10.213.64.0/18 via 10.213.2.1 dev nrk1",
		"10.213.96.0/19 via 10.213.2.7 dev nrk1 metric 10",
		"10.213.96.0/19 via 10.213.2.8 dev nrk1 metric 5",
		"blackhole 10.213.9.0/24",
		"prohibit 10.213.8.0/24",
		"unreachable 10.213.7.0/24",
		"blackhole fd00:213:9::/48",
		"prohibit fd00:213:8::/48",
		"unreachable fd00:213:7::/48",
		"10.213.5.0/24 via 10.213.2.9 dev nrk1 table 7",
		"fd00:213:5::/48 via fd00:213:2::9 dev nrk1 table 7",
		"throw 10.213.4.0/24 table 7",
		"10.213.4.0/24 via 10.213.2.4 dev nrk1",
		"default via 10.213.2.6 dev nrk1 table 8",
	} {
		ns.IP(t, append([]string{"route", "add"}, strings.Fields(r)...)...)
		k.route(r)
	}
	for _, r := range []string{
		"pref 100 from 10.213.2.2 lookup 7",
		"pref 101 to 10.213.4.0/24 lookup 7",
		"-6 pref 100 from fd00:213:2::2 lookup 7",
		"pref 90 to 10.213.6.6 prohibit",
		"pref 91 to 10.213.6.7 blackhole",
		"pref 92 to 10.213.6.8 unreachable",
		"pref 80 uidrange 1000-1000 unreachable",
		"pref 85 uidrange 2000-2000 lookup 8",
		"pref 70 oif nrk1 lookup 8",
	} {
		args := strings.Fields(r)
		if args[0] == "-6" {
			ns.IP(t, append([]string{"-6", "rule", "add"}, args[1:]...)...)
		} else {
			ns.IP(t, append([]string{"rule", "add"}, args...)...)
		}
		k.rule(r)
	}

	uid1000, uid2000, uid0 := uint32(1000), uint32(2000), uint32(0)
	src := func(s string) *netlink.RouteGetOptions {
		return &netlink.RouteGetOptions{SrcAddr: net.IP(netip.MustParseAddr(s).AsSlice())}
	}
	cases := []struct {
		dst  string
		opts *netlink.RouteGetOptions
	}{
		{"10.213.1.7", nil}, {"10.213.2.7", nil}, {"10.213.65.1", nil}, {"10.213.200.1", nil},
		{"10.213.96.1", nil}, {"10.213.3.7", nil},
		{"10.213.9.1", nil}, {"10.213.8.1", nil}, {"10.213.7.1", nil},
		{"fd00:213:9::1", nil}, {"fd00:213:8::1", nil}, {"fd00:213:7::1", nil},
		{"10.213.6.6", nil}, {"10.213.6.7", nil}, {"10.213.6.8", nil},
		{"10.213.5.5", nil}, {"10.213.5.5", src("10.213.2.2")}, {"10.213.5.5", src("10.213.1.2")},
		{"fd00:213:5::5", nil}, {"fd00:213:5::5", src("fd00:213:2::2")},
		{"10.213.4.4", nil},
		{"10.213.1.2", nil}, {"127.0.0.9", nil}, {"::1", nil}, {"fd00:213:2::2", nil},
		{"fd00:213:1::7", nil}, {"fd00:213:2::7", nil}, {"fd00:213:77::7", nil},
		{"fd00:213:3::7", nil}, {"fd00:213:3::7", &netlink.RouteGetOptions{Oif: "nrk3"}}, {"10.213.3.7", &netlink.RouteGetOptions{Oif: "nrk3"}},
		{"10.213.1.7", &netlink.RouteGetOptions{UID: &uid1000}},
		{"10.213.1.7", &netlink.RouteGetOptions{UID: &uid2000}},
		{"10.213.1.7", &netlink.RouteGetOptions{UID: &uid0}},
		{"10.213.200.1", &netlink.RouteGetOptions{Oif: "nrk1"}},
		{"10.213.200.1", &netlink.RouteGetOptions{Oif: "nrk0"}},
		{"fd00:213:77::7", &netlink.RouteGetOptions{Oif: "nrk1"}},
	}
	answer := func(kk kernel, dst string, opts *netlink.RouteGetOptions) string {
		rs, err := kk.RouteGet(netip.MustParseAddr(dst), opts)
		if err != nil {
			var errno unix.Errno
			if !errors.As(err, &errno) {
				return "error without an errno: " + err.Error()
			}
			return "errno " + unix.ErrnoName(errno)
		}
		if len(rs) == 0 {
			return "no route"
		}
		r := rs[0]
		dev := "?"
		if l, err := kk.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		return fmt.Sprintf("type %d table %d dev %s via %v src %v", r.Type, r.Table, dev, r.Gw, r.Src)
	}
	for _, c := range cases {
		want, got := answer(real, c.dst, c.opts), answer(k, c.dst, c.opts)
		if got != want {
			t.Errorf("route get %s %+v: fake says %q, the kernel %q", c.dst, c.opts, got, want)
		}
	}

	// Towards a global destination, a link-local source when no global
	// address may be sent from: in a namespace whose only global IPv6
	// address is tentative for an hour (its solicitation is
	// retransmitted after that long), the kernel sends from fe80::.
	solo, soloPeer := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, solo, "nrk4", soloPeer, "nrk4p")
	solo.IP(t, "link", "set", "nrk4", "addrgenmode", "none")
	solo.Sysctl(t, "net.ipv6.neigh.nrk4.retrans_time_ms", "3600000")
	soloPeer.IP(t, "link", "set", "nrk4p", "up")
	solo.IP(t, "link", "set", "nrk4", "up")
	solo.IP(t, "addr", "add", "fe80::4/64", "dev", "nrk4", "nodad")
	solo.IP(t, "addr", "add", "fd00:213:4::2/64", "dev", "nrk4")
	solo.IP(t, "route", "add", "fd00:213:44::/48", "via", "fe80::1", "dev", "nrk4")
	soloReal := netlinkKernel{solo.Handle(t)}
	soloFake := newFake().link(2, "nrk4", up).addr("nrk4", "fe80::4/64", 0).addr("nrk4", "fd00:213:4::2/64", tentative).
		route("fd00:213:44::/48 via fe80::1 dev nrk4")
	for _, dst := range []string{"fd00:213:4::7", "fd00:213:44::7"} {
		want, got := answer(soloReal, dst, nil), answer(soloFake, dst, nil)
		if !strings.HasSuffix(want, " src fe80::4") {
			t.Fatalf("premise: route get %s: the kernel says %q, not from fe80::4", dst, want)
		}
		if got != want {
			t.Errorf("route get %s with a tentative global address: fake says %q, the kernel %q", dst, got, want)
		}
	}
	soloAddrs, err := soloReal.Addrs(nil, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range soloAddrs {
		if a.IP.String() == "fd00:213:4::2" && a.Flags&unix.IFA_F_TENTATIVE == 0 {
			t.Fatalf("premise: fd00:213:4::2 is not tentative (flags %#x)", a.Flags)
		}
	}

	// Rules are listed with their priority, table and selectors.
	rules, err := real.Rules(netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var found, prohibit bool
	for _, r := range rules {
		if r.Priority == 100 && r.Table == 7 && r.Src != nil && r.Src.String() == "10.213.2.2/32" {
			found = true
		}
		if r.Priority == 90 {
			// The action is not read (see kernel.Rules).
			prohibit = r.Table == 0 && r.Type == 0 && r.Dst != nil && r.Dst.String() == "10.213.6.6/32"
		}
	}
	if !found || !prohibit {
		t.Errorf("Rules: pref 100 from 10.213.2.2 lookup 7: %v; pref 90 to 10.213.6.6 prohibit, with table 0 and type 0: %v; in %+v", found, prohibit, rules)
	}
	// The routes of every table, those the kernel adds for an address
	// among them.
	routes, err := real.Routes(netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var tables, connected bool
	for _, r := range routes {
		tables = tables || r.Table == 8
		connected = connected || r.Dst != nil && r.Dst.String() == "10.213.2.0/24" && r.Protocol == unix.RTPROT_KERNEL
	}
	if !tables || !connected {
		t.Errorf("Routes: table 8 %v, connected 10.213.2.0/24 %v", tables, connected)
	}
	if _, err := real.LinkByName("nrk9"); !errors.Is(err, errNoLink) {
		t.Errorf("LinkByName(nrk9): %v, want errNoLink", err)
	}
}

func TestMain(m *testing.M) { os.Exit(roottest.Wrap(m).Run()) }
