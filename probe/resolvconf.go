package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ResolvConf is the part of resolv.conf(5) that netready uses.
type ResolvConf struct {
	// Servers are "ip:port" addresses (port 53, IPv6 in brackets with an
	// optional zone), in file order, without duplicates.
	Servers []netip.AddrPort
	// Search is the search list, each domain fully qualified.
	Search []string
	// Ndots, Timeout and Attempts are the options of the same names, with
	// glibc's defaults (1, 5s, 2) and limits (15, 30s, 5).
	Ndots    int
	Timeout  time.Duration
	Attempts int
	// Defaulted reports that the file named no usable nameserver (or did not
	// exist), so Servers holds the fallback glibc and Go use: the loopback
	// addresses.
	Defaulted bool
	// Missing reports that the file did not exist.
	Missing bool
	// Path is the file this was read from.
	Path string
}

// maxNameservers is glibc's MAXNS: later nameserver lines are ignored.
const maxNameservers = 3

// ReadResolvConf reads and parses the resolver configuration at path. A
// missing file is not an error: like glibc, it means "use the local
// resolver" (Defaulted is set). Any other read error is returned.
func ReadResolvConf(path string) (*ResolvConf, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fail(CauseNoResolver, PhaseResolve, path, fmt.Errorf("read resolver configuration: %w", err))
	}
	rc := ParseResolvConf(data)
	rc.Path = path
	rc.Missing = err != nil
	return rc, nil
}

// defaultReason says why the loopback default is used, for an error that
// follows it: "/etc/resolv.conf names no nameserver".
func (rc *ResolvConf) defaultReason() string {
	if rc.Missing {
		return rc.Path + " does not exist"
	}
	return rc.Path + " names no nameserver"
}

// defaultedError is a failure of the resolvers glibc's default names
// (loopback), asked because rc names none.
type defaultedError struct {
	rc  *ResolvConf
	err error
}

func (e *defaultedError) Error() string {
	return e.rc.defaultReason() + ", so the default was tried: " + e.err.Error()
}

func (e *defaultedError) Unwrap() error { return e.err }

// defaultedHint is the hint of a failure of the default resolvers, if f
// is one: the file is what is wrong, not a local resolver.
func defaultedHint(f *Failure) string {
	var d *defaultedError
	if !errors.As(f.Err, &d) {
		return ""
	}
	what := d.rc.Path + " names no nameserver"
	if d.rc.Missing {
		what = d.rc.Path + " does not exist"
	}
	return what + ", and no resolver runs on this host's loopback, the C library's default: " +
		"has the network configuration (DHCP, networkd, NetworkManager) written it yet?"
}

// ParseResolvConf parses the contents of a resolv.conf file. It never fails:
// like the C library, it skips lines it does not understand.
func ParseResolvConf(data []byte) *ResolvConf {
	rc := &ResolvConf{Ndots: 1, Timeout: 5 * time.Second, Attempts: 2}
	// Lines of any length, as glibc reads them (getline): a line too long
	// for a bufio.Scanner would end the parse and hide the lines after it.
	for b := range bytes.Lines(data) {
		line := string(b)
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(rc.Servers) >= maxNameservers {
				continue
			}
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				continue
			}
			if a.Is4In6() {
				a = a.Unmap()
			}
			ap := netip.AddrPortFrom(a, 53)
			if !containsAddrPort(rc.Servers, ap) {
				rc.Servers = append(rc.Servers, ap)
			}
		case "search", "domain":
			// The last search or domain line wins (resolv.conf(5)).
			rc.Search = rc.Search[:0]
			for _, d := range f[1:] {
				if d == "." {
					continue
				}
				if fq, err := checkDNSName(d); err == nil {
					rc.Search = append(rc.Search, fq)
				}
			}
		case "options":
			for _, o := range f[1:] {
				rc.option(o)
			}
		}
	}
	if len(rc.Servers) == 0 {
		rc.Defaulted = true
		rc.Servers = []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:53"),
			netip.MustParseAddrPort("[::1]:53"),
		}
	}
	return rc
}

