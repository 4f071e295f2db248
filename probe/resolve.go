package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// errNoSuchHost is a name with no address: NXDOMAIN, or no A and no AAAA
// records, under every name the search list gave.
var errNoSuchHost = errors.New("no such host")

// lookupHost resolves host the way the C library would with "hosts: files
// dns": an IP literal as itself, then the hosts file, then the resolvers of
// rc (A and AAAA at once, every server at once), with the search list and
// ndots applied. Nothing is cached: every call asks again, so the servers
// are the ones rc names now, not those Go's resolver read seconds ago.
//
// s makes the sockets of the queries (see sockets.forResolver); family, 4
// or 6, asks for that family's addresses only (0: both).
func (e *Env) lookupHost(ctx context.Context, rc *ResolvConf, s sockets, family int, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	hosts, err := e.hostsOnce()
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(strings.TrimSuffix(host, "."))
	if addrs := ofFamily(hosts[key], family); len(addrs) > 0 {
		return addrs, nil
	}
	// RFC 6761 6.3: localhost names are loopback, whatever DNS says.
	if key == "localhost" || strings.HasSuffix(key, ".localhost") {
		return ofFamily([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, family), nil
	}
	// As glibc's res_search: a name that does not exist, or whose every
	// server answered SERVFAIL, moves on to the next name of the search
	// list; any other failure (a timeout, REFUSED, no route) ends the
	// search. A SERVFAIL seen on the way is the answer if no later name
	// resolves: the name may exist, so "no such host" would be wrong.
	var servfail error
	noSuch := noSuchHost(CauseNXDomain, host)
	for _, name := range searchNames(rc, host) {
		addrs, err := e.lookupName(ctx, rc, s, family, name)
		switch {
		case errors.Is(err, errNoSuchHost):
			if f := FailureOf(err); f.Cause == CauseNoRecords {
				noSuch = f // the name exists, at least under this form
			}
			continue
		case isServfail(err):
			if servfail == nil {
				servfail = err
			}
			continue
		}
		return addrs, err
	}
	if servfail != nil {
		return nil, servfail
	}
	return nil, noSuch
}

// ofFamily is the addresses of addrs of family (4 or 6; 0 for all).
func ofFamily(addrs []netip.Addr, family int) []netip.Addr {
	if family == 0 {
		return addrs
	}
	var out []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() == (family == 4) {
			out = append(out, a)
		}
	}
	return out
}

// noSuchHost is errNoSuchHost for name, caused by NXDOMAIN or by no A and
// no AAAA records: a resolver's prompt "no" (see Refusal).
func noSuchHost(c Cause, name string) *Failure {
	f := fail(c, PhaseResolve, name, errNoSuchHost)
	f.refused = true
	return f
}

// isServfail reports whether err is a lookup whose every server answered
// SERVFAIL.
func isServfail(err error) bool {
	var se *serversError
	if !errors.As(err, &se) {
		return false
	}
	n := 0
	for _, r := range se.all {
		if r.err == nil {
			continue
		}
		var rc *rcodeError
		if !errors.As(r.err, &rc) || rc.rcode != dns.RcodeServerFailure {
			return false
		}
		n++
	}
	return n > 0
}

// searchNames lists the fully qualified names to try for host, in the order
// of resolv.conf(5): a name ending in a dot is absolute; a name with at least
// ndots dots is tried as is first, then with each search domain.
func searchNames(rc *ResolvConf, host string) []string {
	if strings.HasSuffix(host, ".") {
		return []string{host}
	}
	var names []string
	for _, d := range rc.Search {
		names = append(names, host+"."+d)
	}
	abs := host + "."
	if strings.Count(host, ".") >= rc.Ndots {
		return append([]string{abs}, names...)
	}
	return append(names, abs)
}

// resolutionDelay is how long the other of the A and AAAA queries is waited
// for once one has brought addresses (RFC 8305 section 3 suggests 50 ms):
// a resolver that drops or refuses AAAA queries must not hold every name
// until the attempt's deadline, leaving no time to connect.
const resolutionDelay = 50 * time.Millisecond

