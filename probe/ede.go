package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// Extended DNS Errors (RFC 8914): a resolver may add to any reply EDNS
// options that say why it answered so — a DNSSEC signature that expired,
// an upstream it could not reach, an access list that refuses this host, a
// blocklist, an answer served stale from its cache. The probe reads them
// from every reply it examines, reports each with its code, name and text,
// and lets those with a clear meaning choose the cause and the hint.

// The EDE codes (RFC 8914 section 4, IANA's registry) that choose a cause.
const (
	edeUnsupportedDNSKEYAlgorithm = 1
	edeUnsupportedDSDigest        = 2
	edeStaleAnswer                = 3
	edeDNSSECIndeterminate        = 5
	edeDNSSECBogus                = 6
	edeSignatureExpired           = 7
	edeSignatureNotYetValid       = 8
	edeDNSKEYMissing              = 9
	edeRRSIGsMissing              = 10
	edeNoZoneKeyBitSet            = 11
	edeNSECMissing                = 12
	edeBlocked                    = 15
	edeCensored                   = 16
	edeFiltered                   = 17
	edeProhibited                 = 18
	edeStaleNXDomain              = 19
	edeNoReachableAuthority       = 22
	edeNetworkError               = 23
)

// Bounds on what a reply's EDE options put into a message: the EXTRA-TEXT
// is free text of the resolver's (a sentence, or a code of its own), and a
// reply may carry several options, each as long as the reply allows.
const (
	maxEDEText = 200 // bytes of one option's text, cut at a character
	maxEDEs    = 3   // options reported per reply; the rest are counted
)

// extendedError is one EDE option of a reply.
type extendedError struct {
	code uint16
	text string // EXTRA-TEXT as sent, not yet bounded
}

// String says the option for a person: `extended error 7 (Signature
// Expired): "validation failure …"`, the text bounded and quoted (its
// control characters and invalid UTF-8 escaped).
func (e extendedError) String() string {
	var b strings.Builder
	b.WriteString("extended error ")
	b.WriteString(strconv.Itoa(int(e.code)))
	b.WriteString(" (")
	b.WriteString(edeName(e.code))
	b.WriteString(")")
	if t := strings.TrimSpace(e.text); t != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(boundText(t, maxEDEText)))
	}
	return b.String()
}

// edeName is the registry's name of code, or "unassigned".
func edeName(code uint16) string {
	if s, ok := dns.ExtendedErrorCodeToString[code]; ok {
		return s
	}
	return "unassigned"
}

// boundText cuts s to at most n bytes, at a character boundary, marking
// the cut.
func boundText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// extendedErrors reads the EDE options of r, nil if it has none: a reply
// without them costs no allocation.
func extendedErrors(r *dns.Msg) []extendedError {
	opt := r.IsEdns0()
	if opt == nil {
		return nil
	}
	var edes []extendedError
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			edes = append(edes, extendedError{code: e.InfoCode, text: e.ExtraText})
		}
	}
	return edes
}

// describeEDEs says every option of edes, up to maxEDEs.
func describeEDEs(edes []extendedError) string {
	n := min(len(edes), maxEDEs)
	parts := make([]string, n, n+1)
	for i := range n {
		parts[i] = edes[i].String()
	}
	if len(edes) > n {
		parts = append(parts, plural(len(edes)-n, "more extended error", "more extended errors"))
	}
	return strings.Join(parts, ", ")
}

// edeClass is what an EDE code says of a reply, for the cause.
func edeClass(code uint16) Cause {
	switch code {
	case edeUnsupportedDNSKEYAlgorithm, edeUnsupportedDSDigest, edeDNSSECIndeterminate, edeDNSSECBogus,
		edeSignatureExpired, edeSignatureNotYetValid, edeDNSKEYMissing, edeRRSIGsMissing,
		edeNoZoneKeyBitSet, edeNSECMissing:
		return CauseDNSSECFailed
	case edeBlocked, edeCensored, edeFiltered:
		return CauseDNSBlocked
	case edeProhibited:
		return CauseResolverRefused
	case edeNoReachableAuthority, edeNetworkError:
		return CauseResolverUpstream
	}
	return CauseNone
}

