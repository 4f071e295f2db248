package probe

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
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

// hintFor suggests a likely cause for a probe error that its probe did not
// explain itself. It looks at the first server or address that failed.
func hintFor(err error) string {
	var se *serversError
	if errors.As(err, &se) {
		for _, r := range se.all {
			if r.err == nil {
				continue
			}
			if h := serverHint(r.server, r.err); h != "" {
				return h
			}
		}
	}
	var re *resolveError
	if errors.As(err, &re) {
		if errors.Is(re.err, errNoSuchHost) {
			return "the name does not exist in DNS: check its spelling and the search domains in resolv.conf"
		}
	}
	switch {
	case errors.Is(err, errNetlinkRefused):
		return "link and route targets need a netlink route socket: is netready in a sandbox without AF_NETLINK (systemd RestrictAddressFamilies=)?"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening on that port: is the service running?"
	case (errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, errIOTimeout)) && dialsLoopback(err) && loopbackDown():
		return loopbackHint
	case errors.Is(err, syscall.ENETUNREACH):
		return "no route to that network: is there a default route?"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "the host does not answer ARP or neighbour discovery, or a route rejects it"
	case errors.Is(err, errIOTimeout):
		return "no answer at all: a firewall may be dropping the traffic, or the host is down"
	}
	return ""
}

func serverHint(server netip.AddrPort, err error) string {
	var rc *rcodeError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) && server.Addr() == systemdResolved:
		return "is systemd-resolved running?"
	case errors.Is(err, syscall.ECONNREFUSED) && server.Addr().IsLoopback():
		return "no resolver listens on " + server.String() + ": is the local resolver (dnsmasq, unbound) running?"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the resolver at " + server.String() + " refuses DNS: is it running?"
	case (errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, errIOTimeout)) && server.Addr().IsLoopback() && loopbackDown():
		return loopbackHint
	case errors.As(err, &rc) && rc.rcode == 5: // REFUSED
		return "the resolver refuses to answer this host: check its access control (allow-query, access-control)"
	case errors.As(err, &rc) && rc.rcode == 2: // SERVFAIL
		return "the resolver could not get an answer upstream: is its own upstream reachable?"
	case errors.As(err, &rc) && rc.rcode == 3: // NXDOMAIN
		return "the name does not exist: check its spelling"
	case errors.Is(err, errIOTimeout):
		return "no answer from " + server.String() + ": is the resolver reachable (route, firewall)?"
	}
	return ""
}

// dialsLoopback reports whether err is a failed connection to a loopback
// address.
func dialsLoopback(err error) bool {
	var de *dialError
	if !errors.As(err, &de) {
		return false
	}
	ap, perr := netip.ParseAddrPort(de.addr)
	return perr == nil && ap.Addr().IsLoopback()
}
