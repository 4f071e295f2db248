package probe

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// probeDNS asks the target's server, or every resolver from resolv.conf at
// once, for t.Name and t.QType. It passes on the first reply with rcode
// NOERROR and at least one record of the asked type (after CNAMEs); when none
// passes, the error names every server and what it answered.
func probeDNS(ctx context.Context, env *Env, t Target) Result {
	tm := newTiming()
	rc, err := env.Resolvers()
	if err != nil {
		return Result{Err: err}
	}
	var servers []netip.AddrPort
	if t.Server != "" {
		servers, err = env.serverAddrs(ctx, rc, t.Server)
		if err != nil {
			return Result{Err: fmt.Errorf("server %s: %w", t.Server, err), Phases: tm.done("resolve")}
		}
		tm.mark("resolve")
	} else {
		servers = rc.Servers
	}
	res := Result{Local: allLoopback(servers)}
	q := dns.Question{Name: t.Name, Qtype: t.QType, Qclass: dns.ClassINET}
	// accept runs in askAll's goroutines, one per server: it must not
	// write to anything they share.
	ok, all := askAll(ctx, rc, servers, q, func(r *dns.Msg) error {
		if r.Rcode != dns.RcodeSuccess {
			return &rcodeError{r.Rcode}
		}
		_, err := answers(r, q)
		return err
	})
	tm.mark("query")
	res.Phases = tm.snapshot()
	if ok == nil {
		err := joinServerErrors(all)
		if t.Server == "" && rc.Defaulted {
			err = fmt.Errorf("%s, so the default was tried: %w", rc.defaultReason(), err)
		}
		res.Err = fmt.Errorf("query %q %s: %w", t.Name, qtypeString(t.QType), err)
		return res
	}
	rrs, _ := answers(ok.msg, q)
	res.Detail = fmt.Sprintf("%s answered %s%s", ok.server, describeRRs(rrs), map[string]string{"tcp": " over tcp"}[ok.transport])
	return res
}

// done marks the last phase and returns all of them.
func (tm *timing) done(name string) []Phase {
	tm.mark(name)
	return tm.snapshot()
}

// serverAddrs turns the "host:port" of a dns:// target into addresses,
// resolving a host name with the system resolvers.
func (e *Env) serverAddrs(ctx context.Context, rc *ResolvConf, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	host, portStr, _ := strings.Cut(hostport, ":")
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	addrs, err := e.lookupHost(ctx, rc, host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(a, uint16(port))
	}
	return out, nil
}

func allLoopback(servers []netip.AddrPort) bool {
	for _, s := range servers {
		if !s.Addr().IsLoopback() {
			return false
		}
	}
	return len(servers) > 0
}

// describeRRs summarises an answer: "1 A record (10.213.1.1)".
func describeRRs(rrs []dns.RR) string {
	if len(rrs) == 0 {
		return "no records"
	}
	typ := qtypeString(rrs[0].Header().Rrtype)
	first := strings.TrimPrefix(rrs[0].String(), rrs[0].Header().String())
	return fmt.Sprintf("%s (%s)", plural(len(rrs), typ+" record", typ+" records"), first)
}