func (rc *ResolvConf) option(o string) {
	name, val, _ := strings.Cut(o, ":")
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 {
		return
	}
	switch name {
	case "ndots":
		rc.Ndots = min(n, 15)
	case "timeout":
		rc.Timeout = time.Duration(max(1, min(n, 30))) * time.Second
	case "attempts":
		rc.Attempts = max(1, min(n, 5))
	}
}

func containsAddrPort(s []netip.AddrPort, a netip.AddrPort) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

// readHosts parses an /etc/hosts file into lower-case name → addresses. An
// empty path or a missing file gives an empty map.
func readHosts(path string) (map[string][]netip.Addr, error) {
	hosts := map[string][]netip.Addr{}
	if path == "" {
		return hosts, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return hosts, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, name := range f[1:] {
			k := strings.ToLower(strings.TrimSuffix(name, "."))
			hosts[k] = append(hosts[k], a.Unmap())
		}
	}
	return hosts, nil
}

// resolvedUplinks is where systemd-resolved writes the DNS servers it
// knows of, whatever its stub's clients see in /etc/resolv.conf.
const resolvedUplinks = "/run/systemd/resolve/resolv.conf"

// explainNoResolver explains the failure f of t, a target that asked the
// resolvers of the round's configuration, when there is no resolver to ask
// at all: systemd-resolved's stub refuses because it knows of no DNS
// server (resolvedUplinks names none), or, on a host whose only global
// addresses are IPv6, resolv.conf names none and nothing listens on the
// loopback default. On such a host the links are named: their resolvers
// come from router advertisements (RDNSS) or DHCPv6. When the stub refuses
// though it knows of servers, it asks none of a link that is not ready (an
// IPv6 address still tentative): the first broken hop on the way to them
// is the cause. It returns nil when none of that is the case.
func (e *Env) explainNoResolver(f *Failure, t Target) *Failure {
	if f.Cause != CauseResolverRefused && f.Cause != CauseResolverDown || !t.UsesResolvConf() || t.Kind == KindDNS && t.Server != "" {
		return nil
	}
	rc, err := e.Resolvers()
	if err != nil {
		return nil
	}
	var (
		why, hop     string
		links, addrs []string
	)
	switch {
	case rc.Defaulted && f.Refusal():
		if links, addrs = ipv6Only(e.kernel()); len(links) == 0 {
			return nil
		}
		why = rc.defaultReason() + " and nothing listens on the loopback default"
	case len(rc.Servers) == 1 && rc.Servers[0].Addr() == systemdResolved && f.Phase == PhaseAnswer:
		up, err := ReadResolvConf(resolvedUplinks)
		if err != nil || up.Missing {
			return nil
		}
		if !up.Defaulted {
			return e.explainUplinks(f, up.Servers)
		}
		why = "systemd-resolved has no DNS server to ask (" + resolvedUplinks + " names none)"
		hop = rc.Servers[0].String()
		links, addrs = ipv6Only(e.kernel())
	default:
		return nil
	}
	if len(links) > 0 {
		why += fmt.Sprintf("; %s has IPv6 only (%s), and no resolver came with it from router advertisements (RDNSS) or DHCPv6",
			strings.Join(links, " and "), strings.Join(addrs, ", "))
		hop = links[0]
	}
	return fail(CauseNoResolver, PhaseResolve, hop, fmt.Errorf("%s (%w)", why, f.Err))
}

// explainUplinks returns the failure of the first broken hop on the way to
// one of servers, systemd-resolved's DNS servers, wrapping f, the refusal
// of its stub; nil if the way to every one is clear.
func (e *Env) explainUplinks(f *Failure, servers []netip.AddrPort) *Failure {
	for _, d := range servers {
		p := e.path(d, RoleResolver, sockets{})
		if h := p.Broken(); h != nil {
			return fail(h.Cause, h.Kind.phase(), h.Name, fmt.Errorf("systemd-resolved's DNS server %s: %s (%w)", d.Addr(), h.Detail, f.Err))
		}
	}
	return nil
}
