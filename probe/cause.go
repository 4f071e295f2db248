package probe

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// systemdResolved is the stub listener of systemd-resolved.
var systemdResolved = netip.MustParseAddr("127.0.0.53")

// loopbackHint is for a loopback address that is unreachable or silent
// while lo is down: the kernel then has no local route for it.
const loopbackHint = "the loopback interface is down: ip link set lo up"

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

// causeInfo is what netready knows of a cause: one row of the table below.
type causeInfo struct {
	// rank orders causes by how far the attempt got before it failed: of
	// several addresses of one target, the one that got furthest explains
	// the most (a refused port says the host is up; "no route" says less
	// about it). Equal ranks keep the first.
	rank int
	// announced: the end of the cause is a change the kernel announces
	// over netlink (see Cause.Announced).
	announced bool
	// pathLike: a broken hop before the destination explains the failure
	// better (see Env.explainFailure); a refusal, an answer, a certificate
	// say the path works.
	pathLike bool
	// hint is a likely remedy, for a person, refined by what the failure
	// concerns; nil for none.
	hint func(*Failure) string
	// area is where on the way the cause lies, and doc what it means, for
	// the documentation (README's table of causes, CauseDocs).
	area causeArea
	doc  string
}

// causeArea is where on the way to a target a cause lies.
type causeArea int

const (
	areaHost     causeArea = iota // this host: its links, addresses, routes, firewall, clock
	areaNetwork                   // the network beyond the host, as its ICMP errors say
	areaDNS                       // resolvers and names
	areaEndpoint                  // the target's own address and service
	areaOther
)

var areaNames = [...]string{"this host", "the network", "DNS", "the endpoint", "any"}

// CauseDoc is one cause of the vocabulary, for the documentation.
type CauseDoc struct {
	Cause Cause
	Area  string // "this host", "the network", "DNS", "the endpoint", "any"
	Doc   string // what it means
}

// CauseDocs lists every cause of the vocabulary, by area from this host
// out to the endpoint, then by how far an attempt that fails with it got.
func CauseDocs() []CauseDoc {
	out := make([]CauseDoc, 0, len(causes))
	for c := range causes {
		if c != CauseNone {
			out = append(out, CauseDoc{c, areaNames[causes[c].area], causes[c].doc})
		}
	}
	slices.SortFunc(out, func(a, b CauseDoc) int {
		ia, ib := causes[a.Cause], causes[b.Cause]
		return cmp.Or(cmp.Compare(ia.area, ib.area), cmp.Compare(ia.rank, ib.rank), cmp.Compare(a.Cause, b.Cause))
	})
	return out
}

