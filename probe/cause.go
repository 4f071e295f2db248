package probe

import (
	"net/netip"
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
}

// causes describes every cause of the vocabulary, one row each, in the
// order of the declarations above; TestCauseTable checks that none is
// missing.
var causes = map[Cause]causeInfo{
	CauseNoLink:             {announced: true, hint: text("`ip link` lists the links this host has")},
	CauseLinkDown:           {announced: true, hint: linkHint},
	CauseNoCarrier:          {announced: true, hint: linkHint},
	CauseNoAddress:          {announced: true, hint: text("is an address being configured (DHCP, SLAAC, networkd, NetworkManager)?")},
	CauseAddressTentative:   {announced: true, hint: text("duplicate address detection has not finished yet")},
	CauseAddressDADFailed:   {announced: true, hint: text("another host on the link uses this address: find it (ip -6 neigh) or configure another address")},
	CauseNoRoute:            {rank: 1, announced: true, pathLike: true, hint: noRouteHint},
	CauseGatewayUnreachable: {rank: 2, pathLike: true, hint: text("the router of this route does not answer: is it up, and is the route's via address right (ip route)?")},
	CauseHostUnreachable:    {rank: 2, pathLike: true, hint: text("the host does not answer ARP or neighbour discovery, or a route rejects it")},
	CauseNetlinkRefused:     {hint: text("link and route targets need a netlink route socket: is netready in a sandbox without AF_NETLINK (systemd RestrictAddressFamilies=)?")},
	CauseRouteBlackhole:     {rank: 1},
	CauseRouteProhibited:    {rank: 1},
	CauseRouteUnreachable:   {rank: 1},
	CauseLocalFirewall:      {rank: 1},

	CauseRouterUnreachable: {rank: 2},
	CauseRejected:          {rank: 3},
	CauseRoutingLoop:       {rank: 2},
	CauseMTUBlackhole:      {rank: 5},

	CauseNoResolver:          {},
	CauseResolverUnreachable: {rank: 2, pathLike: true, hint: text("the resolver does not answer ARP or neighbour discovery: is it up, and is its address right?")},
	CauseResolverRefused:     {rank: 3, hint: resolverRefusedHint}, // as silence: the first resolver named explains
	CauseResolverDown:        {rank: 3},
	CauseResolverTimeout:     {rank: 3, pathLike: true, hint: resolverTimeoutHint},
	CauseResolverServfail:    {rank: 6, hint: text("the resolver could not get an answer upstream: is its own upstream reachable?")},
	CauseResolverError:       {rank: 5},
	CauseNXDomain:            {rank: 7, hint: nxdomainHint},
	CauseNoRecords:           {rank: 7},
	CauseWrongAnswer:         {rank: 7, hint: text("the resolver gives another answer than answer= expects: is the right resolver (a VPN's, split-horizon) in use, and its zone up to date?")},
	CauseResolverUpstream:    {rank: 6},
	CauseDNSSECFailed:        {rank: 6},
	CauseDNSBlocked:          {rank: 7},

	CausePortClosed:       {rank: 4, hint: text("nothing is listening on that port: is the service running?")},
	CauseFiltered:         {rank: 3, pathLike: true, hint: text("no answer at all: a firewall may be dropping the traffic, or the host is down")},
	CauseReset:            {rank: 5},
	CauseTLSUntrusted:     {hint: text("add the CA to the system trust store, give its file with ca=, or point SSL_CERT_FILE at it")},
	CauseTLSClock:         {hint: tlsClockHint},
	CauseTLSExpired:       {hint: tlsExpiredHint},
	CauseTLSNameMismatch:  {},
	CauseTLSFailed:        {},
	CauseHTTPStatus:       {hint: httpStatusHint},
	CauseHTTPBody:         {},
	CauseCaptivePortal:    {hint: text("a captive portal is likely intercepting traffic (log in to the network), or the URL is wrong")},
	CauseProxyFailed:      {hint: text("the proxy refused or could not be reached: check proxy= or HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and the proxy's access rules")},
	CauseICMPNotPermitted: {hint: text("allow unprivileged ping with sysctl net.ipv4.ping_group_range=\"0 2147483647\", or grant CAP_NET_RAW")},
	CauseClockUnsynced:    {hint: text("is an NTP client (systemd-timesyncd, chrony, ntpd) running and reaching its servers (timedatectl timesync-status, chronyc tracking)?")},
	CauseResponseTooLarge: {rank: 5},
	CauseTimeout:          {rank: 3, pathLike: true},
	CauseOther:            {pathLike: true},
}

// text is a hint that says s whatever the failure concerns.
func text(s string) func(*Failure) string { return func(*Failure) string { return s } }

func linkHint(f *Failure) string {
	if f.Hop == "lo" {
		return loopbackHint
	}
	if f.Phase == PhaseRoute {
		return "the default route's link is not up: check the cable or the peer, or the interface's configuration"
	}
	return "check the cable or the peer, or the interface's configuration"
}

func noRouteHint(f *Failure) string {
	if f.Phase == PhaseRoute && f.Hop == "default" {
		return "is DHCP or router advertisement configuring the network (networkd, NetworkManager, dhclient)?"
	}
	if f.Phase == PhaseRoute {
		return "no route covers this address: is the default route missing?"
	}
	return "no route to that network: is there a default route?"
}

func resolverRefusedHint(f *Failure) string {
	ap, _ := netip.ParseAddrPort(f.Hop)
	switch {
	case f.Phase == PhaseAnswer:
		return "the resolver refuses to answer this host: check its access control (allow-query, access-control)"
	case ap.Addr() == systemdResolved:
		return "is systemd-resolved running?"
	case ap.Addr().IsLoopback():
		return "no resolver listens on " + f.Hop + ": is the local resolver (dnsmasq, unbound) running?"
	case f.Hop != "":
		return "the resolver at " + f.Hop + " refuses DNS: is it running?"
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
	if f.Phase == PhaseResolve {
		return "the name does not exist in DNS: check its spelling and the search domains in resolv.conf"
	}
	return "the name does not exist: check its spelling"
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

// Refusal reports whether f is an active refusal by the remote end (a TCP
// reset to the SYN, an ICMP port unreachable for a resolver's query): the
// host is up and answering, its service is not (yet). A resolver's REFUSED
// rcode is not one: the service runs, and says no.
func (f *Failure) Refusal() bool { return f.refused }

// Hint is a likely remedy for f, for a person; "" if none helps.
func (f *Failure) Hint() string {
	if h := causes[f.Cause].hint; h != nil {
		return h(f)
	}
	return ""
}