// lookupName asks for name's A and AAAA records at once (only one of them
// for family 4 or 6). It returns errNoSuchHost when the answers are
// definitive (NXDOMAIN or no records) and an error naming the servers when
// no server gave a definitive answer.
func (e *Env) lookupName(ctx context.Context, rc *ResolvConf, s sockets, family int, name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		addrs [2][]netip.Addr
		errs  [2]error
		nx    [2]bool // the answer was NXDOMAIN
	)
	done := make(chan int, 2)
	for i, qt := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
		if family == 4 && qt == dns.TypeAAAA || family == 6 && qt == dns.TypeA {
			nx[i] = true // as if: the other family's answer decides
			done <- i
			continue
		}
		pool.Go(func() {
			defer func() { done <- i }()
			q := dns.Question{Name: name, Qtype: qt, Qclass: dns.ClassINET}
			// accept runs in askAll's goroutines, one per server: it
			// must not write to anything they share.
			ok, all := e.askAll(ctx, rc, s, rc.Servers, q, func(r *dns.Msg) error {
				switch r.Rcode {
				case dns.RcodeSuccess, dns.RcodeNameError:
					return nil
				}
				return &rcodeError{r.Rcode}
			})
			if ok == nil {
				errs[i] = joinServerErrors(all)
				return
			}
			nx[i] = ok.msg.Rcode == dns.RcodeNameError
			rrs, _ := answers(ok.msg, q)
			for _, rr := range rrs {
				switch rr := rr.(type) {
				case *dns.A:
					a, _ := netip.AddrFromSlice(rr.A.To4())
					addrs[i] = append(addrs[i], a)
				case *dns.AAAA:
					a, _ := netip.AddrFromSlice(rr.AAAA.To16())
					addrs[i] = append(addrs[i], a)
				}
			}
		})
	}
	first := <-done
	if len(addrs[first]) > 0 {
		t := time.NewTimer(resolutionDelay)
		select {
		case <-done:
		case <-t.C:
			cancel() // what it would have said no longer matters
			<-done
		}
		t.Stop()
	} else {
		<-done
	}
	if all := append(addrs[0], addrs[1]...); len(all) > 0 {
		return all, nil
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	if errs[1] != nil {
		return nil, errs[1]
	}
	if nx[0] && nx[1] {
		return nil, noSuchHost(CauseNXDomain, name)
	}
	return nil, noSuchHost(CauseNoRecords, name)
}

// resolveHost is lookupHost for the host of a tcp, tls, http or icmp target,
// reading the round's resolver configuration. It marks the resolve phase in
// tm when a lookup was needed. local reports whether the attempt stays on
// this host: its addresses are all loopback ones or, when the name could
// not be resolved, the resolvers asked were — a local resolver that starts
// late announces itself by no event, so the target is re-checked as often
// as a local one.
//
// It is also where a probe starts: the interface t's via= names must exist
// and be up before anything is sent.
func (e *Env) resolveHost(ctx context.Context, t Target, host string, tm *timing) (addrs []netip.Addr, local bool, err error) {
	s := e.socketsFor(t)
	if f := s.checkVia(); f != nil {
		return nil, true, f
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, a.IsLoopback(), nil
	}
	rc, err := e.Resolvers()
	if err != nil {
		return nil, true, err
	}
	addrs, err = e.lookupHost(ctx, rc, s, t.Family, host)
	tm.mark(PhaseResolve)
	if err != nil {
		f := FailureOf(err)
		if rc.Defaulted && !errors.Is(err, errNoSuchHost) {
			err = &defaultedError{rc: rc, err: err}
		}
		return nil, allLoopback(rc.Servers), f.With(&resolveError{host: host, err: err})
	}
	return addrs, allLoopbackAddrs(addrs), nil
}

// resolveError is a failure to resolve the host of a target, kept apart so
// that a report can say the cause is DNS, not the endpoint.
type resolveError struct {
	host string
	err  error
}

func (e *resolveError) Error() string {
	if errors.Is(e.err, errNoSuchHost) {
		return fmt.Sprintf("resolve %q: no such host", e.host)
	}
	return fmt.Sprintf("resolve %q: %v", e.host, e.err)
}

func (e *resolveError) Unwrap() error { return e.err }

// resolverAddrs are the resolvers the round's configuration names, the
// destinations of a name that could not be resolved; nil if it cannot be
// read.
func (e *Env) resolverAddrs() []netip.AddrPort {
	rc, err := e.Resolvers()
	if err != nil {
		return nil
	}
	return rc.Servers
}
