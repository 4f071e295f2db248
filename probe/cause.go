package probe

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// systemdResolved is the stub listener of systemd-resolved.
var systemdResolved = netip.MustParseAddr("127.0.0.53")

// loopbackHint is for a loopback address that is unreachable or silent
// while lo is down: the kernel then has no local route for it.
const loopbackHint = "the loopback interface is down: ip link set lo up"

// loopbackDown reports whether the loopback interface is known to be down.
// It asks the kernel, once, for a failure that already happened.
func loopbackDown() bool {
	lo, err := net.InterfaceByName("lo")
	return err == nil && lo.Flags&net.FlagUp == 0
}

// Cause is why a target fails, as one stable word of a small vocabulary:
// what JSON reports as "cause", what a hint is chosen by, what STATUS= and
// the journal say while wait waits. The words never change meaning; new
// ones may be added.
type Cause string

// The vocabulary. A cause names the first thing found broken on the way to
// the target, from the link out to the endpoint.
const (
	CauseNone Cause = "" // the target passes

	// The host's own link, addresses and routes.
	CauseNoLink             Cause = "no-link"            // no link of that name
	CauseLinkDown           Cause = "link-down"          // administratively down
	CauseNoCarrier          Cause = "no-carrier"         // up, but no carrier (cable, peer)
	CauseNoAddress          Cause = "no-address"         // no usable address (of the family needed)
	CauseAddressTentative   Cause = "address-tentative"  // IPv6 duplicate address detection still running
	CauseAddressDADFailed   Cause = "address-dad-failed" // IPv6 duplicate address detection failed: another host has it
	CauseNoRoute            Cause = "no-route"           // no route to the destination
	CauseGatewayUnreachable Cause = "gateway-unreachable"
	CauseHostUnreachable    Cause = "host-unreachable"  // an on-link host that does not answer ARP/ND, or a route that rejects it
	CauseNetlinkRefused     Cause = "netlink-refused"   // no netlink socket: a sandbox forbids AF_NETLINK
	CauseRouteBlackhole     Cause = "route-blackhole"   // a blackhole route swallows the destination (ip route get: EINVAL)
	CauseRouteProhibited    Cause = "route-prohibited"  // a prohibit route refuses it (EACCES)
	CauseRouteUnreachable   Cause = "route-unreachable" // an unreachable route rejects it (EHOSTUNREACH from the host itself)
	CauseLocalFirewall      Cause = "local-firewall"    // this host's firewall refused the send on the way out (EPERM)

	// What the network beyond the host says (ICMP errors, the path).
	CauseRouterUnreachable Cause = "router-unreachable" // a router on the way has no route onward (ICMP net/host unreachable from it)
	CauseRejected          Cause = "rejected"           // a firewall rejects: ICMP administratively prohibited / packet filtered
	CauseRoutingLoop       Cause = "routing-loop"       // ICMP time exceeded in transit
	CauseMTUBlackhole      Cause = "mtu-blackhole"      // small packets pass, large ones vanish with no "fragmentation needed"

	// Resolvers and names.
	CauseNoResolver          Cause = "no-resolver" // the resolver configuration cannot be read
	CauseResolverUnreachable Cause = "resolver-unreachable"
	CauseResolverRefused     Cause = "resolver-refused" // rcode REFUSED: the resolver runs and declines
	CauseResolverDown        Cause = "resolver-down"    // ICMP port unreachable: no resolver runs there
	CauseResolverTimeout     Cause = "resolver-timeout"
	CauseResolverServfail    Cause = "resolver-servfail"
	CauseResolverError       Cause = "resolver-error" // another rcode (FORMERR, NOTIMP ...), or a reply that does not make sense
	CauseNXDomain            Cause = "nxdomain"
	CauseNoRecords           Cause = "no-records" // NOERROR without an answer of the type asked
	CauseWrongAnswer         Cause = "wrong-answer"
	CauseResolverUpstream    Cause = "resolver-upstream" // the resolver cannot reach the authorities (EDE 22, 23)
	CauseDNSSECFailed        Cause = "dnssec-failed"     // DNSSEC validation failed (EDE 1-12)
	CauseDNSBlocked          Cause = "dns-blocked"       // the resolver blocks or filters the name by policy (EDE 15-17)

	// The endpoint.
	CausePortClosed       Cause = "port-closed" // TCP reset in answer to the SYN
	CauseFiltered         Cause = "filtered"    // no answer at all to the SYN
	CauseReset            Cause = "reset"       // connection reset or closed after it was established
	CauseTLSUntrusted     Cause = "tls-untrusted"
	CauseTLSClock         Cause = "tls-clock" // certificate not valid yet: the clock is likely wrong
	CauseTLSExpired       Cause = "tls-expired"
	CauseTLSNameMismatch  Cause = "tls-name-mismatch"
	CauseTLSFailed        Cause = "tls-failed" // another handshake failure: an alert, a peer that does not speak TLS
	CauseHTTPStatus       Cause = "http-status"
	CauseHTTPBody         Cause = "http-body"
	CauseCaptivePortal    Cause = "captive-portal"
	CauseProxyFailed      Cause = "proxy-failed"
	CauseICMPNotPermitted Cause = "icmp-not-permitted" // neither an unprivileged ICMP socket nor a raw one may be opened
	CauseClockUnsynced    Cause = "clock-unsynced"
	CauseResponseTooLarge Cause = "response-too-large" // the remote end sent more than a bound allows
	CauseTimeout          Cause = "timeout"            // the attempt ran out of time with no better explanation
	CauseOther            Cause = "other"              // an error no other word describes; its message says what
)

