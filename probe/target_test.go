package probe_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/netready/netready/probe"
)

// validTargetCase is a target that Parse accepts: the fields it must set
// (URL is left nil here and checked through canon) and its canonical form.
type validTargetCase struct {
	name  string
	in    string
	want  probe.Target
	canon string
}

func validTargetCases() []validTargetCase {
	ip := netip.MustParseAddr
	long63 := strings.Repeat("a", 63)
	// 63+1+63+1+63+1+61 = 253 bytes, the longest name allowed.
	name253 := long63 + "." + long63 + "." + long63 + "." + strings.Repeat("b", 61)
	return []validTargetCase{
		// link:
		{"link any", "link:any", probe.Target{Kind: probe.KindLink, Iface: probe.LinkAny}, "link:any"},
		{"link iface", "link:eth0", probe.Target{Kind: probe.KindLink, Iface: "eth0"}, "link:eth0"},
		{"link upper-case scheme", "LINK:eth0", probe.Target{Kind: probe.KindLink, Iface: "eth0"}, "link:eth0"},
		{"link iface with dash and dot", "link:veth-a.12", probe.Target{Kind: probe.KindLink, Iface: "veth-a.12"}, "link:veth-a.12"},
		{"link iface of 15 bytes", "link:abcdefghijklmno", probe.Target{Kind: probe.KindLink, Iface: "abcdefghijklmno"}, "link:abcdefghijklmno"},

		// route:
		{"route default", "route:default", probe.Target{Kind: probe.KindRoute, Route: probe.RouteDefault}, "route:default"},
		{"route default4", "route:default4", probe.Target{Kind: probe.KindRoute, Route: probe.RouteDefault4}, "route:default4"},
		{"route default6", "route:default6", probe.Target{Kind: probe.KindRoute, Route: probe.RouteDefault6}, "route:default6"},
		{"route IPv4", "route:192.0.2.1", probe.Target{Kind: probe.KindRoute, Addr: ip("192.0.2.1")}, "route:192.0.2.1"},
		{"route IPv6", "route:2001:db8::1", probe.Target{Kind: probe.KindRoute, Addr: ip("2001:db8::1")}, "route:2001:db8::1"},
		{"route IPv6 non-canonical", "route:2001:DB8:0:0::1", probe.Target{Kind: probe.KindRoute, Addr: ip("2001:db8::1")}, "route:2001:db8::1"},
		{"route IPv4-mapped IPv6", "route:::ffff:192.0.2.1", probe.Target{Kind: probe.KindRoute, Addr: ip("::ffff:192.0.2.1")}, "route:::ffff:192.0.2.1"},

		// dns:NAME
		{"dns name", "dns:example.com", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: probe.QTypeAddress}, "dns:example.com"},
		{"dns fully qualified name", "dns:example.com.", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: probe.QTypeAddress}, "dns:example.com"},
		{"dns upper-case scheme", "DNS:example.com", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: probe.QTypeAddress}, "dns:example.com"},
		{"dns type AAAA", "dns:example.com?type=AAAA", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeAAAA}, "dns:example.com?type=AAAA"},
		{"dns type lower case", "dns:example.com?type=aaaa", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeAAAA}, "dns:example.com?type=AAAA"},
		{"dns parameter name upper case", "dns:example.com?TYPE=mx", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeMX}, "dns:example.com?type=MX"},
		{"dns type A is strict, not the default", "dns:example.com?type=A", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeA}, "dns:example.com?type=A"},
		{"dns RFC 3597 type of a known type", "dns:example.com?type=TYPE65", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeHTTPS}, "dns:example.com?type=HTTPS"},
		{"dns RFC 3597 type lower case", "dns:example.com?type=type28", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeAAAA}, "dns:example.com?type=AAAA"},
		{"dns RFC 3597 type of an unknown type", "dns:example.com?type=TYPE4000", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: 4000}, "dns:example.com?type=TYPE4000"},
		{"dns root", "dns:.", probe.Target{Kind: probe.KindDNS, Name: ".", QType: dns.TypeNS}, "dns:."},
		{"dns root type NS explicit", "dns:.?type=NS", probe.Target{Kind: probe.KindDNS, Name: ".", QType: dns.TypeNS}, "dns:."},
		{"dns root type A", "dns:.?type=A", probe.Target{Kind: probe.KindDNS, Name: ".", QType: dns.TypeA}, "dns:.?type=A"},
		{"dns name type NS", "dns:example.com?type=NS", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeNS}, "dns:example.com?type=NS"},
		{"dns RFC 4501 class and type", "dns:example.com?class=IN;type=AAAA", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeAAAA}, "dns:example.com?type=AAAA"},
		{"dns RFC 4501 lower-case class", "dns:example.com?class=in;type=A", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeA}, "dns:example.com?type=A"},
		{"dns ampersand separator", "dns:example.com?type=TXT&class=IN", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: dns.TypeTXT}, "dns:example.com?type=TXT"},
		{"dns empty query", "dns:example.com?", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: probe.QTypeAddress}, "dns:example.com"},
		{"dns underscore labels", "dns:_sip._tcp.example.com?type=SRV", probe.Target{Kind: probe.KindDNS, Name: "_sip._tcp.example.com.", QType: dns.TypeSRV}, "dns:_sip._tcp.example.com?type=SRV"},
		{"dns percent-escaped name", "dns:exa%6Dple.com", probe.Target{Kind: probe.KindDNS, Name: "example.com.", QType: probe.QTypeAddress}, "dns:example.com"},
		{"dns escaped percent sign", "dns:a%25b.example", probe.Target{Kind: probe.KindDNS, Name: "a%b.example.", QType: probe.QTypeAddress}, "dns:a%25b.example"},
		{"dns label of 63 bytes", "dns:" + long63 + ".com", probe.Target{Kind: probe.KindDNS, Name: long63 + ".com.", QType: probe.QTypeAddress}, "dns:" + long63 + ".com"},
		{"dns name of 253 bytes", "dns:" + name253, probe.Target{Kind: probe.KindDNS, Name: name253 + ".", QType: probe.QTypeAddress}, "dns:" + name253},
		{"dns name of 253 bytes and a final dot", "dns:" + name253 + ".", probe.Target{Kind: probe.KindDNS, Name: name253 + ".", QType: probe.QTypeAddress}, "dns:" + name253},

		// dns://SERVER[:PORT]/NAME
		{"dns server IPv4", "dns://192.0.2.53/example.com", probe.Target{Kind: probe.KindDNS, Server: "192.0.2.53:53", Name: "example.com.", QType: probe.QTypeAddress}, "dns://192.0.2.53/example.com"},
		{"dns server default port dropped", "dns://192.0.2.53:53/example.com", probe.Target{Kind: probe.KindDNS, Server: "192.0.2.53:53", Name: "example.com.", QType: probe.QTypeAddress}, "dns://192.0.2.53/example.com"},
		{"dns server IPv4 and port", "dns://192.0.2.53:5353/example.com", probe.Target{Kind: probe.KindDNS, Server: "192.0.2.53:5353", Name: "example.com.", QType: probe.QTypeAddress}, "dns://192.0.2.53:5353/example.com"},
		{"dns server IPv6", "dns://[2001:db8::53]/example.com", probe.Target{Kind: probe.KindDNS, Server: "[2001:db8::53]:53", Name: "example.com.", QType: probe.QTypeAddress}, "dns://[2001:db8::53]/example.com"},
		{"dns server IPv6 and port", "dns://[2001:db8::53]:5353/example.com?type=AAAA", probe.Target{Kind: probe.KindDNS, Server: "[2001:db8::53]:5353", Name: "example.com.", QType: dns.TypeAAAA}, "dns://[2001:db8::53]:5353/example.com?type=AAAA"},
		{"dns server IPv6 default port dropped", "dns://[2001:db8::53]:53/.", probe.Target{Kind: probe.KindDNS, Server: "[2001:db8::53]:53", Name: ".", QType: dns.TypeNS}, "dns://[2001:db8::53]/."},
		{"dns server loopback", "dns://127.0.0.53/.", probe.Target{Kind: probe.KindDNS, Server: "127.0.0.53:53", Name: ".", QType: dns.TypeNS}, "dns://127.0.0.53/."},
		{"dns server host name", "dns://ns1.example.net/example.com", probe.Target{Kind: probe.KindDNS, Server: "ns1.example.net:53", Name: "example.com.", QType: probe.QTypeAddress}, "dns://ns1.example.net/example.com"},
		{"dns server RFC 4501 example", "dns://ns1.example.net:5353/www.example.com?class=IN;type=TXT", probe.Target{Kind: probe.KindDNS, Server: "ns1.example.net:5353", Name: "www.example.com.", QType: dns.TypeTXT}, "dns://ns1.example.net:5353/www.example.com?type=TXT"},
		{"dns server upper-case scheme", "DNS://192.0.2.53/example.com.", probe.Target{Kind: probe.KindDNS, Server: "192.0.2.53:53", Name: "example.com.", QType: probe.QTypeAddress}, "dns://192.0.2.53/example.com"},

		// tcp://
		{"tcp host name", "tcp://db.internal:5432", probe.Target{Kind: probe.KindTCP, Host: "db.internal", Port: "5432"}, "tcp://db.internal:5432"},
		{"tcp IPv4", "tcp://192.0.2.1:80", probe.Target{Kind: probe.KindTCP, Host: "192.0.2.1", Port: "80"}, "tcp://192.0.2.1:80"},
		{"tcp IPv6", "tcp://[2001:db8::1]:443", probe.Target{Kind: probe.KindTCP, Host: "2001:db8::1", Port: "443"}, "tcp://[2001:db8::1]:443"},
		{"tcp IPv6 with zone", "tcp://[fe80::1%eth0]:22", probe.Target{Kind: probe.KindTCP, Host: "fe80::1%eth0", Port: "22"}, "tcp://[fe80::1%eth0]:22"},
		{"tcp final slash dropped", "tcp://db.internal:5432/", probe.Target{Kind: probe.KindTCP, Host: "db.internal", Port: "5432"}, "tcp://db.internal:5432"},
		{"tcp upper-case scheme", "TCP://db.internal:1", probe.Target{Kind: probe.KindTCP, Host: "db.internal", Port: "1"}, "tcp://db.internal:1"},
		{"tcp highest port", "tcp://db.internal:65535", probe.Target{Kind: probe.KindTCP, Host: "db.internal", Port: "65535"}, "tcp://db.internal:65535"},

		// tls://
		{"tls host name", "tls://example.com:443", probe.Target{Kind: probe.KindTLS, Host: "example.com", Port: "443"}, "tls://example.com:443"},
		{"tls IPv6", "tls://[2001:db8::1]:853", probe.Target{Kind: probe.KindTLS, Host: "2001:db8::1", Port: "853"}, "tls://[2001:db8::1]:853"},

		// http:// and https://
		{"http host", "http://example.com", probe.Target{Kind: probe.KindHTTP, Host: "example.com"}, "http://example.com"},
		{"http port path and query", "http://example.com:8080/health?x=1&y=2", probe.Target{Kind: probe.KindHTTP, Host: "example.com", Port: "8080"}, "http://example.com:8080/health?x=1&y=2"},
		{"https path", "https://registry.internal/health", probe.Target{Kind: probe.KindHTTPS, Host: "registry.internal"}, "https://registry.internal/health"},
		{"https upper-case scheme", "HTTPS://registry.internal/a%2Fb?q", probe.Target{Kind: probe.KindHTTPS, Host: "registry.internal"}, "https://registry.internal/a%2Fb?q"},
		{"https IPv6 and port", "https://[2001:db8::1]:8443/ready", probe.Target{Kind: probe.KindHTTPS, Host: "2001:db8::1", Port: "8443"}, "https://[2001:db8::1]:8443/ready"},
		{"http IPv4", "http://192.0.2.1/", probe.Target{Kind: probe.KindHTTP, Host: "192.0.2.1"}, "http://192.0.2.1/"},
		{"http IPv6 with zone", "http://[fe80::1%25eth0]:8080/", probe.Target{Kind: probe.KindHTTP, Host: "fe80::1%eth0", Port: "8080"}, "http://[fe80::1%25eth0]:8080/"},

		// icmp://
		{"icmp IPv4", "icmp://192.0.2.1", probe.Target{Kind: probe.KindICMP, Host: "192.0.2.1"}, "icmp://192.0.2.1"},
		{"icmp host name", "icmp://gateway.internal", probe.Target{Kind: probe.KindICMP, Host: "gateway.internal"}, "icmp://gateway.internal"},
		{"icmp IPv6", "icmp://[2001:db8::1]", probe.Target{Kind: probe.KindICMP, Host: "2001:db8::1"}, "icmp://[2001:db8::1]"},
		{"icmp IPv6 without brackets", "icmp://2001:db8::1", probe.Target{Kind: probe.KindICMP, Host: "2001:db8::1"}, "icmp://[2001:db8::1]"},
		{"icmp final slash dropped", "icmp://192.0.2.1/", probe.Target{Kind: probe.KindICMP, Host: "192.0.2.1"}, "icmp://192.0.2.1"},
	}
}

