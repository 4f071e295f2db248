package probe

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// The cause of each error of the socket layer, for a resolver's query, an
// endpoint's connect and any other step.
func TestErrnoCause(t *testing.T) {
	wrapped := func(err error) error { return fmt.Errorf("dial udp 10.213.1.1:53: %w", err) }
	for _, c := range []struct {
		err                     error
		query, connect, request Cause
	}{
		{syscall.ECONNREFUSED, CauseResolverDown, CausePortClosed, CausePortClosed},
		{syscall.ENETUNREACH, CauseResolverUnreachable, CauseNoRoute, CauseNoRoute},
		{syscall.EHOSTUNREACH, CauseResolverUnreachable, CauseHostUnreachable, CauseHostUnreachable},
		{syscall.ECONNRESET, CauseReset, CauseReset, CauseReset},
		{syscall.EPIPE, CauseReset, CauseReset, CauseReset},
		{errIOTimeout, CauseResolverTimeout, CauseFiltered, CauseTimeout},
		{fmt.Errorf("%w: %w", errNetlinkRefused, syscall.EAFNOSUPPORT), CauseNetlinkRefused, CauseNetlinkRefused, CauseNetlinkRefused},
		{errors.New("something else"), CauseResolverError, CauseOther, CauseOther},
	} {
		for _, err := range []error{c.err, wrapped(c.err)} {
			for phase, want := range map[PhaseName]Cause{PhaseQuery: c.query, PhaseConnect: c.connect, PhaseRequest: c.request} {
				if got := errnoCause(err, phase); got != want {
					t.Errorf("errnoCause(%v, %s) = %s, want %s", err, phase, got, want)
				}
			}
		}
	}
	if f := FailureOf(wrapped(syscall.ECONNREFUSED)); f.Cause != CausePortClosed || f.Phase != "" {
		t.Errorf("FailureOf an unexplained refusal: %+v", f)
	}
	if FailureOf(nil) != nil {
		t.Errorf("FailureOf(nil) is not nil")
	}
}

func TestRcodeCause(t *testing.T) {
	for rcode, want := range map[int]Cause{
		dns.RcodeServerFailure:  CauseResolverServfail,
		dns.RcodeRefused:        CauseResolverRefused,
		dns.RcodeNameError:      CauseNXDomain,
		dns.RcodeFormatError:    CauseResolverError,
		dns.RcodeNotImplemented: CauseResolverError,
	} {
		if got := rcodeCause(rcode); got != want {
			t.Errorf("rcodeCause(%s) = %s, want %s", dns.RcodeToString[rcode], got, want)
		}
	}
}
