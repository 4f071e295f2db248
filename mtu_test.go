package main

// Path MTU blackholes: a narrow link between two routers that drop the ICMP
// errors about it, and its twin that lets them through.

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netready/netready/internal/certtest"
	"github.com/netready/netready/internal/dnstest"
	"github.com/netready/netready/internal/netnstest"
	"golang.org/x/sys/unix"
)

// mtuLab is four network namespaces in a row, the middle link narrower than
// the others (a tunnel, say):
//
//	client veth0 ── veth1 r1 narrow0 ══ narrow1 r2 veth2 ── veth3 server
//	  10.213.1.2/24    .1.1    10.213.2.1  10.213.2.2   .3.1    10.213.3.2/24 (and .3.3)
//	  fd00:213:1::2/64 ::1     fd00:213:2::1  ::2       3::1    fd00:213:3::2/64 (and ::3)
//
// The client's and the server's own links have an MTU of 1500, so each
// announces an MSS of 1460 (1440 over IPv6) and sends packets of up to 1500
// bytes; the narrow link's two ends have a smaller MTU. A router that must
// send a packet too large for the narrow link drops it and answers with an
// ICMP "fragmentation needed" (ICMPv6 "packet too big"): with filtered, the
// routers' firewalls drop those errors, so large packets vanish both ways
// and neither end ever learns; without, the ends learn the path MTU and
// send smaller packets. The client's .1.3 and the server's .3.3 (::3) are
// for the lab's own premise, so that what the kernels learn from it
// concerns no address that netready is asked about. IPv6 runs only when
// the narrow link carries it (an MTU of 1280 or more).
type mtuLab struct {
	client, r1, r2, server *netnstest.NS
	mtu                    int
	filtered, v6           bool
}

const (
	mtuClient4, mtuClient6           = "10.213.1.2", "fd00:213:1::2"
	mtuClientProbe4, mtuClientProbe6 = "10.213.1.3", "fd00:213:1::3"
	mtuServer4, mtuServer6           = "10.213.3.2", "fd00:213:3::2"
	mtuServerProbe4, mtuServerProbe6 = "10.213.3.3", "fd00:213:3::3"
)

