package probe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/miekg/dns"
)

// What an error means: the cause of an error of the socket layer (an
// errno, a timeout) or of a resolver's rcode.

// loopbackDown reports whether the loopback interface is known to be down.
// It asks the kernel, once, for a failure that already happened.
func loopbackDown() bool {
	lo, err := net.InterfaceByName("lo")
	return err == nil && lo.Flags&net.FlagUp == 0
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

// isFailure reports whether a probe already explained err.
func isFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f)
}

// classify makes a Failure of err, an error of the socket layer in phase
// (PhaseQuery for a resolver, PhaseConnect for an endpoint) concerning hop,
// an address. A loopback address that cannot be reached while lo is down
// fails at the link.
func classify(err error, phase PhaseName, hop netip.AddrPort) *Failure {
	if f := (*Failure)(nil); errors.As(err, &f) {
		return f
	}
	if hop.Addr().IsLoopback() && (errors.Is(err, syscall.ENETUNREACH) || errTimeout(err)) && loopbackDown() {
		return fail(CauseLinkDown, PhaseLink, "lo", err)
	}
	h := ""
	switch {
	case hop.Port() != 0:
		h = hop.String()
	case hop.IsValid():
		h = hop.Addr().String()
	}
	c := errnoCause(err, phase)
	if c == CauseLocalFirewall {
		err = fmt.Errorf("this host refuses to send to %s: its firewall drops the packet on the way out (%w)", h, err)
	}
	f := fail(c, phase, h, err)
	f.refused = errors.Is(err, syscall.ECONNREFUSED)
	return f
}

// errnoCause classifies an error of the socket layer for a step: PhaseQuery
// for a resolver, PhaseConnect for an endpoint, anything else otherwise.
func errnoCause(err error, phase PhaseName) Cause {
	resolver := phase == PhaseQuery
	switch {
	case errors.Is(err, errNetlinkRefused):
		return CauseNetlinkRefused
	case errors.Is(err, syscall.EPERM) && (resolver || phase == PhaseConnect || phase == PhaseEcho):
		// A send that netfilter's output hook (or a cgroup's egress
		// filter: systemd's IPAddressDeny=) drops fails with EPERM.
		return CauseLocalFirewall
	case errors.Is(err, syscall.ECONNREFUSED) && resolver:
		return CauseResolverDown
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
	case phase == PhaseConnect && errTimeout(err):
		return CauseFiltered
	case errTimeout(err):
		return CauseTimeout
	}
	if resolver {
		return CauseResolverError
	}
	return CauseOther
}

// rcodeCause is the cause of a reply whose rcode is not NOERROR.
func rcodeCause(rcode int) Cause {
	switch rcode {
	case dns.RcodeServerFailure:
		return CauseResolverServfail
	case dns.RcodeRefused:
		return CauseResolverRefused
	case dns.RcodeNameError:
		return CauseNXDomain
	}
	return CauseResolverError
}
