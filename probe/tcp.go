package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var tcpKind = KindDef{
	Schemes:  []Kind{KindTCP},
	Usage:    []Usage{{"tcp://HOST:PORT", "a TCP connection is established"}},
	ManTitle: "tcp://HOST:PORT",
	Man: `A TCP connection to one of HOST's addresses is established; all of them are tried at once,
IPv4 and IPv6 alike, and the first to connect wins. Parameters: **via=**, **src=**, **family=**.`,
	Authority: true,
	Complete:  []string{"tcp://"},
	parse:     parseHostPort(KindTCP),
	format:    formatHostPort,
	probe:     probeTCP,
}

func parseHostPort(kind Kind) func(raw, rest string) (Target, error) {
	return func(raw, rest string) (Target, error) {
		auth, query, err := authority(raw, rest, kind)
		if err != nil {
			return Target{}, err
		}
		host, port, err := splitHostPort(auth, "")
		if err != nil {
			return Target{}, &ParseError{raw, err.Error()}
		}
		if err := checkHost(host); err != nil {
			return Target{}, &ParseError{raw, err.Error()}
		}
		t := Target{Host: host, Port: port}
		if err := setParams(raw, &t, kind, query); err != nil {
			return Target{}, err
		}
		if err := checkFamilies(raw, t, host); err != nil {
			return Target{}, err
		}
		return t, nil
	}
}

// formatHostPort is the canonical form of a tcp or tls target.
func formatHostPort(t Target) string {
	return withParams(string(t.Kind)+"://"+net.JoinHostPort(t.Host, t.Port), t)
}

// probeTCP resolves the target's host afresh and passes when a TCP
// connection to any of its addresses is established.
func probeTCP(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	c, dests, local, err := env.connect(ctx, t, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: dests}
	}
	c.Close()
	return Result{Detail: "connected to " + c.RemoteAddr().String() + socketsOf(t).pathNote(addrOf(c.RemoteAddr())), Phases: tm.snapshot(), Local: local, Dests: dests}
}

// connect resolves t's host and connects to every address at once; the
// first established connection wins and the others are closed. local
// reports whether the attempt stayed on this host (see resolveHost).
//
// dests are the addresses it needed, for the path explanation: the
// endpoint's, or the resolvers' if the name could not be resolved; none
// when it connected, unless e.Explain asks for every path.
func (e *Env) connect(ctx context.Context, t Target, tm *timing) (c net.Conn, dests []netip.AddrPort, local bool, err error) {
	host, port := t.Endpoint()
	addrs, local, err := e.resolveHost(ctx, t, host, tm)
	if err != nil {
		return nil, e.resolverAddrs(), local, err
	}
	c, err = dialFirst(ctx, e.socketsFor(t).inAttempt(ctx), addrs, port)
	tm.mark(PhaseConnect)
	if err != nil {
		return nil, withPort(addrs, port), local, err
	}
	if e.Explain {
		dests = withPort(addrs, port)
	}
	return c, dests, local, nil
}

// withPort pairs each address with port (a number; 0 if it is not one).
func withPort(addrs []netip.Addr, port string) []netip.AddrPort {
	p, _ := strconv.ParseUint(port, 10, 16)
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a, uint16(p))
	}
	return out
}

// dialError names the address whose connection failed.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return fmt.Sprintf("connect %s: %v", e.addr, e.err) }
func (e *dialError) Unwrap() error { return e.err }

