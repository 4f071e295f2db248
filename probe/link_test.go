package probe

import (
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeEnv is an Env that reads the kernel's state from k and nothing
// from the host's files.
func fakeEnv(k *fakeKernel) *Env {
	e := NewEnv("", "", nil)
	e.kern = k
	return e
}

// Every cause of link: from the kernel's state, without root.
func TestLinkCauses(t *testing.T) {
	for _, c := range []struct {
		name   string
		kernel *fakeKernel
		target string
		want   want
	}{
		{"up with a global address", newFake().link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0),
			"link:eth0", want{ok: true, detail: "eth0 up, 10.213.1.2/24"}},
		{"any: the first ready link", newFake().link(2, "eth0", 0).link(3, "eth1", up).addr("eth1", "fd00:213::2/64", 0),
			"link:any", want{ok: true, detail: "eth1 up, fd00:213::2/64"}},
		{"tun: operstate unknown with a carrier", newFake().link(2, "tun0", unknown).addr("tun0", "10.213.1.2/32", 0),
			"link:tun0", want{ok: true, detail: "tun0 up, 10.213.1.2/32"}},
		{"family=4 skips IPv6", newFake().link(2, "eth0", up).addr("eth0", "fd00:213::2/64", 0).addr("eth0", "10.213.1.2/24", 0),
			"link:eth0?family=4", want{ok: true, detail: "eth0 up, 10.213.1.2/24"}},

		{"no such link", newFake().link(2, "eth0", up),
			"link:eth9", want{err: []string{"no link named eth9"}, cause: CauseNoLink, hint: "`ip link` lists"}},
		{"any: loopback alone", newFake(),
			"link:any", want{err: []string{"no link other than loopback"}, cause: CauseNoLink}},
		{"administratively down", newFake().link(2, "eth0", 0).addr("eth0", "10.213.1.2/24", 0),
			"link:eth0", want{err: []string{"eth0 is down (administratively)"}, cause: CauseLinkDown, hint: "bring it up (ip link set eth0 up)"}},
		{"lo down", newFake().set("lo", loopback),
			"link:lo", want{err: []string{"lo is down (administratively)"}, cause: CauseLinkDown, hint: "ip link set lo up"}},
		{"no carrier", newFake().link(2, "eth0", noCarrier).addr("eth0", "10.213.1.2/24", 0),
			"link:eth0", want{err: []string{"eth0 is down (no carrier)"}, cause: CauseNoCarrier, hint: "check the cable"}},
		{"operstate unknown without a carrier", newFake().link(2, "tun0", unknown).withRawFlags("tun0", unix.IFF_UP),
			"link:tun0", want{err: []string{"tun0 has no carrier"}, cause: CauseNoCarrier}},
		{"operstate dormant", newFake().link(2, "wlan0", up).withOperState("wlan0", netlink.OperDormant),
			"link:wlan0", want{err: []string{"wlan0 is dormant"}, cause: CauseNoCarrier}},
		{"no address", newFake().link(2, "eth0", up),
			"link:eth0", want{err: []string{"eth0 is up, no global address"}, cause: CauseNoAddress, hint: "DHCP, SLAAC"}},
		{"a link-local address only", newFake().link(2, "eth0", up).addr("eth0", "fe80::1/64", 0).addr("eth0", "169.254.7.7/16", 0),
			"link:eth0", want{err: []string{"eth0 is up, no global address"}, cause: CauseNoAddress}},
		{"family=6 with IPv4 only", newFake().link(2, "eth0", up).addr("eth0", "10.213.1.2/24", 0),
			"link:eth0?family=6", want{err: []string{"eth0 is up, no global IPv6 address"}, cause: CauseNoAddress}},
		{"family=4 with IPv6 only", newFake().link(2, "eth0", up).addr("eth0", "fd00:213::2/64", 0),
			"link:eth0?family=4", want{err: []string{"eth0 is up, no global IPv4 address"}, cause: CauseNoAddress}},
		{"tentative", newFake().link(2, "eth0", up).addr("eth0", "fd00:213::2/64", tentative),
			"link:eth0", want{err: []string{"eth0 is up, no global address yet (fd00:213::2/64 tentative)"}, cause: CauseAddressTentative, hint: "duplicate address detection"}},
		{"tentative beside a failed one", newFake().link(2, "eth0", up).addr("eth0", "fd00:213::2/64", duplicate).addr("eth0", "fd00:213::3/64", tentative),
			"link:eth0", want{err: []string{"fd00:213::2/64 failed duplicate address detection, fd00:213::3/64 tentative"}, cause: CauseAddressTentative}},
		{"DAD failed", newFake().link(2, "eth0", up).addr("eth0", "fd00:213::2/64", duplicate),
			"link:eth0", want{err: []string{"eth0 is up, no usable global address (fd00:213::2/64 failed duplicate address detection)"}, cause: CauseAddressDADFailed, hint: "another host on the link uses this address"}},
		{"any: every link's reason", newFake().link(2, "eth0", 0).link(3, "eth1", up),
			"link:any", want{err: []string{"no link is up with a global address: eth0 is down (administratively); eth1 is up, no global address"}, cause: CauseLinkDown}},

		{"netlink refused: links", newFake().failing("Links", unix.EAFNOSUPPORT),
			"link:any", want{err: []string{"list links: netlink socket refused"}, cause: CauseNetlinkRefused, hint: "AF_NETLINK"}},
		{"netlink refused: a link", newFake().failing("LinkByName", unix.EAFNOSUPPORT),
			"link:eth0", want{err: []string{"link eth0: netlink socket refused"}, cause: CauseNetlinkRefused}},
		{"netlink refused: addresses", newFake().link(2, "eth0", up).failing("Addrs", unix.EPROTONOSUPPORT),
			"link:eth0", want{err: []string{"list addresses of eth0: netlink socket refused"}, cause: CauseNetlinkRefused}},
		{"another netlink error", newFake().link(2, "eth0", up).failing("Addrs", unix.EIO),
			"link:eth0", want{err: []string{"list addresses of eth0: input/output error"}, cause: CauseOther}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Probe(t.Context(), fakeEnv(c.kernel), mustParse(t, c.target))
			c.want.check(t, r)
			if !r.Local {
				t.Errorf("Local: false for a link target")
			}
			if !r.OK && r.Cause.Announced() != (r.Cause != CauseNetlinkRefused && r.Cause != CauseOther) {
				t.Errorf("%s: announced %v", r.Cause, r.Cause.Announced())
			}
		})
	}
}