// validParamCases are targets with parameters that Parse accepts.
func validParamCases() []validTargetCase {
	ip := netip.MustParseAddr
	type P = probe.Params
	tcp := func(p P) probe.Target {
		return probe.Target{Kind: probe.KindTCP, Host: "db.internal", Port: "5432", Params: p}
	}
	dnsAddr := func(p P) probe.Target {
		return probe.Target{Kind: probe.KindDNS, Name: "vpn.internal.", QType: probe.QTypeAddress, Params: p}
	}
	http := func(kind probe.Kind, host string, p P) probe.Target {
		return probe.Target{Kind: kind, Host: host, Params: p}
	}
	return []validTargetCase{
		// via=, src=, family=
		{"link family", "link:eth0?family=6", probe.Target{Kind: probe.KindLink, Iface: "eth0", Params: P{Family: 6}}, "link:eth0?family=6"},
		{"link any family", "link:any?FAMILY=4", probe.Target{Kind: probe.KindLink, Iface: probe.LinkAny, Params: P{Family: 4}}, "link:any?family=4"},
		{"tcp via", "tcp://db.internal:5432?via=eth1", tcp(P{Via: "eth1"}), "tcp://db.internal:5432?via=eth1"},
		{"tcp via after a slash", "tcp://db.internal:5432/?via=eth1", tcp(P{Via: "eth1"}), "tcp://db.internal:5432?via=eth1"},
		{"tcp via of 15 bytes", "tcp://db.internal:5432?via=abcdefghijklmno", tcp(P{Via: "abcdefghijklmno"}), "tcp://db.internal:5432?via=abcdefghijklmno"},
		{"tcp src IPv4", "tcp://db.internal:5432?src=10.0.0.2", tcp(P{Src: ip("10.0.0.2")}), "tcp://db.internal:5432?src=10.0.0.2"},
		{"tcp src IPv6 canonical", "tcp://db.internal:5432?src=FD00:0::2", tcp(P{Src: ip("fd00::2")}), "tcp://db.internal:5432?src=fd00::2"},
		{"tcp all three in canonical order", "tcp://db.internal:5432?src=fd00::2;via=wg0&family=6", tcp(P{Via: "wg0", Src: ip("fd00::2"), Family: 6}), "tcp://db.internal:5432?family=6&via=wg0&src=fd00::2"},
		{"tcp IPv6 literal and family 6", "tcp://[2001:db8::1]:443?family=6", probe.Target{Kind: probe.KindTCP, Host: "2001:db8::1", Port: "443", Params: P{Family: 6}}, "tcp://[2001:db8::1]:443?family=6"},
		{"tcp escaped via", "tcp://db.internal:5432?via=e%74h1", tcp(P{Via: "eth1"}), "tcp://db.internal:5432?via=eth1"},
		{"tcp via with a percent sign", "tcp://db.internal:5432?via=a%25b", tcp(P{Via: "a%b"}), "tcp://db.internal:5432?via=a%25b"},
		{"tls via and ca", "tls://example.com:443?ca=/etc/ssl/private-ca.pem&via=eth1", probe.Target{Kind: probe.KindTLS, Host: "example.com", Port: "443", Params: P{Via: "eth1", CA: "/etc/ssl/private-ca.pem"}}, "tls://example.com:443?ca=/etc/ssl/private-ca.pem&via=eth1"},
		{"icmp family and src", "icmp://gateway.internal?family=4&src=192.0.2.2", probe.Target{Kind: probe.KindICMP, Host: "gateway.internal", Params: P{Family: 4, Src: ip("192.0.2.2")}}, "icmp://gateway.internal?family=4&src=192.0.2.2"},
		{"icmp IPv6 via", "icmp://[2001:db8::1]?via=eth0", probe.Target{Kind: probe.KindICMP, Host: "2001:db8::1", Params: P{Via: "eth0"}}, "icmp://[2001:db8::1]?via=eth0"},
		{"dns via", "dns:vpn.internal?via=tun0", dnsAddr(P{Via: "tun0"}), "dns:vpn.internal?via=tun0"},
		{"dns server family", "dns://ns.internal/vpn.internal?family=6", probe.Target{Kind: probe.KindDNS, Server: "ns.internal:53", Name: "vpn.internal.", QType: probe.QTypeAddress, Params: P{Family: 6}}, "dns://ns.internal/vpn.internal?family=6"},

		// answer=
		{"dns answer an IPv4 address", "dns:vpn.internal?answer=10.8.0.1", dnsAddr(P{Answer: "10.8.0.1"}), "dns:vpn.internal?answer=10.8.0.1"},
		{"dns answer an IPv6 address", "dns:vpn.internal?answer=FD00::0:1", dnsAddr(P{Answer: "fd00::1"}), "dns:vpn.internal?answer=fd00::1"},
		{"dns answer an IPv4-mapped address", "dns:vpn.internal?answer=::ffff:10.8.0.1", dnsAddr(P{Answer: "::ffff:10.8.0.1"}), "dns:vpn.internal?answer=::ffff:10.8.0.1"},
		{"dns answer and family agree", "dns:vpn.internal?answer=fd00::1&family=6", dnsAddr(P{Answer: "fd00::1", Family: 6}), "dns:vpn.internal?answer=fd00::1&family=6"},
		{"dns answer A", "dns:vpn.internal?type=A&answer=10.8.0.1", probe.Target{Kind: probe.KindDNS, Name: "vpn.internal.", QType: dns.TypeA, Params: P{Answer: "10.8.0.1"}}, "dns:vpn.internal?type=A&answer=10.8.0.1"},
		{"dns answer before type", "dns:vpn.internal?answer=FD00::0:1;type=AAAA", probe.Target{Kind: probe.KindDNS, Name: "vpn.internal.", QType: dns.TypeAAAA, Params: P{Answer: "fd00::1"}}, "dns:vpn.internal?type=AAAA&answer=fd00::1"},
		{"dns answer CNAME", "dns:vpn.internal?type=CNAME&answer=Gw.Internal", probe.Target{Kind: probe.KindDNS, Name: "vpn.internal.", QType: dns.TypeCNAME, Params: P{Answer: "gw.internal."}}, "dns:vpn.internal?type=CNAME&answer=gw.internal."},
		{"dns answer TXT with spaces", "dns:vpn.internal?type=TXT&answer=v%3D1%20ok", probe.Target{Kind: probe.KindDNS, Name: "vpn.internal.", QType: dns.TypeTXT, Params: P{Answer: "v=1 ok"}}, "dns:vpn.internal?type=TXT&answer=v=1%20ok"},
		{"dns answer and via", "dns://10.8.0.53/vpn.internal?via=tun0&answer=10.8.0.1", probe.Target{Kind: probe.KindDNS, Server: "10.8.0.53:53", Name: "vpn.internal.", QType: probe.QTypeAddress, Params: P{Via: "tun0", Answer: "10.8.0.1"}}, "dns://10.8.0.53/vpn.internal?answer=10.8.0.1&via=tun0"},

		// status=, body=, proxy=, ca= and the URL's own query
		{"http status", "http://example.com/generate_204?status=204", http(probe.KindHTTP, "example.com", P{Status: []probe.StatusRange{{204, 204}}}), "http://example.com/generate_204?status=204"},
		{"http status list", "http://example.com/?status=200-299,301,204-204", http(probe.KindHTTP, "example.com", P{Status: []probe.StatusRange{{200, 299}, {301, 301}, {204, 204}}}), "http://example.com/?status=200-299,301,204"},
		{"http own query kept, in order", "http://example.com/health?a=1&status=204&b=2", http(probe.KindHTTP, "example.com", P{Status: []probe.StatusRange{{204, 204}}}), "http://example.com/health?a=1&b=2&status=204"},
		{"http upper-case names are the server's", "http://example.com/?Status=1&VIA=x", http(probe.KindHTTP, "example.com", P{}), "http://example.com/?Status=1&VIA=x"},
		{"http dns parameter names are the server's", "http://example.com/?type=A&answer=1", http(probe.KindHTTP, "example.com", P{}), "http://example.com/?type=A&answer=1"},
		{"http body", "http://example.com/?body=%5ESuccess$", http(probe.KindHTTP, "example.com", P{Body: "^Success$"}), "http://example.com/?body=%5ESuccess$"},
		{"http body with plus, ampersand and space", "http://example.com/?body=a+b%26c%20d", http(probe.KindHTTP, "example.com", P{Body: "a+b&c d"}), "http://example.com/?body=a+b%26c%20d"},
		{"http proxy none", "http://example.com/?proxy=none", http(probe.KindHTTP, "example.com", P{Proxy: probe.ProxyNone}), "http://example.com/?proxy=none"},
		{"http proxy env is the default", "http://example.com/?proxy=env", http(probe.KindHTTP, "example.com", P{}), "http://example.com/"},
		{"http proxy URL", "http://example.com/?proxy=HTTP://proxy.internal:3128/", http(probe.KindHTTP, "example.com", P{Proxy: "http://proxy.internal:3128"}), "http://example.com/?proxy=http://proxy.internal:3128"},
		{"https proxy with credentials", "https://example.com/?proxy=http://u:p@[fd00::3]:3128", http(probe.KindHTTPS, "example.com", P{Proxy: "http://u:p@[fd00::3]:3128"}), "https://example.com/?proxy=http://u:p@[fd00::3]:3128"},
		{"https ca", "https://example.com/?ca=ca.pem", http(probe.KindHTTPS, "example.com", P{CA: "ca.pem"}), "https://example.com/?ca=ca.pem"},
		{"https all of them", "https://example.com/x?src=10.0.0.2&k=v&family=4&via=eth1&ca=/ca.pem&proxy=none&body=ok&status=200", http(probe.KindHTTPS, "example.com", P{Via: "eth1", Src: ip("10.0.0.2"), Family: 4, Status: []probe.StatusRange{{200, 200}}, Body: "ok", Proxy: probe.ProxyNone, CA: "/ca.pem"}), "https://example.com/x?k=v&status=200&body=ok&proxy=none&ca=/ca.pem&family=4&via=eth1&src=10.0.0.2"},
		{"clock synced", "clock:synced", probe.Target{Kind: probe.KindClock}, "clock:synced"},
		{"clock upper-case scheme", "CLOCK:synced", probe.Target{Kind: probe.KindClock}, "clock:synced"},
		{"http only parameters leave no query", "http://example.com/?&status=204", http(probe.KindHTTP, "example.com", P{Status: []probe.StatusRange{{204, 204}}}), "http://example.com/?status=204"},
	}
}