// dialFirst dials every address at once, with sockets made as s says, and
// returns the first connection established, closing any later one: of a
// name's IPv4 and IPv6 addresses, the family that answers first wins, and
// one that is blackholed costs nothing (RFC 8305's aim, without its 250 ms
// stagger: a probe makes one connection, not one per page load). When all
// fail, the error names each address, by family when there are both.
func dialFirst(ctx context.Context, s sockets, addrs []netip.Addr, port string) (net.Conn, error) {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", port)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, len(addrs))
	for _, a := range addrs {
		pool.Go(func() {
			ap := netip.AddrPortFrom(a, uint16(p))
			if f := s.clear(a); f != nil {
				ch <- res{nil, f}
				return
			}
			start := time.Now()
			c, err := s.dialer("tcp", a).DialContext(ctx, "tcp", ap.String())
			var icmp *icmpError
			if err != nil && icmpShaped(err) && ctx.Err() == nil {
				c, icmp, err = s.redialTCP(ctx, ap, err, time.Since(start))
			}
			if err != nil {
				de := &dialError{ap.String(), cleanNetError(ctx, err)}
				if f := s.localFailure(err); f != nil {
					err = f
				} else if f := s.fromICMP(icmp, ap, PhaseConnect, de); f != nil {
					err = f
				} else {
					err = classify(de, PhaseConnect, ap)
				}
			}
			ch <- res{c, err}
		})
	}
	var (
		won  net.Conn
		errs []error
	)
	for range addrs {
		r := <-ch
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case won == nil:
			won = r.c
			cancel()
		default:
			r.c.Close()
		}
	}
	if won != nil {
		return won, nil
	}
	return nil, joinFailures(byFamily(errs))
}

// icmpShaped reports whether err, the failure of a connect, is one an
// ICMP error can cause (icmp_err_convert in the kernel): network or host
// unreachable, administratively prohibited, port unreachable (or a TCP
// reset: the errno does not tell them apart), time exceeded.
func icmpShaped(err error) bool {
	for _, e := range []error{syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ECONNREFUSED, syscall.EACCES, syscall.EHOSTDOWN, syscall.ENONET, syscall.ENOPROTOOPT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// redialTCP connects to ap once more after a connect that failed with
// first, after took, with a socket that keeps the ICMP error that fails it
// (IP_RECVERR must be asked for before the error comes; a connect that
// passes should not pay for asking). It returns the connection if this one
// is established, or the ICMP error and this attempt's error, or first
// when this attempt learnt nothing: no ICMP error came within a few times
// what the first one took (a router may rate-limit its errors), or the
// network changed in between and this attempt failed otherwise.
//
// A connect queued behind a neighbour entry that failed (maybe one another
// process left) is asked again at once this way too: a new entry asks.
func (s sockets) redialTCP(ctx context.Context, ap netip.AddrPort, first error, took time.Duration) (net.Conn, *icmpError, error) {
	rctx, cancel := context.WithTimeout(ctx, 4*took+250*time.Millisecond)
	defer cancel()
	c, icmp, err := s.dialTCP(rctx, ap)
	if err != nil && icmp == nil {
		return nil, nil, first
	}
	return c, icmp, err
}

// byFamily orders the errors of one target's addresses by family, IPv4
// first, and prefixes each with its family when there are both, so that a
// report says how each family failed: "IPv4: connect 10.0.0.1:80: i/o
// timeout; IPv6: connect [fd00::1]:80: connection refused".
func byFamily(errs []error) []error {
	var v4, v6 []error
	for _, err := range errs {
		var de *dialError
		if errors.As(err, &de) && strings.HasPrefix(de.addr, "[") {
			v6 = append(v6, err)
		} else {
			v4 = append(v4, err)
		}
	}
	if len(v4) == 0 || len(v6) == 0 {
		return errs
	}
	out := make([]error, 0, len(errs))
	for _, err := range v4 {
		out = append(out, FailureOf(err).With(fmt.Errorf("IPv4: %w", err)))
	}
	for _, err := range v6 {
		out = append(out, FailureOf(err).With(fmt.Errorf("IPv6: %w", err)))
	}
	return out
}

// joinFailures joins the failures of one target's addresses; its cause is
// that of the address that got furthest.
func joinFailures(errs []error) error {
	fs := make([]*Failure, len(errs))
	for i, err := range errs {
		fs[i] = FailureOf(err)
	}
	return furthest(fs).With(joinErrors(errs))
}

// joinErrors joins errors with "; " on one line; errors.Is and errors.As
// still see each of them.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return &multiError{errs}
}

type multiError struct{ errs []error }

func (e *multiError) Error() string {
	s := make([]string, len(e.errs))
	for i, err := range e.errs {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (e *multiError) Unwrap() []error { return e.errs }

func allLoopbackAddrs(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !a.IsLoopback() {
			return false
		}
	}
	return len(addrs) > 0
}