// causes describes every cause of the vocabulary, one row each, in the
// order of the declarations above; TestCauseTable checks that none is
// missing.
var causes = map[Cause]causeInfo{
	CauseNoLink:             {area: areaHost, doc: "no link of that name (`link:IFACE`, `via=IFACE`)", announced: true, hint: text("`ip link` lists the links this host has")},
	CauseLinkDown:           {area: areaHost, doc: "the link is administratively down", announced: true, hint: linkHint},
	CauseNoCarrier:          {area: areaHost, doc: "the link is up without a carrier: a cable, a switch port, a veth's peer", announced: true, hint: linkHint},
	CauseNoAddress:          {area: areaHost, doc: "the link has no usable address of the family needed", announced: true, hint: text("is an address being configured (DHCP, SLAAC, networkd, NetworkManager)?")},
	CauseAddressTentative:   {area: areaHost, doc: "IPv6 duplicate address detection still runs on the link's address", announced: true, hint: text("duplicate address detection has not finished yet")},
	CauseAddressDADFailed:   {area: areaHost, doc: "IPv6 duplicate address detection failed: another host has the address", announced: true, hint: text("another host on the link uses this address: find it (ip -6 neigh) or configure another address")},
	CauseNoRoute:            {area: areaHost, doc: "no route to the destination: no default route, or none for that network", rank: 1, announced: true, pathLike: true, hint: noRouteHint},
	CauseGatewayUnreachable: {area: areaHost, doc: "the route's gateway does not answer ARP or neighbour discovery", rank: 2, pathLike: true, hint: text("the router of this route does not answer: is it up, and is the route's via address right (ip route)?")},
	CauseHostUnreachable:    {area: areaHost, doc: "a destination on the link does not answer ARP or neighbour discovery", rank: 2, pathLike: true, hint: text("the host does not answer ARP or neighbour discovery, or a route rejects it")},
	CauseNetlinkRefused:     {area: areaHost, doc: "no netlink route socket: a sandbox forbids AF_NETLINK", hint: text("link and route targets need a netlink route socket: is netready in a sandbox without AF_NETLINK (systemd RestrictAddressFamilies=)?")},
	CauseRouteBlackhole:     {area: areaHost, doc: "a blackhole route or rule covers the destination (a VPN kill switch): named with its table and the policy rule that led there", rank: 1, hint: text("a blackhole route discards it (a VPN kill switch, a routing policy): ip rule; ip route show table all type blackhole")},
	CauseRouteProhibited:    {area: areaHost, doc: "a prohibit route or rule covers it, named likewise", rank: 1, hint: text("a prohibit route refuses it (a routing policy): ip rule; ip route show table all type prohibit")},
	CauseRouteUnreachable:   {area: areaHost, doc: "an unreachable route covers it, named likewise", rank: 1, hint: text("an unreachable route rejects it (a routing policy): ip rule; ip route show table all type unreachable")},
	CauseLocalFirewall:      {area: areaHost, doc: "this host's own firewall refused the send: EPERM (netfilter output, a cgroup's IPAddressDeny=), or an administratively prohibited reply from this host's own stack", rank: 1, hint: text("check this host's output rules (nft list ruleset; iptables -S OUTPUT) and, in a systemd unit, IPAddressDeny=")},

	CauseRouterUnreachable: {area: areaNetwork, doc: "a router on the way answered that it has no route onward (ICMP network or host unreachable), named with what it said", rank: 2, hint: text("this host's side of the path works: the router named has no way onward (its routes, its uplink, or the network beyond it)")},
	CauseRejected:          {area: areaNetwork, doc: "a firewall rejects: ICMP administratively prohibited or packet filtered, from the destination or a router on the way, or a port unreachable from another host than the destination", rank: 4, hint: text("a firewall rejects this traffic: check the rules of the host named (input or forward chain) for this port and source")}, // an answer, as a refused port is
	CauseRoutingLoop:       {area: areaNetwork, doc: "ICMP time exceeded: the packet went round between routers until its TTL ran out", rank: 2, hint: text("routers send the packet back and forth: check the routes of the router named and of its neighbours (traceroute shows the loop)")},
	CauseMTUBlackhole: {area: areaNetwork, doc: "small packets pass, large ones vanish with no ICMP fragmentation-needed: a path MTU blackhole, with the sizes that passed and failed", rank: 5, hint: text("a link on the way carries smaller packets (a tunnel, PPPoE, a VPN) and the ICMP error that says so is dropped: " +
		"let ICMP \"fragmentation needed\" and ICMPv6 \"packet too big\" through, clamp the TCP MSS on the router, or lower the MTU here")},

	CauseNoResolver:          {area: areaDNS, doc: "no resolver to ask: the resolver configuration cannot be read, systemd-resolved knows of no DNS server, or an IPv6-only host got none from router advertisements (RDNSS) or DHCPv6", hint: noResolverHint},
	CauseResolverUnreachable: {area: areaDNS, doc: "the resolver cannot be reached: it does not answer ARP or neighbour discovery, or its network is unreachable", rank: 2, pathLike: true, hint: text("the resolver does not answer ARP or neighbour discovery: is it up, and is its address right?")},
	CauseResolverRefused:     {area: areaDNS, doc: "the resolver answered REFUSED: it runs, and declines (an access list)", rank: 5, hint: resolverRefusedHint},                           // an answer, if not the one wanted
	CauseResolverDown:        {area: areaDNS, doc: "nothing listens at the resolver's address and port (ICMP port unreachable): no resolver runs there", rank: 3, hint: resolverDownHint}, // as silence: the first resolver named explains
	CauseResolverTimeout:     {area: areaDNS, doc: "no answer from the resolver", rank: 3, pathLike: true, hint: resolverTimeoutHint},
	CauseResolverServfail:    {area: areaDNS, doc: "the resolver answered SERVFAIL", rank: 6, hint: text("the resolver could not get an answer upstream: is its own upstream reachable?")},
	CauseResolverError:       {area: areaDNS, doc: "another rcode (FORMERR, NOTIMP …), or a reply that does not make sense", rank: 5},
	CauseNXDomain:            {area: areaDNS, doc: "the name does not exist (NXDOMAIN)", rank: 8, hint: nxdomainHint},
	CauseNoRecords:           {area: areaDNS, doc: "NOERROR without a record of the type asked (NODATA)", rank: 8},
	CauseWrongAnswer:         {area: areaDNS, doc: "no answer holds the value `answer=` expects", rank: 8, hint: text("the resolver gives another answer than answer= expects: is the right resolver (a VPN's, split-horizon) in use, and its zone up to date?")},
	CauseResolverUpstream:    {area: areaDNS, doc: "the resolver runs but cannot reach the authorities or its forwarders (Extended DNS Error 22, 23)", rank: 7, hint: upstreamHint}, // a SERVFAIL that says why: more than a bare one
	CauseDNSSECFailed:        {area: areaDNS, doc: "DNSSEC validation failed (Extended DNS Error 1, 2, 5–12); 7 and 8 point at a clock", rank: 9, hint: dnssecHint},                 // the authority answered, and its answer is bogus
	CauseDNSBlocked:          {area: areaDNS, doc: "the resolver blocks or filters the name by policy (Extended DNS Error 15–17)", rank: 9, hint: blockedHint},                      // the resolver's policy, whatever another says

	CausePortClosed:       {area: areaEndpoint, doc: "a TCP reset in answer to the SYN: nothing listens on that port", rank: 4, hint: text("nothing is listening on that port: is the service running?")},
	CauseFiltered:         {area: areaEndpoint, doc: "no answer at all to the SYN: dropped on the way, or the host is down", rank: 3, pathLike: true, hint: text("no answer at all: a firewall may be dropping the traffic, or the host is down")},
	CauseReset:            {area: areaEndpoint, doc: "the connection was reset or closed after it was established", rank: 5},
	CauseTLSUntrusted:     {area: areaEndpoint, doc: "the certificate is not signed by a trusted authority", hint: text("add the CA to the system trust store, give its file with ca=, or point SSL_CERT_FILE at it")},
	CauseTLSClock:         {area: areaEndpoint, doc: "the certificate is not valid yet, or expired while the clock is not synchronised: the clock is likely wrong", hint: tlsClockHint},
	CauseTLSExpired:       {area: areaEndpoint, doc: "the certificate expired, and the clock is synchronised", hint: tlsExpiredHint},
	CauseTLSNameMismatch:  {area: areaEndpoint, doc: "the certificate is for another name"},
	CauseTLSFailed:        {area: areaEndpoint, doc: "another TLS handshake failure: an alert, a peer that does not speak TLS (a plain-HTTP server is said so)", hint: plainHTTPHint},
	CauseHTTPStatus:       {area: areaEndpoint, doc: "a status the target does not accept (`status=`, default 2xx), or a redirect", hint: httpStatusHint},
	CauseHTTPBody:         {area: areaEndpoint, doc: "the body does not match `body=`"},
	CauseCaptivePortal:    {area: areaEndpoint, doc: "a redirect to another host, or a login page where something else was expected: a captive portal", hint: text("a captive portal is likely intercepting traffic (log in to the network), or the URL is wrong")},
	CauseProxyFailed:      {area: areaEndpoint, doc: "the proxy refused the request or could not be reached", hint: text("the proxy refused or could not be reached: check proxy= or HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and the proxy's access rules")},
	CauseICMPNotPermitted: {area: areaHost, doc: "neither an unprivileged ICMP socket nor a raw one may be opened", hint: text("allow unprivileged ping with sysctl net.ipv4.ping_group_range=\"0 2147483647\", or grant CAP_NET_RAW")},
	CauseClockUnsynced:    {area: areaHost, doc: "the kernel says the clock is not synchronised (`clock:synced`)", hint: text("is an NTP client (systemd-timesyncd, chrony, ntpd) running and reaching its servers (timedatectl timesync-status, chronyc tracking)?")},
	CauseResponseTooLarge: {area: areaEndpoint, doc: "the remote end sent more than a bound of netready allows, which the message names: HTTP headers or informational responses, a DNS reply over TCP that trickles, more DNS replies or ICMP messages than a probe examines", rank: 5, hint: responseTooLargeHint}, // it answered, with more than netready reads
	CauseTimeout:          {area: areaOther, doc: "the attempt ran out of time with no better explanation", rank: 3, pathLike: true},
	CauseOther:            {area: areaOther, doc: "an error no other word describes; its message says what", pathLike: true},
}

