package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

var icmpKind = KindDef{
	Schemes:  []Kind{KindICMP},
	Usage:    []Usage{{"icmp://HOST", "an echo reply comes back"}},
	ManTitle: "icmp://HOST",
	Man: `An echo reply comes back, over an unprivileged ICMP socket when
net.ipv4.ping_group_range allows the process's group, else a raw socket (CAP_NET_RAW).
Parameters: **via=** (the interface index of every request, IP_PKTINFO), **src=**, **family=**.`,
	Authority: true,
	Complete:  []string{"icmp://"},
	parse:     parseICMP,
	format: func(t Target) string {
		if strings.Contains(t.Host, ":") {
			return withParams("icmp://["+t.Host+"]", t)
		}
		return withParams("icmp://"+t.Host, t)
	},
	probe: probeICMP,
}

func parseICMP(raw, rest string) (Target, error) {
	auth, query, err := authority(raw, rest, KindICMP)
	if err != nil {
		return Target{}, err
	}
	host := auth
	if end := strings.IndexByte(auth, ']'); strings.HasPrefix(auth, "[") && end >= 0 && strings.HasPrefix(auth[end+1:], ":") {
		return Target{}, &ParseError{raw, "an icmp target has no port"}
	}
	if strings.HasPrefix(auth, "[") && strings.HasSuffix(auth, "]") {
		host = auth[1 : len(auth)-1]
		if !strings.Contains(host, ":") {
			return Target{}, &ParseError{raw, fmt.Sprintf("%q is not a valid IPv6 address", host)}
		}
	} else if strings.Count(auth, ":") == 1 {
		return Target{}, &ParseError{raw, "an icmp target has no port"}
	}
	if err := checkHost(host); err != nil {
		return Target{}, &ParseError{raw, err.Error()}
	}
	t := Target{Host: host}
	if err := setParams(raw, &t, KindICMP, query); err != nil {
		return Target{}, err
	}
	if err := checkFamilies(raw, t, host); err != nil {
		return Target{}, err
	}
	return t, nil
}

// icmpInterval is how often an echo request is sent again while no reply
// has come: the first one is often lost to ARP or neighbour discovery.
const icmpInterval = 500 * time.Millisecond

// probeICMP resolves the host and passes when an echo reply comes back from
// any of its addresses. It uses an unprivileged ICMP socket where
// net.ipv4.ping_group_range allows the process's group, and a raw socket
// (CAP_NET_RAW) otherwise.
func probeICMP(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	addrs, local, err := env.resolveHost(ctx, t, t.Host, tm)
	if err != nil {
		return Result{Err: err, Phases: tm.snapshot(), Local: local, Dests: env.resolverAddrs()}
	}
	res := Result{Local: local, Dests: withPort(addrs, "0")}
	type reply struct {
		addr netip.Addr
		rtt  time.Duration
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan reply, len(addrs))
	for _, a := range addrs {
		pool.Go(func() {
			rtt, err := ping(ctx, env.socketsFor(t), a)
			ch <- reply{a, rtt, err}
		})
	}
	var errs []error
	for range addrs {
		r := <-ch
		if r.err == nil {
			cancel()
			res.Phases = tm.done(PhaseEcho)
			res.Detail = fmt.Sprintf("echo reply from %s in %s%s", r.addr, r.rtt.Round(time.Microsecond), socketsOf(t).pathNote(r.addr))
			return res
		}
		err := fmt.Errorf("ping %s: %w", r.addr, r.err)
		var pe *icmpPermissionError
		if f := socketsOf(t).localFailure(err); f != nil {
			err = f
		} else if errors.As(err, &pe) {
			err = fail(CauseICMPNotPermitted, PhaseEcho, "", err)
		} else {
			err = classify(err, PhaseEcho, netip.AddrPortFrom(r.addr, 0))
		}
		errs = append(errs, err)
	}
	res.Phases = tm.done(PhaseEcho)
	res.Err = joinFailures(errs)
	return res
}

// icmpPermissionError is a host where neither an unprivileged ICMP socket
// nor a raw one may be opened.
type icmpPermissionError struct{ unpriv, raw error }

func (e *icmpPermissionError) Error() string {
	return fmt.Sprintf("cannot open an ICMP socket: unprivileged ping is not allowed for this group by net.ipv4.ping_group_range (%v) and a raw socket needs CAP_NET_RAW (%v)", e.unpriv, e.raw)
}

// ping sends echo requests to a until one is answered or ctx ends, from
// s's source address when it is of a's family. pro-bing does not bind its
// socket to a device: via= sets the interface index of every request
// (IP_PKTINFO, IPV6_PKTINFO), which routes it out through that interface
// as SO_BINDTODEVICE would.
func ping(ctx context.Context, s sockets, a netip.Addr) (time.Duration, error) {
	if f := s.clear(a); f != nil {
		return 0, f
	}
	var unprivErr error
	for _, privileged := range []bool{false, true} {
		p := probing.New(a.String())
		p.SetIPAddr(&net.IPAddr{IP: a.AsSlice(), Zone: a.Zone()})
		p.SetPrivileged(privileged)
		p.InterfaceName = s.via
		if s.src.IsValid() && s.src.Is4() == a.Unmap().Is4() {
			p.Source = s.src.String()
		}
		p.SetLogger(probing.NoopLogger{})
		p.Count = 1
		p.Interval = icmpInterval
		if dl, ok := ctx.Deadline(); ok {
			// pro-bing panics on a timeout that is not positive (its
			// time.NewTicker), which a deadline already passed gives.
			if p.Timeout = time.Until(dl); p.Timeout <= 0 {
				return 0, errIOTimeout
			}
		}
		err := p.RunWithContext(ctx)
		if err != nil && isPermission(err) {
			if !privileged {
				unprivErr = err
				continue
			}
			return 0, &icmpPermissionError{unpriv: unprivErr, raw: err}
		}
		st := p.Statistics()
		if st.PacketsRecv > 0 {
			return st.MinRtt, nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return 0, cleanNetError(ctx, err)
		}
		return 0, fmt.Errorf("no echo reply (%s sent): %w", plural(st.PacketsSent, "request", "requests"), errIOTimeout)
	}
	panic("unreachable")
}

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission)
}