// invalidParamCases are targets whose parameters Parse rejects: unknown,
// repeated, of another kind, malformed.
func invalidParamCases() []invalidTargetCase {
	return []invalidTargetCase{
		// unknown
		{"link unknown", "link:eth0?via=eth1", "a link target takes no via= parameter (via= is for dns, tcp, http, https, tls or icmp targets)"},
		{"link unknown name", "link:eth0?speed=1000", `unknown query parameter "speed" (a link target takes family=)`},
		{"route any parameter", "route:default?family=4", "a route target takes no family= parameter"},
		{"route unknown name", "route:10.0.0.1?x", `unknown query parameter "x" (a route target takes none)`},
		{"icmp unknown", "icmp://192.0.2.1?ttl=3", `unknown query parameter "ttl" (an icmp target takes family=, via= or src=)`},
		{"dns unknown lists answer", "dns:x.internal?expect=1", `unknown query parameter "expect" (a dns target takes type=, class=, answer=, family=, via= or src=)`},
		{"dns mistyped answer", "dns:x.internal?ansver=1", `unknown query parameter "ansver" (did you mean answer=?)`},
		{"tcp swapped letters", "tcp://db:5432?famliy=6", `unknown query parameter "famliy" (did you mean family=?)`},
		// wrong kind
		{"tcp answer", "tcp://db.internal:5432?answer=10.0.0.1", "a tcp target takes no answer= parameter (answer= is for dns targets)"},
		{"tcp status", "tcp://db.internal:5432?status=200", "a tcp target takes no status= parameter (status= is for http or https targets)"},
		{"tcp ca", "tcp://db.internal:5432?ca=ca.pem", "a tcp target takes no ca= parameter (ca= is for https or tls targets)"},
		{"tls proxy", "tls://example.com:443?proxy=none", "a tls target takes no proxy= parameter"},
		{"dns body", "dns:x.internal?body=ok", "a dns target takes no body= parameter"},
		{"http ca", "http://example.com/?ca=ca.pem", "an http target takes no ca= parameter (ca= is for https or tls targets)"},
		{"icmp proxy", "icmp://192.0.2.1?proxy=none", "an icmp target takes no proxy= parameter"},
		// repeated
		{"tcp via twice", "tcp://db.internal:5432?via=eth0&via=eth1", "via= given twice"},
		{"tcp via twice, differently written", "tcp://db.internal:5432?via=eth0;VIA=eth0", "via= given twice"},
		{"link family twice", "link:any?family=4&family=4", "family= given twice"},
		{"http status twice", "http://example.com/?status=200&status=204", "status= given twice"},
		{"dns answer twice", "dns:x.internal?answer=10.0.0.1&answer=10.0.0.2", "answer= given twice"},
		// malformed
		{"via empty", "tcp://db.internal:5432?via=", "via=: empty interface name"},
		{"via too long", "tcp://db.internal:5432?via=abcdefghijklmnop", `via=: interface name "abcdefghijklmnop" is longer than 15 bytes`},
		{"via slash", "dns:x.internal?via=a/b", `via=: "a/b" is not a valid interface name`},
		{"via colon", "icmp://192.0.2.1?via=eth0:1", `via=: "eth0:1" is not a valid interface name`},
		{"via escaped space", "tcp://db.internal:5432?via=a%20b", `via=: "a b" is not a valid interface name`},
		{"via bad escape", "tcp://db.internal:5432?via=a%zz", `via=: bad percent-escape in "a%zz"`},
		{"src not an address", "tcp://db.internal:5432?src=eth0", `src=: "eth0" is not an IP address`},
		{"src prefix", "tcp://db.internal:5432?src=10.0.0.2/24", `src=: "10.0.0.2/24" is not an IP address`},
		{"src zone", "tcp://db.internal:5432?src=fe80::1%25eth0", `src=: source address "fe80::1%eth0" has a zone: give the interface with via=`},
		{"src mapped", "tcp://db.internal:5432?src=::ffff:10.0.0.2", "src=: source address \"::ffff:10.0.0.2\" is IPv4-mapped: write it as 10.0.0.2"},
		{"src unspecified", "tcp://db.internal:5432?src=0.0.0.0", "src=: 0.0.0.0 cannot be a source address"},
		{"src multicast", "tcp://db.internal:5432?src=ff02::1", "src=: ff02::1 cannot be a source address"},
		{"family 5", "tcp://db.internal:5432?family=5", `family=: family "5" is neither 4 nor 6`},
		{"family ipv4", "link:any?family=ipv4", `family=: family "ipv4" is neither 4 nor 6`},
		{"family empty", "tcp://db.internal:5432?family", `family=: family "" is neither 4 nor 6`},
		{"family and src disagree", "tcp://db.internal:5432?family=6&src=10.0.0.2", "src=10.0.0.2 is an IPv4 address, but family=6"},
		{"family and host disagree", "tcp://10.0.0.1:5432?family=6", "10.0.0.1 is an IPv4 address, but family=6"},
		{"src and host disagree", "http://[fd00::1]/?src=10.0.0.2", "fd00::1 is an IPv6 address, but src=10.0.0.2 is IPv4"},
		{"dns server and family disagree", "dns://10.0.0.53/x.internal?family=6", "10.0.0.53 is an IPv4 address, but family=6"},
		{"status empty", "http://example.com/?status=", "status=: empty status list"},
		{"status word", "http://example.com/?status=ok", `status=: "ok" is neither a status from 100 to 599 nor a range of them`},
		{"status 600", "http://example.com/?status=600", `status=: "600" is neither a status from 100 to 599`},
		{"status 99", "http://example.com/?status=099", `status=: "099" is neither a status`},
		{"status reversed range", "https://example.com/?status=299-200", `status=: range "299-200" ends before it starts`},
		{"status empty item", "https://example.com/?status=200,", `status=: "" is neither a status`},
		{"status open range", "https://example.com/?status=200-", `status=: "200-" is neither a status`},
		{"body empty", "http://example.com/?body=", "body=: empty pattern"},
		{"body bad regex", "http://example.com/?body=a(b", "body=: bad regular expression: missing closing ): `a(b`"},
		{"body bad repeat", "http://example.com/?body=*x", "body=: bad regular expression: missing argument to repetition operator"},
		{"proxy word", "http://example.com/?proxy=auto", `proxy=: "auto" is neither env, none nor a proxy's URL`},
		{"proxy socks", "http://example.com/?proxy=socks5://p:1080", `proxy=: proxy scheme "socks5" is not supported (want http:// or https://)`},
		{"proxy no host", "https://example.com/?proxy=http://:3128", "proxy=: proxy empty host"},
		{"proxy bad port", "https://example.com/?proxy=http://p:0", `proxy=: proxy port "0" is not a number from 1 to 65535`},
		{"proxy path", "https://example.com/?proxy=http://p:3128/x", "proxy=: a proxy's URL has nothing after the host and port"},
		{"ca empty", "https://example.com/?ca=", "ca=: empty file name"},
		{"answer empty", "dns:x.internal?answer=", "answer=: empty answer"},
		{"answer not an address", "dns:x.internal?answer=gw.internal", `answer=: "gw.internal" is not an IP address (without type=, the answer is an address)`},
		{"answer not an address of type A", "dns:x.internal?type=A&answer=gw.internal", `answer=: "gw.internal" is not an IP address`},
		{"answer with a zone", "dns:x.internal?answer=fe80::1%25eth0", `answer=: "fe80::1%eth0" is not an IP address`},
		{"answer and family disagree", "dns:x.internal?answer=fd00::1&family=4", "answer=fd00::1 is an IPv6 address, but family=4"},
		{"family and answer disagree", "dns:x.internal?family=6&answer=10.0.0.1", "answer=10.0.0.1 is an IPv4 address, but family=6"},
		{"answer of the other family", "dns:x.internal?type=AAAA&answer=10.0.0.1", "answer=: 10.0.0.1 is not an address of type AAAA"},
		{"answer IPv6 for A", "dns:x.internal?type=A&answer=fd00::1", "answer=: fd00::1 is not an address of type A"},
		{"answer bad name", "dns:x.internal?type=CNAME&answer=a..b", `answer=: DNS name "a..b" has an empty label`},
		{"clock empty", "clock:", `unknown clock state "" (want clock:synced)`},
		{"clock other state", "clock:SYNCED", `unknown clock state "SYNCED" (want clock:synced)`},
		{"clock parameter", "clock:synced?via=eth0", "a clock target takes no via= parameter"},
		{"query fragment", "tcp://db.internal:5432?via=eth0#x", `unexpected "#x" after the query (a tcp target has no fragment)`},
	}
}