// text is a hint that says s whatever the failure concerns.
func text(s string) func(*Failure) string { return func(*Failure) string { return s } }

func linkHint(f *Failure) string {
	if f.Hop == "lo" {
		return loopbackHint
	}
	h := "check the cable or the peer, or the interface's configuration"
	if f.Cause == CauseLinkDown && f.Hop != "" {
		// Administratively down: no cable makes it up.
		h = "bring it up (ip link set " + f.Hop + " up), or see why what configures it (networkd, NetworkManager, ifupdown) did not"
	}
	if f.Phase == PhaseRoute {
		return "the default route's link is not up: " + h
	}
	return h
}

func noRouteHint(f *Failure) string {
	if f.Phase == PhaseRoute && f.Hop == "default" {
		return "is DHCP or router advertisement configuring the network (networkd, NetworkManager, dhclient)?"
	}
	if _, isAddr := hopAddr(f.Hop); f.Phase == PhaseRoute && f.Hop != "" && !isAddr {
		// No IPv6 default route on the link named (noRouterAdvertisement).
		return "does a router on " + f.Hop + " send router advertisements with a router lifetime above 0 " +
			"(radvd, dnsmasq --enable-ra), and does something accept them (networkd, NetworkManager, or the kernel's accept_ra)?"
	}
	if f.Phase == PhaseRoute {
		return "no route covers this address: is the default route missing?"
	}
	return "no route to that network: is there a default route?"
}