func newMTULab(t *testing.T, mtu int, filtered bool) *mtuLab {
	t.Helper()
	l := &mtuLab{client: netnstest.New(t), r1: netnstest.New(t), r2: netnstest.New(t), server: netnstest.New(t),
		mtu: mtu, filtered: filtered, v6: mtu >= 1280}
	netnstest.Veth(t, l.client, "veth0", l.r1, "veth1")
	netnstest.Veth(t, l.r1, "narrow0", l.r2, "narrow1")
	netnstest.Veth(t, l.r2, "veth2", l.server, "veth3")
	for _, r := range []*netnstest.NS{l.r1, l.r2} {
		r.Sysctl(t, "net.ipv4.ip_forward", "1")
		r.Sysctl(t, "net.ipv6.conf.all.forwarding", "1")
	}
	l.r1.IP(t, "link", "set", "narrow0", "mtu", strconv.Itoa(mtu))
	l.r2.IP(t, "link", "set", "narrow1", "mtu", strconv.Itoa(mtu))
	addrs := func(ns *netnstest.NS, dev string, a ...string) {
		for _, x := range a {
			if strings.Contains(x, ":") {
				if !l.v6 {
					continue
				}
				args := []string{"addr", "add", x + "/64", "dev", dev, "nodad"}
				if x == mtuClientProbe6 || x == mtuServerProbe6 {
					// Deprecated: never a source the kernel picks.
					args = append(args, "preferred_lft", "0")
				}
				ns.IP(t, args...)
			} else {
				ns.IP(t, "addr", "add", x+"/24", "dev", dev)
			}
		}
	}
	addrs(l.client, "veth0", mtuClient4, mtuClientProbe4, mtuClient6, mtuClientProbe6)
	addrs(l.r1, "veth1", "10.213.1.1", "fd00:213:1::1")
	addrs(l.r1, "narrow0", "10.213.2.1", "fd00:213:2::1")
	addrs(l.r2, "narrow1", "10.213.2.2", "fd00:213:2::2")
	addrs(l.r2, "veth2", "10.213.3.1", "fd00:213:3::1")
	addrs(l.server, "veth3", mtuServer4, mtuServerProbe4, mtuServer6, mtuServerProbe6)
	for _, up := range []struct {
		ns  *netnstest.NS
		dev string
	}{{l.client, "veth0"}, {l.r1, "veth1"}, {l.r1, "narrow0"}, {l.r2, "narrow1"}, {l.r2, "veth2"}, {l.server, "veth3"}} {
		up.ns.IP(t, "link", "set", up.dev, "up")
	}
	for _, up := range []struct {
		ns  *netnstest.NS
		dev string
	}{{l.client, "veth0"}, {l.r1, "veth1"}, {l.r1, "narrow0"}, {l.r2, "narrow1"}, {l.r2, "veth2"}, {l.server, "veth3"}} {
		waitOperUp(t, up.ns, up.dev)
	}
	l.client.IP(t, "route", "add", "default", "via", "10.213.1.1")
	l.r1.IP(t, "route", "add", "default", "via", "10.213.2.2")
	l.r2.IP(t, "route", "add", "10.213.1.0/24", "via", "10.213.2.1")
	l.server.IP(t, "route", "add", "default", "via", "10.213.3.1")
	if l.v6 {
		l.client.IP(t, "-6", "route", "add", "default", "via", "fd00:213:1::1")
		l.r1.IP(t, "-6", "route", "add", "default", "via", "fd00:213:2::2")
		l.r2.IP(t, "-6", "route", "add", "fd00:213:1::/64", "via", "fd00:213:2::1")
		l.server.IP(t, "-6", "route", "add", "default", "via", "fd00:213:3::1")
	}
	// Each router counts the ICMP errors it sends about packets too
	// large for the narrow link, and drops them when filtered.
	verdict := map[bool]string{true: "drop", false: "accept"}[filtered]
	for _, r := range []*netnstest.NS{l.r1, l.r2} {
		nftIn(t, r, fmt.Sprintf(`table inet netready_mtu {
	counter toobig {}
	chain output {
		type filter hook output priority filter; policy accept;
		icmp type destination-unreachable icmp code frag-needed counter name "toobig" %[1]s
		icmpv6 type packet-too-big counter name "toobig" %[1]s
	}
}
`, verdict))
	}
	l.client.WriteEtc(t, "hosts", "127.0.0.1 localhost\n")
	l.client.WriteEtc(t, "resolv.conf", "nameserver "+mtuServer4+"\n")
	return l
}

// nftIn loads an nftables ruleset into ns; it goes with the namespace.
func nftIn(t *testing.T, ns *netnstest.NS, ruleset string) {
	t.Helper()
	cmd := ns.Command(t.Context(), needTool(t, "nft"), "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v: %s", ns.Name, err, out)
	}
}