// invalidTargetCase is a target that Parse rejects, with a distinctive part
// of the reason it must give.
type invalidTargetCase struct {
	name string
	in   string
	want string
}

func invalidTargetCases() []invalidTargetCase {
	long64 := strings.Repeat("a", 64)
	name254 := strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("b", 62)
	return []invalidTargetCase{
		// scheme
		{"empty", "", "missing scheme"},
		{"missing scheme", "example.com", "missing scheme"},
		{"empty scheme", ":example.com", "missing scheme"},
		{"unknown scheme", "ftp://example.com", `unknown scheme "ftp" (want link, route, dns, tcp, http, https, tls, icmp or clock)`},
		{"mistyped scheme", "tpc://db.internal:5432", `unknown scheme "tpc" (did you mean tcp://db.internal:5432?)`},
		{"mistyped scheme without authority", "rotue:default", `unknown scheme "rotue" (did you mean route:default?)`},
		{"host and port without scheme", "db.internal:5432", `missing scheme (did you mean tcp://db.internal:5432?)`},

		// link:
		{"link empty", "link:", "empty interface name"},
		{"link name too long", "link:abcdefghijklmnop", "longer than 15 bytes"},
		{"link name with slash", "link:eth0/1", `"eth0/1" is not a valid interface name`},
		{"link name with colon", "link:eth0:1", `"eth0:1" is not a valid interface name`},
		{"link name with space", "link:eth 0", "is not a valid interface name"},
		{"link name dot", "link:.", "is not a valid interface name"},
		{"link name dot dot", "link:..", "is not a valid interface name"},

		// route:
		{"route empty", "route:", "empty route"},
		{"route unknown selector", "route:gateway", `"gateway" is neither default`},
		{"route prefix", "route:192.0.2.0/24", "is neither default"},
		{"route selector upper case", "route:DEFAULT", "is neither default"},
		{"route zone", "route:fe80::1%eth0", "cannot have a zone"},

		// dns:
		{"dns empty name", "dns:", "empty DNS name"},
		{"dns empty name with query", "dns:?type=A", "empty DNS name"},
		{"dns name over 253 bytes", "dns:" + name254, "254 bytes long, over the limit of 253"},
		{"dns label over 63 bytes", "dns:" + long64 + ".com", "64 bytes long, over the limit of 63"},
		{"dns empty label", "dns:a..example.com", "has an empty label"},
		{"dns leading dot", "dns:.example.com", "has an empty label"},
		{"dns double dot", "dns:..", "has an empty label"},
		{"dns space in name", "dns:exa%20mple.com", "a character that is not allowed"},
		{"dns slash in name", "dns:/example.com", "a character that is not allowed"},
		{"dns bad percent escape", "dns:exa%zzmple.com", `name "exa%zzmple.com": bad percent-escape`},
		{"dns unknown type", "dns:example.com?type=BOGUS", `unknown query type "BOGUS"`},
		{"dns empty type", "dns:example.com?type=", "empty query type"},
		{"dns type without value", "dns:example.com?type", "empty query type"},
		{"dns type TYPE0", "dns:example.com?type=TYPE0", `unknown query type "TYPE0"`},
		{"dns type TYPE65536", "dns:example.com?type=TYPE65536", `unknown query type "TYPE65536"`},
		{"dns type TYPE65535 reserved", "dns:example.com?type=TYPE65535", `unknown query type "TYPE65535"`},
		{"dns type None", "dns:example.com?type=None", `unknown query type "None"`},
		{"dns type Reserved", "dns:example.com?type=Reserved", `unknown query type "Reserved"`},
		{"dns unknown parameter", "dns:example.com?foo=bar", `unknown query parameter "foo"`},
		{"dns empty parameter", "dns:example.com?=A", `unknown query parameter ""`},
		{"dns type twice", "dns:example.com?type=AAAA&type=A", `type= given twice`},
		{"dns class twice", "dns://10.213.0.1/example.com?class=IN;class=IN", `class= given twice`},
		{"dns unsupported class", "dns:example.com?class=CH", `unsupported query class "CH"`},
		{"dns unsupported class after type", "dns:example.com?type=TXT;class=ANY", `unsupported query class "ANY"`},

		// dns://SERVER/NAME
		{"dns server without name", "dns://192.0.2.53", "missing /NAME after the server"},
		{"dns server empty name", "dns://192.0.2.53/", "empty DNS name"},
		{"dns server empty", "dns:///example.com", "server: empty host"},
		{"dns server port 0", "dns://192.0.2.53:0/example.com", `port "0" is not a number from 1 to 65535`},
		{"dns server port 65536", "dns://192.0.2.53:65536/example.com", `port "65536" is not a number from 1 to 65535`},
		{"dns server empty port", "dns://192.0.2.53:/example.com", "empty port"},
		{"dns server IPv6 without brackets", "dns://2001:db8::53/example.com", "must be in brackets"},
		{"dns server missing bracket", "dns://[2001:db8::53/example.com", "missing ']'"},
		{"dns server IPv4 in brackets", "dns://[192.0.2.53]/example.com", "is not a valid IPv6 address"},
		{"dns server bad host name", "dns://ns..example/example.com", "has an empty label"},
		{"dns server bracket in host name", "dns://0]/example.com", `host "0]" has a character that is not allowed: ']'`},
		{"dns server bracket in IPv6 zone", "dns://[::1%[]/example.com", `host "::1%[" has a character that is not allowed: '['`},

		// tcp:// and tls://
		{"tcp empty", "tcp://", "empty host"},
		{"tcp empty host", "tcp://:80", "empty host"},
		{"tcp missing port", "tcp://db.internal", "missing port"},
		{"tcp IPv6 missing port", "tcp://[2001:db8::1]", "missing port"},
		{"tcp empty port", "tcp://db.internal:", "empty port"},
		{"tcp port 0", "tcp://db.internal:0", `port "0" is not a number from 1 to 65535`},
		{"tcp port 65536", "tcp://db.internal:65536", `port "65536" is not a number from 1 to 65535`},
		{"tcp port name", "tcp://db.internal:postgres", `port "postgres" is not a number from 1 to 65535`},
		{"tcp port leading zero", "tcp://db.internal:080", `port "080" is not a number`},
		{"tcp port negative", "tcp://db.internal:-1", `port "-1" is not a number`},
		{"tcp IPv6 without brackets", "tcp://2001:db8::1:80", "must be in brackets"},
		{"tcp IPv4 in brackets", "tcp://[192.0.2.1]:80", "is not a valid IPv6 address"},
		{"tcp junk after bracket", "tcp://[2001:db8::1]x:80", "after ']'"},
		{"tcp path", "tcp://db.internal:5432/path", `unexpected "/path" after the host (a tcp target has no path or fragment)`},
		{"tcp unknown parameter", "tcp://db.internal:5432?x=1", `unknown query parameter "x" (a tcp target takes family=, via= or src=)`},
		{"tcp fragment", "tcp://db.internal:5432#x", "a tcp target has no path or fragment"},
		{"tcp user info", "tcp://user@db.internal:5432", "a user name is not allowed in a tcp target"},
		{"tcp without slashes", "tcp:db.internal:5432", "want tcp://HOST:PORT"},
		{"tcp bad host name", "tcp://db..internal:5432", "has an empty label"},
		{"tcp bracket in host name", "tcp://db]internal:5432", "has a character that is not allowed: ']'"},
		{"tls missing port", "tls://example.com", "missing port"},
		{"tls port 0", "tls://example.com:0", `port "0" is not a number from 1 to 65535`},
		{"tls port 65536", "tls://example.com:65536", `port "65536" is not a number from 1 to 65535`},
		{"tls port name", "tls://example.com:https", `port "https" is not a number`},
		{"tls path", "tls://example.com:443/x", "a tls target has no path or fragment"},
		{"tls user info", "tls://u:p@example.com:443", "a user name is not allowed in a tls target"},
		{"tls without slashes", "tls:example.com:443", "want tls://HOST:PORT"},

		// icmp://
		{"icmp empty", "icmp://", "empty host"},
		{"icmp port", "icmp://192.0.2.1:7", "an icmp target has no port"},
		{"icmp host name and port", "icmp://gateway.internal:7", "an icmp target has no port"},
		{"icmp IPv6 and port", "icmp://[2001:db8::1]:7", "an icmp target has no port"},
		{"icmp empty brackets", "icmp://[]", "is not a valid IPv6 address"},
		{"icmp IPv4 in brackets", "icmp://[192.0.2.1]", "is not a valid IPv6 address"},
		{"icmp bad IPv6", "icmp://[2001:db8::g]", "is not a valid IPv6 address"},
		{"icmp unclosed bracket", "icmp://[", "has a character that is not allowed: '['"},
		{"icmp path", "icmp://192.0.2.1/x", "an icmp target has no path or fragment"},
		{"icmp user info", "icmp://root@192.0.2.1", "a user name is not allowed in an icmp target"},
		{"icmp without slashes", "icmp:192.0.2.1", "want icmp://HOST"},

		// http:// and https://
		{"http user info", "http://user:secret@example.com/", "credentials in the URL are not supported"},
		{"https user name", "https://user@example.com/", "credentials in the URL are not supported"},
		{"http without slashes", "http:example.com", "want http://HOST[:PORT]/PATH"},
		{"http one slash", "http:/example.com", "want http://HOST[:PORT]/PATH"},
		{"http empty host", "http:///health", "empty host"},
		{"https empty host with port", "https://:443/", "empty host"},
		{"http empty port", "http://example.com:/", "empty port"},
		{"http port 0", "http://example.com:0/", `port "0" is not a number from 1 to 65535`},
		{"https port 65536", "https://example.com:65536/", `port "65536" is not a number from 1 to 65535`},
		{"http fragment", "http://example.com/#top", "a URL fragment is meaningless here"},
		{"http bad host name", "http://exa..mple.com/", "has an empty label"},
		{"http space in host", "http://exa mple.com/", "invalid character"},
		{"http missing bracket", "http://[2001:db8::1/", "missing ']'"},
		{"http zone not printable in a URL", "http://[fe80::1%25eth\x920]/", `host "fe80::1%eth\x920" has a character that cannot be written in a URL`},
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range append(validTargetCases(), validParamCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := probe.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", tc.in, err)
			}
			if s := got.String(); s != tc.canon {
				t.Errorf("Parse(%q).String(): got %q, want %q", tc.in, s, tc.canon)
			}
			if (got.URL != nil) != (got.Kind == probe.KindHTTP || got.Kind == probe.KindHTTPS) {
				t.Errorf("Parse(%q).URL: got %v, want a URL exactly for http and https", tc.in, got.URL)
			}
			got.URL = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q): got %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTargetRoundTrip(t *testing.T) {
	for _, tc := range append(validTargetCases(), validParamCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			first, err := probe.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", tc.in, err)
			}
			s := first.String()
			again, err := probe.Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q) of the canonical form of %q: got error %v, want none", s, tc.in, err)
			}
			if got, want := again.String(), s; got != want {
				t.Errorf("Parse(%q).String(): got %q, want %q", s, got, want)
			}
			if first.URL != nil || again.URL != nil {
				if first.URL == nil || again.URL == nil || first.URL.String() != again.URL.String() {
					t.Errorf("Parse(%q).URL: got %v, want %v", s, again.URL, first.URL)
				}
				first.URL, again.URL = nil, nil
			}
			if !reflect.DeepEqual(again, first) {
				t.Errorf("Parse(%q): got %+v, want %+v", s, again, first)
			}
		})
	}
}