func noResolverHint(f *Failure) string {
	ap, isAddr := hopAddr(f.Hop)
	switch {
	case f.Phase != PhaseResolve || f.Hop == "":
	case isAddr && ap.Addr() == systemdResolved:
		return "no link has given systemd-resolved a DNS server yet (DHCP, router advertisement RDNSS) and none is set (DNS= in resolved.conf or the .network file): resolvectl dns"
	case !isAddr && !strings.Contains(f.Hop, "/"): // a link, not the configuration's path
		return "on an IPv6-only link the resolvers come from the RDNSS option of router advertisements or from DHCPv6: " +
			"does the router send them (radvd RDNSS, dnsmasq --enable-ra), and does the network manager use them?"
	}
	return ""
}

// resolverRefusedHint: an access list the reply names (EDE 18) is what to
// fix, whatever was asked; without one, a refused root is likely a
// resolver that serves internal names only.
func resolverRefusedHint(f *Failure) string {
	if h := prohibitedHint(f); h != "" {
		return h
	}
	if h := rootHint(f); h != "" {
		return h
	}
	return "the resolver refuses to answer this host: check its access control (allow-query, access-control)"
}

func resolverDownHint(f *Failure) string {
	if h := defaultedHint(f); h != "" {
		return h
	}
	ap, _ := netip.ParseAddrPort(f.Hop)
	switch {
	case ap.Addr() == systemdResolved:
		return "is systemd-resolved running?"
	case ap.Addr().IsLoopback():
		return "no resolver listens on " + f.Hop + ": is the local resolver (dnsmasq, unbound) running?"
	case f.Hop != "":
		return "no resolver listens on " + f.Hop + " (port unreachable): is it running?"
	}
	return ""
}

func resolverTimeoutHint(f *Failure) string {
	if f.Hop == "" {
		return ""
	}
	return "no answer from " + f.Hop + ": is the resolver reachable (route, firewall)?"
}

func nxdomainHint(f *Failure) string {
	if h := rootHint(f); h != "" {
		return h
	}
	if f.Phase == PhaseResolve {
		return "the name does not exist in DNS: check its spelling and the search domains in resolv.conf"
	}
	return "the name does not exist: check its spelling"
}