// edeCause is the cause the options of a failing reply give it, and the
// option that gives it; CauseNone when none has a clear meaning, and the
// rcode's cause stands. A blocklist fails a reply whatever its rcode (its
// answer, a sinkhole address or NXDOMAIN, is not the name's); the others
// explain an error rcode only (SERVFAIL, REFUSED …): beside NOERROR or
// NXDOMAIN the authority was reached and answered. Of several options, a
// DNSSEC failure explains first, then a blocklist, an access list, an
// unreachable upstream.
func edeCause(rcode int, edes []extendedError) (Cause, *extendedError) {
	answered := rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError
	var (
		best *extendedError
		rank int
	)
	for i := range edes {
		c := edeClass(edes[i].code)
		if c == CauseNone || answered && c != CauseDNSBlocked {
			continue
		}
		if r := edeRank(c); r > rank {
			best, rank = &edes[i], r
		}
	}
	if best == nil {
		return CauseNone, nil
	}
	return edeClass(best.code), best
}

// edeRank orders the causes of edeClass by how much they explain.
func edeRank(c Cause) int {
	switch c {
	case CauseDNSSECFailed:
		return 4
	case CauseDNSBlocked:
		return 3
	case CauseResolverRefused:
		return 2
	}
	return 1 // CauseResolverUpstream
}

// blockedError is a reply that would pass but whose resolver says it
// blocks the name (EDE 15-17): its answer is the resolver's, not the
// name's.
type blockedError struct{ rcode int }

func (e *blockedError) Error() string {
	return "blocked (" + (&rcodeError{e.rcode}).Error() + ")"
}

// checkBlocked fails a reply that passed accept if the resolver says it
// blocks the name.
func checkBlocked(r *dns.Msg) error {
	opt := r.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok && edeClass(e.InfoCode) == CauseDNSBlocked {
			return &blockedError{r.Rcode}
		}
	}
	return nil
}

// edeError is the failure of a reply with the EDE options it carried.
type edeError struct {
	err  error // the reply's failure: an rcode, no records, a wrong answer
	edes []extendedError
	// why is the option that chose the cause; nil if the rcode's
	// stands.
	why *extendedError
	// clock is this host's clock, read when why is about a signature's
	// validity period (EDE 7, 8); nil otherwise or when unreadable.
	clock *clockState
}

func (e *edeError) Error() string { return e.err.Error() + ", " + describeEDEs(e.edes) }
func (e *edeError) Unwrap() error { return e.err }

// withEDEs adds to f, the failure of a reply r from a server, the EDE
// options r carried: its message names them, and the one with a clear
// meaning chooses the cause. f is returned as is when r has none.
func (e *Env) withEDEs(f *Failure, r *dns.Msg) *Failure {
	if r == nil || f.Phase != PhaseAnswer {
		return f
	}
	edes := extendedErrors(r)
	if len(edes) == 0 {
		return f
	}
	ee := &edeError{err: f.Err, edes: edes}
	c, why := edeCause(r.Rcode, edes)
	g := *f
	if why != nil {
		ee.why = why
		g.Cause = c
		if why.code == edeSignatureExpired || why.code == edeSignatureNotYetValid {
			if cs, err := e.clockState(); err == nil {
				ee.clock = &cs
			}
		}
	}
	g.Err = ee
	return &g
}

// edeOf is the edeError of the server f concerns (its Hop), among the
// servers a joined failure names; nil if that server's reply had no EDE
// option. A server asked several types (A and AAAA) has a reply to each:
// the one whose cause is f's is meant.
func edeOf(f *Failure) *edeError {
	var se *serversError
	if errors.As(f.Err, &se) {
		var (
			first   *edeError
			matched bool
		)
		for _, r := range se.all {
			if r.err == nil || r.server.String() != f.Hop {
				continue
			}
			var ee *edeError
			if !errors.As(r.err, &ee) {
				ee = nil
			}
			if FailureOf(r.err).Cause == f.Cause {
				return ee
			}
			if !matched {
				first, matched = ee, true
			}
		}
		if matched {
			return first
		}
	}
	var ee *edeError
	if errors.As(f.Err, &ee) {
		return ee
	}
	return nil
}