func TestParseTargetInvalid(t *testing.T) {
	for _, tc := range append(invalidTargetCases(), invalidParamCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := probe.Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q): got %+v (%q) and no error, want an error containing %q", tc.in, got, got.String(), tc.want)
			}
			var pe *probe.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): got error %T %v, want a *probe.ParseError", tc.in, err, err)
			}
			if pe.Target != tc.in {
				t.Errorf("Parse(%q): got ParseError.Target %q, want %q", tc.in, pe.Target, tc.in)
			}
			msg := err.Error()
			if quoted := fmt.Sprintf("%q", tc.in); !strings.Contains(msg, quoted) {
				t.Errorf("Parse(%q): got message %q, want it to quote the target as %s", tc.in, msg, quoted)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("Parse(%q): got message %q, want it to contain %q", tc.in, msg, tc.want)
			}
			if !reflect.DeepEqual(got, probe.Target{}) {
				t.Errorf("Parse(%q): got %+v with the error, want the zero Target", tc.in, got)
			}
		})
	}
}

func TestParseAllTargets(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string // canonical forms
		wantErr string
	}{
		{"none", nil, []string{}, ""},
		{"default policy", []string{"link:any", "route:default", "dns:."}, []string{"link:any", "route:default", "dns:."}, ""},
		{"order kept", []string{"tcp://db.internal:5432", "DNS:api.example.com."}, []string{"tcp://db.internal:5432", "dns:api.example.com"}, ""},
		{"first malformed one named", []string{"link:any", "tcp://db.internal", "ftp://x"}, nil, `invalid target "tcp://db.internal": missing port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := probe.ParseAll(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseAll(%q): got error %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				if ts != nil {
					t.Errorf("ParseAll(%q): got %v with the error, want nil", tc.in, ts)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAll(%q): got error %v, want none", tc.in, err)
			}
			got := make([]string, len(ts))
			for i, x := range ts {
				got[i] = x.String()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseAll(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	e := &probe.ParseError{Target: "tcp://db", Reason: "missing port (want db:PORT)"}
	want := `invalid target "tcp://db": missing port (want db:PORT)`
	if got := e.Error(); got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestTargetEndpoint(t *testing.T) {
	tests := []struct {
		name, in, wantHost, wantPort string
	}{
		{"tcp", "tcp://db.internal:5432", "db.internal", "5432"},
		{"tls IPv6", "tls://[2001:db8::1]:853", "2001:db8::1", "853"},
		{"http default port", "http://example.com/", "example.com", "80"},
		{"https default port", "https://example.com/", "example.com", "443"},
		{"https explicit port", "https://example.com:8443/", "example.com", "8443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := probe.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): got error %v, want none", tc.in, err)
			}
			host, port := tg.Endpoint()
			if host != tc.wantHost || port != tc.wantPort {
				t.Errorf("Parse(%q).Endpoint(): got %q, %q, want %q, %q", tc.in, host, port, tc.wantHost, tc.wantPort)
			}
		})
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, tc := range append(validTargetCases(), validParamCases()...) {
		f.Add(tc.in)
	}
	for _, tc := range append(invalidTargetCases(), invalidParamCases()...) {
		f.Add(tc.in)
	}
	for _, s := range []string{
		"dns:a%25b",
		"dns:a%2Eb",
		"dns:%2E",
		"dns://[fe80::1%eth0]/x",
		"dns://[::ffff:192.0.2.1]:53/x?type=TYPE65535",
		"dns:x?type=ANY;class=IN&type=CAA",
		"dns:x?;;&&",
		"dns:x?type=A=B",
		"dns:x?answer=::ffff:10.0.0.1&family=4",
		"dns:x?family=6&answer=10.0.0.1",
		"dns:x?answer=fd00::1&type=AAAA&family=6",
		"dns:.?answer=fd00::1",
		"dns://a/b/c",
		"dns://a?b/c",
		"icmp://[",
		"icmp://[fe80::1%25eth0]",
		"icmp://fe80::1%eth0",
		"tcp://[::1]:",
		"tcp://[::1]:80:80",
		"tcp://a:1@b:2",
		"http://[fe80::1%25eth0]:80/",
		"http://a%25b/",
		"http://x/?",
		"https://x/a b",
		"http://x/%zz",
		"http://x:80:80/",
		"Http://X",
		"link:\x00",
		"route:1.2.3.4%x",
		"dns:\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := probe.Parse(raw)
		if err != nil {
			var pe *probe.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): got error %T %v, want a *probe.ParseError", raw, err, err)
			}
			if quoted := fmt.Sprintf("%q", raw); !strings.Contains(err.Error(), quoted) {
				t.Fatalf("Parse(%q): got message %q, want it to contain %s", raw, err.Error(), quoted)
			}
			return
		}
		s := tg.String()
		again, err := probe.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) of the canonical form of %q: got error %v, want none", s, raw, err)
		}
		if got := again.String(); got != s {
			t.Fatalf("Parse(%q).String() of the canonical form of %q: got %q, want %q", s, raw, got, s)
		}
		if again.Kind != tg.Kind {
			t.Fatalf("Parse(%q).Kind of the canonical form of %q: got %q, want %q", s, raw, again.Kind, tg.Kind)
		}
		if tg.URL == nil {
			if !reflect.DeepEqual(again, tg) {
				t.Fatalf("Parse(%q) of the canonical form of %q: got %+v, want %+v", s, raw, again, tg)
			}
		}
	})
}

// TestHTTPRequestURL: netready's parameters are not sent; the server's are,
// as written.
func TestHTTPRequestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://example.com/health?a=1&status=204&b=%2F", "http://example.com/health?a=1&b=%2F"},
		{"https://example.com/?proxy=none&via=eth1", "https://example.com/"},
		{"https://example.com/?", "https://example.com/?"},
		{"http://example.com/x?Status=1&body=ok", "http://example.com/x?Status=1"},
	}
	for _, tc := range tests {
		tg, err := probe.Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): got error %v, want none", tc.in, err)
		}
		if got := tg.URL.String(); got != tc.want {
			t.Errorf("Parse(%q).URL: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseAllCA: ParseAll reads the file ca= names, and names the target
// and the parameter when it is missing or holds no certificate.
func TestParseAllCA(t *testing.T) {
	dir := t.TempDir()
	empty := dir + "/empty.pem"
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, in, want string }{
		{"missing", "https://example.com/?ca=" + dir + "/missing.pem", `invalid target "https://example.com/?ca=` + dir + `/missing.pem": ca=: open ` + dir + "/missing.pem: no such file or directory"},
		{"no certificate", "tls://example.com:443?ca=" + empty, "ca=: no PEM certificate in " + empty},
		{"a directory", "tls://example.com:443?ca=" + dir, "ca=: " + dir + " is not a regular file"},
		{"a device", "tls://example.com:443?ca=/dev/zero", "ca=: /dev/zero is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := probe.ParseAll([]string{"link:any", tc.in})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseAll(%q): got error %v, want one containing %q", tc.in, err, tc.want)
			}
		})
	}
}