func responseTooLargeHint(f *Failure) string {
	if f.Phase == PhaseEcho {
		return "ICMP messages flood this host, or the target answers with more than echo replies: " +
			"tcpdump -ni any icmp shows who sends them (a raw socket, used when net.ipv4.ping_group_range " +
			"allows no unprivileged ping, reads every ICMP message of the host)"
	}
	return "no sane answer is that large: is this the service meant, or something else (or hostile) answering on its port?"
}

func httpStatusHint(f *Failure) string {
	if f.Phase == PhaseRedirect {
		return "redirects are not followed: use the final URL as the target"
	}
	return ""
}

func tlsClockHint(f *Failure) string {
	if f.Hop == clockHop {
		return "the clock is not synchronised yet: is an NTP client (systemd-timesyncd, chrony, ntpd) running and reaching its servers? Wait for clock:synced first"
	}
	return "the system clock reads " + time.Now().UTC().Format(time.RFC3339) + " and the kernel says it is synchronised: is the certificate issued for the future, or the NTP source wrong?"
}

func tlsExpiredHint(*Failure) string {
	return "the system clock reads " + time.Now().UTC().Format(time.RFC3339) + ": if the certificate is still current, the clock is wrong"
}

// PhaseName names one step of an attempt: the step a Failure failed at,
// the step a Phase timed.
type PhaseName string

// The steps of an attempt. A Failure explained by its path fails at the
// broken hop, so a hop's kind is a step too (see HopKind.phase).
const (
	PhaseLink      PhaseName = "link"
	PhaseAddress   PhaseName = "address"
	PhaseRoute     PhaseName = "route"
	PhaseGateway   PhaseName = "gateway"
	PhaseNeighbour PhaseName = "neighbour"
	PhaseResolve   PhaseName = "resolve" // a host name to addresses
	PhaseQuery     PhaseName = "query"   // an exchange with a resolver
	PhaseAnswer    PhaseName = "answer"  // a resolver's reply whose content fails
	PhaseConnect   PhaseName = "connect"
	PhaseProxy     PhaseName = "proxy" // through an HTTP proxy: CONNECT, or the proxy's own answer
	PhaseTLS       PhaseName = "tls"
	PhaseRequest   PhaseName = "request"
	PhaseRedirect  PhaseName = "redirect"
	PhaseEcho      PhaseName = "echo"
	PhaseClock     PhaseName = "clock" // the kernel's word on the system clock
)

// Failure is why an attempt failed: its cause, the step that failed and
// what it concerns — an interface, a resolver, an address — beside the
// error that was seen. Its message is the error's.
type Failure struct {
	Cause Cause
	Phase PhaseName
	// Hop is what the cause concerns, for a person: "veth0",
	// "10.213.1.1:53", "10.213.1.1:8080"; may be empty.
	Hop string
	Err error
	// refused: the remote end said no at once (see Refusal).
	refused bool
	// icmp is the ICMP error that said so, when one came back.
	icmp *icmpError
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
func fail(cause Cause, phase PhaseName, hop string, err error) *Failure {
	return &Failure{Cause: cause, Phase: phase, Hop: hop, Err: err}
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
		if best == nil || causes[f.Cause].rank > causes[best.Cause].rank {
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

// Announced reports whether the end of c is a change the kernel announces
// over netlink (RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE), so that a target
// failing for it need not be polled while netlink is watched.
func (c Cause) Announced() bool { return causes[c].announced }

// Refusal reports whether the remote end said no at once, so that asking
// again soon costs it little and may well get another answer: an active
// refusal (a TCP reset to the SYN, an ICMP port unreachable for a
// resolver's query: the host is up, its service not yet), or a resolver's
// answer that a name a target needs is not there (NXDOMAIN, no records of
// the type, SERVFAIL, REFUSED: the name or the resolver's upstream may be
// coming, and the resolver's negative cache bounds what reaches upstream).
// Silence, timeouts and every other failure are not.
func (f *Failure) Refusal() bool { return f.refused }

// Hint is a likely remedy for f, for a person; "" if none helps.
func (f *Failure) Hint() string {
	if h := causes[f.Cause].hint; h != nil {
		return h(f)
	}
	return ""
}