// Failure is why an attempt failed: its cause, the step that failed (a
// phase: "link", "route", "resolve", "query" (an exchange with a resolver),
// "answer" (a reply whose content fails), "connect", "tls", "request",
// "redirect", "echo") and what it concerns — an interface, a resolver, an address —
// beside the error that was seen. Its message is the error's.
type Failure struct {
	Cause Cause
	Phase string
	// Hop is what the cause concerns, for a person: "veth0",
	// "10.213.1.1:53", "10.213.1.1:8080"; may be empty.
	Hop string
	Err error
	// refused: the remote end actively refused (see Refusal).
	refused bool
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// With is f saying err, which should wrap f's error with context.
func (f *Failure) With(err error) *Failure {
	g := *f
	g.Err = err
	return &g
}

// fail makes a Failure.
func fail(cause Cause, phase, hop string, err error) *Failure {
	return &Failure{Cause: cause, Phase: phase, Hop: hop, Err: err}
}

// FailureOf is the Failure that explains err: the outermost one it wraps,
// or, for an error no probe explained, one classified from what it is
// (an errno, a timeout).
func FailureOf(err error) *Failure {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Cause: errnoCause(err, ""), Err: err}
}

// classify makes a Failure of err, an error of the socket layer in phase
// ("query" for a resolver, "connect" for an endpoint) concerning hop, an
// address. A loopback address that cannot be reached while lo is down
// fails at the link.
func classify(err error, phase string, hop netip.AddrPort) *Failure {
	if f := (*Failure)(nil); errors.As(err, &f) {
		return f
	}
	if hop.Addr().IsLoopback() && (errors.Is(err, syscall.ENETUNREACH) || errTimeout(err)) && loopbackDown() {
		return fail(CauseLinkDown, "link", "lo", err)
	}
	h := ""
	switch {
	case hop.Port() != 0:
		h = hop.String()
	case hop.IsValid():
		h = hop.Addr().String()
	}
	f := fail(errnoCause(err, phase), phase, h, err)
	f.refused = errors.Is(err, syscall.ECONNREFUSED)
	return f
}

// errnoCause classifies an error of the socket layer for a step: "query"
// for a resolver, "connect" for an endpoint, anything else otherwise.
func errnoCause(err error, phase string) Cause {
	resolver := phase == "query"
	switch {
	case errors.Is(err, errNetlinkRefused):
		return CauseNetlinkRefused
	case errors.Is(err, syscall.ECONNREFUSED) && resolver:
		return CauseResolverRefused
	case errors.Is(err, syscall.ECONNREFUSED):
		return CausePortClosed
	case resolver && (errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)):
		return CauseResolverUnreachable
	case errors.Is(err, syscall.ENETUNREACH):
		return CauseNoRoute
	case errors.Is(err, syscall.EHOSTUNREACH):
		return CauseHostUnreachable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CauseReset
	case resolver && errTimeout(err):
		return CauseResolverTimeout
	case phase == "connect" && errTimeout(err):
		return CauseFiltered
	case errTimeout(err):
		return CauseTimeout
	}
	if resolver {
		return CauseResolverError
	}
	return CauseOther
}