// edeNote is what the EDE options of a passing reply add to its detail:
// ", a stale answer (extended error 3 (Stale Answer))"; "" if it has none.
func edeNote(r *dns.Msg) string {
	edes := extendedErrors(r)
	if len(edes) == 0 {
		return ""
	}
	for _, e := range edes {
		if e.code == edeStaleAnswer || e.code == edeStaleNXDomain {
			return ", served stale from the resolver's cache (" + describeEDEs(edes) + "): its upstream may be unreachable"
		}
	}
	return " (" + describeEDEs(edes) + ")"
}

// dnssecHint is the hint of a DNSSEC failure that a resolver reported.
func dnssecHint(f *Failure) string {
	ee := edeOf(f)
	if ee == nil || ee.why == nil {
		return "the resolver could not validate the answer's DNSSEC signatures: the zone's DNSSEC is broken, or something on the way alters the answers"
	}
	code := ee.why.code
	if code != edeSignatureExpired && code != edeSignatureNotYetValid {
		return fmt.Sprintf("the resolver at %s found the zone's DNSSEC broken (%s): the zone's operator must fix it; the resolver's operator can add a negative trust anchor meanwhile", f.Hop, edeName(code))
	}
	expired, what := "expired", "have expired"
	if code == edeSignatureNotYetValid {
		expired, what = "not valid yet", "are not valid yet"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	ap, _ := netip.ParseAddrPort(f.Hop)
	if ap.Addr().IsLoopback() {
		// A resolver on this host validates with this host's clock.
		switch {
		case ee.clock != nil && !ee.clock.synced:
			return fmt.Sprintf("signatures %s by this host's clock, which the local resolver validates with: it reads %s and is not synchronised (adjtimex: %s): start an NTP client and wait for clock:synced first",
				expired, now, ee.clock.describe())
		case ee.clock != nil:
			return fmt.Sprintf("this host's clock, which the local resolver validates with, reads %s and is synchronised: the zone's signatures %s, and its operator must re-sign it", now, what)
		}
		return fmt.Sprintf("signatures %s by this host's clock (it reads %s), which the local resolver validates with: is it right (clock:synced)? If it is, the zone's operator must re-sign it", expired, now)
	}
	s := fmt.Sprintf("the resolver at %s judges signatures by its own clock: is that host's clock right (NTP)? If it is, the zone's signatures %s and its operator must re-sign it", f.Hop, what)
	if ee.clock != nil && !ee.clock.synced {
		s += fmt.Sprintf("; this host's clock is not synchronised (adjtimex: %s): if the resolver takes its time from the same source, wait for clock:synced", ee.clock.describe())
	}
	return s
}

// upstreamHint is the hint of a resolver that says it cannot get answers
// from the authorities or its forwarders (EDE 22, 23).
func upstreamHint(f *Failure) string {
	at := "the resolver"
	if f.Hop != "" {
		at = "the resolver at " + f.Hop
	}
	return at + " runs, but cannot get an answer from the zone's servers or its forwarders: look at its own upstream (its route and firewall out, the forwarders it names)"
}

// blockedHint is the hint of a name a resolver blocks by policy.
func blockedHint(f *Failure) string {
	at := "the resolver"
	if f.Hop != "" {
		at = "the resolver at " + f.Hop
	}
	return at + " blocks this name by its policy (a blocklist, a response policy zone): if the name must resolve, its operator must allow it, or use another resolver"
}

// prohibitedHint is the hint of a resolver that refuses this host by its
// access list (EDE 18), "" if f's reply did not say so.
func prohibitedHint(f *Failure) string {
	ee := edeOf(f)
	if ee == nil || ee.why == nil || ee.why.code != edeProhibited {
		return ""
	}
	return "the resolver at " + f.Hop + " refuses this host by its access list (" + edeName(edeProhibited) +
		"): allow this host's address there (unbound access-control, BIND allow-query and allow-recursion)"
}