// tooBigSent is how many ICMP errors about packets too large for the
// narrow link router r has sent (or dropped, when filtered).
func tooBigSent(t *testing.T, r *netnstest.NS) int {
	t.Helper()
	out, err := r.Command(t.Context(), "nft", "list", "counter", "inet", "netready_mtu", "toobig").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list counter in %s: %v: %s", r.Name, err, out)
	}
	m := regexp.MustCompile(`packets (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("nft list counter in %s: no packet count in %s", r.Name, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// premise checks what the lab is for, before netready is asked anything:
// from src in ns from, to dst in ns to, a datagram larger than the narrow
// link, with DF set, does not pass, and a small one sent after it does; the
// router at the narrow link's entrance (gate) sends its ICMP error about the
// large one; and that error reaches the sender, or, when filtered, does
// not (the router's firewall counted it on its drop rule). The packets
// take one path in order: when the small one arrives, the large one would
// have arrived before it, and the router has dealt with it.
func (l *mtuLab) premise(t *testing.T, from *netnstest.NS, src string, to *netnstest.NS, dst string, gate *netnstest.NS) {
	t.Helper()
	v4 := !strings.Contains(dst, ":")
	rx := to.ListenPacket(t, net.JoinHostPort(dst, "0"))
	// Two sockets: the ICMP error about the large datagram, once in
	// its socket's error queue, fails that socket's next send.
	var (
		tx, tx2 *net.UDPConn
		err     error
	)
	from.Do(t, func() {
		laddr, raddr := &net.UDPAddr{IP: net.ParseIP(src)}, rx.LocalAddr().(*net.UDPAddr)
		if tx, err = net.DialUDP("udp", laddr, raddr); err == nil {
			tx2, err = net.DialUDP("udp", laddr, raddr)
		}
	})
	if err != nil {
		t.Fatalf("premise: udp from %s to %s: %v", src, dst, err)
	}
	defer tx.Close()
	defer tx2.Close()
	rc, err := tx.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		// DF on whatever the kernel knows of the path, and the ICMP
		// errors in the socket's error queue.
		if v4 {
			err = errors.Join(unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE),
				unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVERR, 1))
		} else {
			err = errors.Join(unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE),
				unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1))
		}
	})
	if err != nil {
		t.Fatalf("premise: setsockopt: %v", err)
	}
	hdr := 28
	if !v4 {
		hdr = 48
	}
	big, small := l.mtu+100-hdr, 300
	before := tooBigSent(t, gate)
	for _, d := range []struct {
		c *net.UDPConn
		n int
	}{{tx, big}, {tx2, small}} {
		if _, err := d.c.Write(make([]byte, d.n)); err != nil {
			t.Fatalf("premise: send %d bytes from %s to %s: %v", d.n, src, dst, err)
		}
	}
	rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := rx.ReadFrom(buf)
	switch {
	case err != nil:
		t.Fatalf("premise: from %s to %s, not even a %d-byte datagram passes: %v", src, dst, small+hdr, err)
	case n != small:
		t.Fatalf("premise: from %s to %s, a %d-byte packet passed a link of MTU %d", src, dst, n+hdr, l.mtu)
	}
	if after := tooBigSent(t, gate); after <= before {
		t.Fatalf("premise: %s sent no ICMP error about the %d-byte packet from %s (counter %d, then %d)", gate.Name, big+hdr, src, before, after)
	}
	icmp := func() (*unix.SockExtendedErr, bool) {
		var (
			ee *unix.SockExtendedErr
			ok bool
		)
		rc.Control(func(fd uintptr) {
			oob := make([]byte, 512)
			_, oobn, _, _, err := unix.Recvmsg(int(fd), make([]byte, 2048), oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR ||
					m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR) && len(m.Data) >= 16 {
					ee = &unix.SockExtendedErr{Errno: binary.NativeEndian.Uint32(m.Data[0:]), Origin: m.Data[4], Type: m.Data[5], Code: m.Data[6], Info: binary.NativeEndian.Uint32(m.Data[8:])}
					ok = true
				}
			}
		})
		return ee, ok
	}
	if l.filtered {
		if ee, ok := icmp(); ok {
			t.Fatalf("premise: an ICMP error reached %s although %s drops them: %+v", src, gate.Name, ee)
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ee, ok := icmp(); ok {
			if ee.Errno != uint32(unix.EMSGSIZE) || int(ee.Info) != l.mtu {
				t.Fatalf("premise: the ICMP error at %s is %+v, want EMSGSIZE with an MTU of %d", src, ee, l.mtu)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("premise: no ICMP error about the %d-byte packet reached %s in 10s", big+hdr, src)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watchedListener records, for each connection it accepts, the MSS the
// client announced (the server's send MSS, TCP_INFO), and whether the
// client acknowledged the first thing the server wrote (a TLS server's
// flight, the start of an HTTP response, a DNS reply): that first Write
// waits until it is acknowledged, or the connection is over. What the
// server writes later, as a TLS close_notify to a client that has gone,
// is not watched.
type watchedListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*watchedConn
}

type watchedConn struct {
	net.Conn
	l            *watchedListener
	mss          uint32
	wrote, acked bool
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	info, err := serverTCPInfo(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	wc := &watchedConn{Conn: c, l: l, mss: info.Snd_mss}
	l.mu.Lock()
	l.conns = append(l.conns, wc)
	l.mu.Unlock()
	return wc, nil
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	first := !c.wrote
	c.wrote = true
	c.l.mu.Unlock()
	n, err := c.Conn.Write(p)
	if !first {
		return n, err
	}
	// Bytes_acked is a counter of TCP_INFO that a reset does not clear.
	// A client that has closed (CLOSE_WAIT) acknowledges what it got at
	// once.
	acked := false
	var closing time.Time
	for deadline := time.Now().Add(20 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		info, ierr := serverTCPInfo(c.Conn)
		if ierr != nil {
			break
		}
		if info.Bytes_acked >= uint64(n) {
			acked = true
			break
		}
		if info.State == 8 && closing.IsZero() { // TCP_CLOSE_WAIT
			closing = time.Now()
		}
		if info.State != 1 && info.State != 8 || !closing.IsZero() && time.Since(closing) > 500*time.Millisecond {
			break
		}
	}
	c.l.mu.Lock()
	c.acked = acked
	c.l.mu.Unlock()
	return n, err
}

// watched is what a watchedListener saw of one connection.
type watched struct {
	mss          uint32
	wrote, acked bool
}

func (w watched) delivered() bool { return w.wrote && w.acked }

func (w watched) String() string {
	switch {
	case w.delivered():
		return fmt.Sprintf("mss %d, delivered", w.mss)
	case w.wrote:
		return fmt.Sprintf("mss %d, not delivered", w.mss)
	}
	return fmt.Sprintf("mss %d, nothing written", w.mss)
}

// seen is what the listener saw of each connection so far, and as text.
func (l *watchedListener) seen() ([]watched, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var (
		ws []watched
		s  []string
	)
	for _, c := range l.conns {
		w := watched{mss: c.mss, wrote: c.wrote, acked: c.acked}
		ws = append(ws, w)
		s = append(s, w.String())
	}
	return ws, "[" + strings.Join(s, "; ") + "]"
}

func (l *watchedListener) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = nil
}

func serverTCPInfo(c net.Conn) (*unix.TCPInfo, error) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	var (
		info *unix.TCPInfo
		ierr error
	)
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return nil, err
	}
	return info, ierr
}

// mtuServers are the lab's servers on one address of the server: TLS on
// 443 (for tls://) and 8443 (https://), with a certificate of 120 names
// (a server's flight of about 4 KB), HTTP on 80 with a 16 KiB page at
// /big, and DNS on 53 whose big.test has 120 A records (2,906 bytes,
// as miekg/dns packs it, without name compression).
type mtuServers struct {
	tls, https, http, dns *watchedListener
	resolver              *dnstest.Server
	caFile                string
}

func (l *mtuLab) serve(t *testing.T, addr string) *mtuServers {
	t.Helper()
	s := &mtuServers{}
	ca := certtest.NewCA(t)
	s.caFile = ca.WriteFile(t)
	names := []string{addr}
	for i := range 120 {
		names = append(names, fmt.Sprintf("host-%03d.mtu.test", i))
	}
	cert := ca.Valid(t, names...)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("netready path MTU lab\n", 16<<10/22+1)))
	})
	listen := func(port string, tlsCert *tls.Certificate) *watchedListener {
		wl := &watchedListener{Listener: l.server.Listen(t, net.JoinHostPort(addr, port))}
		hs := httptest.NewUnstartedServer(mux)
		hs.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes that stall are the point
		hs.Listener.Close()
		hs.Listener = wl
		if tlsCert != nil {
			// No session tickets: a TLS 1.3 server writes them after
			// the handshake, to a client that may have gone.
			hs.TLS = &tls.Config{Certificates: []tls.Certificate{*tlsCert}, SessionTicketsDisabled: true}
			hs.StartTLS()
		} else {
			hs.Start()
		}
		t.Cleanup(hs.Close)
		return wl
	}
	s.tls = listen("443", &cert)
	s.https = listen("8443", &cert)
	s.http = listen("80", nil)
	var zone []string
	for i := range 120 {
		zone = append(zone, fmt.Sprintf("big.test. 60 IN A 10.213.9.%d", i+1))
	}
	hp := net.JoinHostPort(addr, "53")
	s.dns = &watchedListener{Listener: l.server.Listen(t, hp)}
	s.resolver = dnstest.Serve(t, l.server.ListenPacket(t, hp), s.dns, zone...)
	return s
}

func (s *mtuServers) reset() {
	for _, wl := range []*watchedListener{s.tls, s.https, s.http, s.dns} {
		wl.reset()
	}
}

// testMTUBlackhole: in a lab whose narrow link drops large packets and
// whose routers' ICMP errors about them are dropped, the exchange after a
// TCP handshake (a TLS handshake, an HTTP response) and a large DNS answer
// fail with mtu-blackhole, naming the sizes that vanished and passed and
// the client's link and its MTU, and the servers saw the proof: a
// connection with full-size segments that never delivered, then one with
// small segments that did (and, for DNS over UDP, the queries). In the
// twin, where the ICMP errors pass, the ends learn the path MTU and every
// target passes. IPv4 over a link of 1200 bytes, where a DNS reply with
// EDNS's 1232 bytes is too large; IPv6 over one of 1280, the least IPv6
// allows, where that reply fits and the TCP after its truncation stalls.
func testMTUBlackhole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mtu      int
		filtered bool
	}{
		{"IPv4 blackhole", 1200, true},
		{"IPv6 blackhole", 1280, true},
		{"IPv4 with ICMP", 1200, false},
		{"IPv6 with ICMP", 1280, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newMTULab(t, tc.mtu, tc.filtered)
			server, clientProbe, serverProbe := mtuServer4, mtuClientProbe4, mtuServerProbe4
			if l.v6 {
				server, clientProbe, serverProbe = mtuServer6, mtuClientProbe6, mtuServerProbe6
			}
			l.premise(t, l.server, serverProbe, l.client, clientProbe, l.r2)
			l.premise(t, l.client, clientProbe, l.server, serverProbe, l.r1)
			srv := l.serve(t, server)
			l.server.Listen(t, net.JoinHostPort(serverProbe, "80"))
			o := opts{env: []string{"SSL_CERT_FILE=" + srv.caFile}, flags: []string{"--probe-timeout", "2s"}}
			hp := func(port string) string { return net.JoinHostPort(server, port) }
			// Nothing answers on 9443 (a listener that never accepts):
			// a stall that small segments do not mend either.
			l.server.Listen(t, hp("9443"))
			targets := []string{"tls://" + hp("443"), "https://" + hp("8443") + "/", "http://" + hp("80") + "/big", "dns://" + server + "/big.test", "tls://" + hp("9443")}
			if l.v6 {
				targets = []string{"tls://" + hp("443"), "http://" + hp("80") + "/big", "dns://[" + server + "]/big.test", "tls://" + hp("9443")}
			}
			if !l.filtered {
				targets = targets[:len(targets)-1]
				wants := make([]want, len(targets))
				for i := range wants {
					wants[i] = pass()
				}
				before1, before2 := tooBigSent(t, l.r1), tooBigSent(t, l.r2)
				checkTargets(t, l.client, o, targets, wants)
				// The path MTU was learned while netready ran: the
				// router before the server told it of packets too large
				// (a certificate, a big answer), and no exchange needed a
				// retry. (The client's own packets exceed the narrow link
				// only when its ClientHello does, which depends on the
				// key shares it offers: r1 is not asserted.)
				if after1, after2 := tooBigSent(t, l.r1), tooBigSent(t, l.r2); after2 == before2 {
					t.Errorf("the routers sent no ICMP error about large packets while netready ran (r1 %d then %d, r2 %d then %d)", before1, after1, before2, after2)
				}
				for _, w := range []*watchedListener{srv.tls, srv.http} {
					if seen, state := w.seen(); len(seen) != 1 || !seen[0].delivered() {
						t.Errorf("the server saw %s, want one connection that delivered", state)
					}
				}
				// The client learned the path MTU to the server's
				// other address in the premise: --explain shows it.
				o := netready(t, l.client, opts{}, "check", "--explain", "--json", "tcp://"+net.JoinHostPort(serverProbe, "80"))
				if p := o.doc.Targets[0].Paths; len(p) != 1 || p[0].Hops[0].Hop != "route" || !strings.Contains(p[0].Hops[0].Detail, fmt.Sprintf("path MTU %d", l.mtu)) {
					t.Errorf("--explain: the route's hop does not say the path MTU is %d\n%s", l.mtu, o)
				}
				return
			}

			small, tooBig, icmp := 576, "packets of 1500 bytes", `no ICMP "fragmentation needed"`
			if l.v6 {
				small, icmp = 1280, `no ICMPv6 "packet too big"`
			}
			smallPackets := fmt.Sprintf("in %d-byte packets the answer came", small)
			link := "(veth0 MTU 1500)"
			hint := "let ICMP"
			var wants []want
			// The ClientHello of Go's TLS (1,498 bytes with its
			// post-quantum key share) is what vanishes first.
			wants = append(wants, fail("tls handshake: "+tooBig+" to "+hp("443")+" vanish", icmp, smallPackets, link).because("mtu-blackhole").hinting(hint))
			if !l.v6 {
				wants = append(wants, fail("TLS handshake: "+tooBig+" to "+hp("8443")+" vanish", smallPackets, link).because("mtu-blackhole").hinting(hint))
			}
			wants = append(wants, fail("response: "+tooBig+" from "+hp("80")+" vanish", icmp, smallPackets, link).because("mtu-blackhole").hinting(hint))
			if l.v6 {
				wants = append(wants, fail("over tcp, after a truncated reply over udp: "+tooBig+" from "+hp("53")+" vanish", smallPackets, link).because("mtu-blackhole"))
			} else {
				wants = append(wants, fail("replies of more than 512 bytes from "+hp("53")+" vanish", "to a 512-byte buffer a truncated reply came",
					"over TCP in 576-byte packets the whole answer came (2906 bytes)", link).because("mtu-blackhole"))
			}
			wants = append(wants, fail("tls handshake: i/o timeout").because("timeout"))
			before1, before2 := tooBigSent(t, l.r1), tooBigSent(t, l.r2)
			checkTargets(t, l.client, o, targets, wants)

			// The proof, from the servers: full-size segments that
			// were never delivered, then small ones that were.
			smallMSS := uint32(536)
			if l.v6 {
				smallMSS = 1220
			}
			watched := []struct {
				name string
				wl   *watchedListener
			}{{"tls", srv.tls}, {"https", srv.https}, {"http", srv.http}, {"dns over tcp", srv.dns}}
			for _, w := range watched {
				if w.name == "https" && l.v6 {
					continue // not asked
				}
				seen, state := w.wl.seen()
				if w.name == "dns over tcp" && !l.v6 {
					// Over IPv4 only the retry's small segments
					// take TCP: the UDP reply never came.
					if len(seen) != 1 || seen[0].mss > smallMSS || !seen[0].delivered() {
						t.Errorf("%s: the server saw %s, want one connection with segments of %d bytes at most that delivered", w.name, state, smallMSS)
					}
					continue
				}
				if len(seen) != 2 || seen[0].mss <= smallMSS || seen[0].delivered() || seen[1].mss > smallMSS || !seen[1].delivered() {
					t.Errorf("%s: the server saw %s, want a connection with full-size segments that did not deliver, then one with segments of %d bytes at most that did", w.name, state, smallMSS)
				}
			}
			// Of a name's address, A and AAAA are asked at once; big.test
			// has no AAAA, whose small reply comes at the first query.
			if udp, _ := srv.resolver.Queries(); !l.v6 && udp != 3+1 || l.v6 && udp != 1+1 {
				t.Errorf("dns: the server got %d queries over UDP, want 3 over IPv4 (A: the query, the one with a 512-byte buffer, the first again), 1 over IPv6 (A), and 1 AAAA", udp)
			}
			if after1, after2 := tooBigSent(t, l.r1), tooBigSent(t, l.r2); after1 == before1 || after2 == before2 {
				t.Errorf("the routers dropped no ICMP error about large packets while netready ran (r1 %d then %d, r2 %d then %d)", before1, after1, before2, after2)
			}

			// --explain: the endpoint's hop says it; the route's says no
			// path MTU, since nothing came to teach the kernel one.
			srv.reset()
			e := netready(t, l.client, o, "check", "--explain", "--json", "--probe-timeout", "2s", targets[0])
			if p := e.doc.Targets[0].Paths; len(p) != 1 {
				t.Errorf("--explain: got %d paths, want 1\n%s", len(p), e)
			} else {
				hops := p[0].Hops
				first, last := hops[0], hops[len(hops)-1]
				if first.Hop != "route" || strings.Contains(first.Detail, "path MTU") || last.Hop != "endpoint" || last.OK ||
					last.Cause != "mtu-blackhole" || last.Name != hp("443") || !strings.Contains(last.Detail, tooBig) {
					t.Errorf("--explain: got hops %+v, want a route without a path MTU, and the endpoint %s broken with mtu-blackhole", hops, hp("443"))
				}
			}
			text := netready(t, l.client, o, "check", "--probe-timeout", "2s", targets[0])
			t.Logf("netready check --probe-timeout 2s %s:\n%s", targets[0], text.stdout)
		})
	}
}