// progress orders causes by how far the attempt got before it failed: of
// several addresses of one target, the one that got furthest explains the
// most (a refused port says the host is up; "no route" says less about
// it). Causes not listed come first.
var progress = map[Cause]int{
	CauseNoRoute:             1,
	CauseHostUnreachable:     2,
	CauseGatewayUnreachable:  2,
	CauseResolverUnreachable: 2,
	CauseTimeout:             3,
	CauseFiltered:            3,
	CauseResolverTimeout:     3,
	CauseResolverRefused:     3, // as silence: the first resolver named explains
	CausePortClosed:          4,
	CauseReset:               5,
	CauseResolverError:       5,
	CauseResolverServfail:    6,
	CauseNXDomain:            7,
	CauseNoRecords:           7,
	CauseWrongAnswer:         7,
}

// furthest returns the failure among fs that got furthest, the first of
// equals; it is a refusal only if every one of fs is: one silent address
// beside refusing ones must keep the target on the schedule.
func furthest(fs []*Failure) *Failure {
	var best *Failure
	refused := len(fs) > 0
	for _, f := range fs {
		if f == nil {
			continue
		}
		refused = refused && f.refused
		if best == nil || progress[f.Cause] > progress[best.Cause] {
			best = f
		}
	}
	if best != nil && best.refused != refused {
		b := *best
		b.refused = refused
		best = &b
	}
	return best
}

// announced are the causes the kernel announces the end of over netlink: a
// link, an address or a route that appears or changes.
var announced = map[Cause]bool{
	CauseNoLink: true, CauseLinkDown: true, CauseNoCarrier: true, CauseNoAddress: true,
	CauseAddressTentative: true, CauseAddressDADFailed: true, CauseNoRoute: true,
}

// Announced reports whether the end of c is a change the kernel announces
// over netlink (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE), so that a target
// failing for it need not be polled while netlink is watched.
func (c Cause) Announced() bool { return announced[c] }

// Refusal reports whether f is an active refusal by the remote end (a TCP
// reset to the SYN, an ICMP port unreachable for a resolver's query): the
// host is up and answering, its service is not (yet). A resolver's REFUSED
// rcode is not one: the service runs, and says no.
func (f *Failure) Refusal() bool { return f.refused }