// withRawFlags sets the IFF_* flags of link name.
func (k *fakeKernel) withRawFlags(name string, flags uint32) *fakeKernel {
	k.byName(name).Attrs().RawFlags = flags
	return k
}

// withOperState sets link name's operational state.
func (k *fakeKernel) withOperState(name string, s netlink.LinkOperState) *fakeKernel {
	k.byName(name).Attrs().OperState = s
	return k
}

// ipv6Only tells an IPv6-only host (whose links that are up have global
// IPv6 addresses and no global IPv4 one) from the others, without root.
func TestIPv6Only(t *testing.T) {
	for _, c := range []struct {
		name         string
		kernel       *fakeKernel
		links, addrs []string
	}{
		{"IPv6 only", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).addr("eth0", "fe80::2/64", 0),
			[]string{"eth0"}, []string{"fd00:213:1::2/64"}},
		{"two links, IPv6 only", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).
			link(3, "eth1", up).addr("eth1", "fd00:213:2::2/64", tentative).link(4, "eth2", up).addr("eth2", "fe80::4/64", 0),
			[]string{"eth0", "eth1"}, []string{"fd00:213:1::2/64", "fd00:213:2::2/64"}},
		{"IPv4 on a link that is down does not count", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).
			link(3, "eth1", 0).addr("eth1", "10.213.2.2/24", 0),
			[]string{"eth0"}, []string{"fd00:213:1::2/64"}},
		{"dual stack", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).addr("eth0", "10.213.1.2/24", 0), nil, nil},
		{"IPv4 on another link", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).
			link(3, "eth1", up).addr("eth1", "10.213.2.2/24", 0), nil, nil},
		{"link-local addresses only", newFake().link(2, "eth0", up).addr("eth0", "fe80::2/64", 0), nil, nil},
		{"loopback's addresses do not count", newFake(), nil, nil},
		{"the links cannot be read", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).failing("Links", unix.EIO), nil, nil},
		{"the addresses cannot be read", newFake().link(2, "eth0", up).addr("eth0", "fd00:213:1::2/64", 0).failing("Addrs", unix.EIO), nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			links, addrs := ipv6Only(c.kernel)
			if !slices.Equal(links, c.links) || !slices.Equal(addrs, c.addrs) {
				t.Errorf("got %q %q, want %q %q", links, addrs, c.links, c.addrs)
			}
		})
	}
}