// hintFor is the table of hints: one entry per cause that has a useful one,
// refined by what the failure concerns (a loopback resolver, a
// systemd-resolved stub).
var hints = map[Cause]func(f *Failure) string{
	CauseNoLink:    func(*Failure) string { return "`ip link` lists the links this host has" },
	CauseLinkDown:  linkHint,
	CauseNoCarrier: linkHint,
	CauseNoAddress: func(*Failure) string {
		return "is an address being configured (DHCP, SLAAC, networkd, NetworkManager)?"
	},
	CauseAddressTentative: func(*Failure) string { return "duplicate address detection has not finished yet" },
	CauseAddressDADFailed: func(*Failure) string {
		return "another host on the link uses this address: find it (ip -6 neigh) or configure another address"
	},
	CauseNoRoute: func(f *Failure) string {
		if f.Phase == "route" && f.Hop == "default" {
			return "is DHCP or router advertisement configuring the network (networkd, NetworkManager, dhclient)?"
		}
		if _, isAddr := hopAddr(f.Hop); f.Phase == "route" && f.Hop != "" && !isAddr {
			// No IPv6 default route on the link named (route.go).
			return "does a router on " + f.Hop + " send router advertisements with a router lifetime above 0 " +
				"(radvd, dnsmasq --enable-ra), and does something accept them (networkd, NetworkManager, or the kernel's accept_ra)?"
		}
		if f.Phase == "route" {
			return "no route covers this address: is the default route missing?"
		}
		return "no route to that network: is there a default route?"
	},
	CauseGatewayUnreachable: func(*Failure) string {
		return "the router of this route does not answer: is it up, and is the route's via address right (ip route)?"
	},
	CauseNoResolver: func(f *Failure) string {
		ap, isAddr := hopAddr(f.Hop)
		switch {
		case f.Phase != "resolve" || f.Hop == "":
		case isAddr && ap.Addr() == systemdResolved:
			return "no link has given systemd-resolved a DNS server yet (DHCP, router advertisement RDNSS) and none is set (DNS= in resolved.conf or the .network file): resolvectl dns"
		case !isAddr && !strings.Contains(f.Hop, "/"): // a link, not the configuration's path
			return "on an IPv6-only link the resolvers come from the RDNSS option of router advertisements or from DHCPv6: " +
				"does the router send them (radvd RDNSS, dnsmasq --enable-ra), and does the network manager use them?"
		}
		return ""
	},
	CauseResolverUnreachable: func(*Failure) string {
		return "the resolver does not answer ARP or neighbour discovery: is it up, and is its address right?"
	},
	CauseHostUnreachable: func(*Failure) string {
		return "the host does not answer ARP or neighbour discovery, or a route rejects it"
	},
	CauseNetlinkRefused: func(*Failure) string {
		return "link and route targets need a netlink route socket: is netready in a sandbox without AF_NETLINK (systemd RestrictAddressFamilies=)?"
	},
	CauseResolverRefused: func(f *Failure) string {
		ap, _ := netip.ParseAddrPort(f.Hop)
		switch {
		case f.Phase == "answer":
			return "the resolver refuses to answer this host: check its access control (allow-query, access-control)"
		case ap.Addr() == systemdResolved:
			return "is systemd-resolved running?"
		case ap.Addr().IsLoopback():
			return "no resolver listens on " + f.Hop + ": is the local resolver (dnsmasq, unbound) running?"
		case f.Hop != "":
			return "the resolver at " + f.Hop + " refuses DNS: is it running?"
		}
		return ""
	},
	CauseResolverTimeout: func(f *Failure) string {
		if f.Hop == "" {
			return ""
		}
		return "no answer from " + f.Hop + ": is the resolver reachable (route, firewall)?"
	},
	CauseResolverServfail: func(*Failure) string {
		return "the resolver could not get an answer upstream: is its own upstream reachable?"
	},
	CauseNXDomain: func(f *Failure) string {
		if f.Phase == "resolve" {
			return "the name does not exist in DNS: check its spelling and the search domains in resolv.conf"
		}
		return "the name does not exist: check its spelling"
	},
	CausePortClosed: func(*Failure) string { return "nothing is listening on that port: is the service running?" },
	CauseHTTPStatus: func(f *Failure) string {
		if f.Phase == "redirect" {
			return "redirects are not followed: use the final URL as the target"
		}
		return ""
	},
	CauseFiltered: func(*Failure) string {
		return "no answer at all: a firewall may be dropping the traffic, or the host is down"
	},
	CauseTLSClock: func(f *Failure) string {
		if f.Hop == clockHop {
			return "the clock is not synchronised yet: is an NTP client (systemd-timesyncd, chrony, ntpd) running and reaching its servers? Wait for clock:synced first"
		}
		return "the system clock reads " + time.Now().UTC().Format(time.RFC3339) + " and the kernel says it is synchronised: is the certificate issued for the future, or the NTP source wrong?"
	},
	CauseClockUnsynced: func(*Failure) string {
		return "is an NTP client (systemd-timesyncd, chrony, ntpd) running and reaching its servers (timedatectl timesync-status, chronyc tracking)?"
	},
	CauseWrongAnswer: func(f *Failure) string {
		return "the resolver gives another answer than answer= expects: is the right resolver (a VPN's, split-horizon) in use, and its zone up to date?"
	},
	CauseProxyFailed: func(f *Failure) string {
		return "the proxy refused or could not be reached: check proxy= or HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and the proxy's access rules"
	},
	CauseTLSExpired: func(*Failure) string {
		return "the system clock reads " + time.Now().UTC().Format(time.RFC3339) + ": if the certificate is still current, the clock is wrong"
	},
	CauseTLSUntrusted: func(*Failure) string {
		return "add the CA to the system trust store, give its file with ca=, or point SSL_CERT_FILE at it"
	},
	CauseCaptivePortal: func(*Failure) string {
		return "a captive portal is likely intercepting traffic (log in to the network), or the URL is wrong"
	},
	CauseICMPNotPermitted: func(*Failure) string {
		return "allow unprivileged ping with sysctl net.ipv4.ping_group_range=\"0 2147483647\", or grant CAP_NET_RAW"
	},
}

func linkHint(f *Failure) string {
	if f.Hop == "lo" {
		return loopbackHint
	}
	if f.Phase == "route" {
		return "the default route's link is not up: check the cable or the peer, or the interface's configuration"
	}
	return "check the cable or the peer, or the interface's configuration"
}

// Hint is a likely remedy for f, for a person; "" if none helps.
func (f *Failure) Hint() string {
	if h, ok := hints[f.Cause]; ok {
		return h(f)
	}
	return ""
}
