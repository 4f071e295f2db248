package netnstest

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Event is a change of a link, an address or a route in a namespace, as
// the kernel announced it over netlink ("ip monitor link address route"),
// stamped when the test received it. One of Link, Addr and Route is set.
type Event struct {
	// Mono is CLOCK_MONOTONIC in microseconds: the clock of the journal
	// and of systemd's *TimestampMonotonic properties.
	Mono  int64
	Time  time.Time
	Link  *netlink.LinkUpdate
	Addr  *netlink.AddrUpdate
	Route *netlink.RouteUpdate
}

func (e Event) String() string {
	switch {
	case e.Link != nil:
		a := e.Link.Attrs()
		return fmt.Sprintf("link %s %s", a.Name, a.OperState)
	case e.Addr != nil:
		what := "new"
		if !e.Addr.NewAddr {
			what = "del"
		}
		return fmt.Sprintf("address %s %s flags %#x", what, e.Addr.LinkAddress.String(), e.Addr.Flags)
	case e.Route != nil:
		what := "new"
		if e.Route.Type == unix.RTM_DELROUTE {
			what = "del"
		}
		return fmt.Sprintf("route %s %s", what, e.Route.Route.String())
	}
	return "nothing"
}

// Monitor is what the kernel announced in a namespace since Monitor was
// called: every link, address and route change, in the order received.
type Monitor struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced at each event
}

// Monitor subscribes to the link, address and route changes of ns until t
// ends. Subscribing first, it then lists what exists, as events of their
// own.
func (ns *NS) Monitor(t testing.TB) *Monitor {
	t.Helper()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", ns.Name, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		h.Close()
	})
	m := &Monitor{changed: make(chan struct{})}
	links := make(chan netlink.LinkUpdate, 256)
	addrs := make(chan netlink.AddrUpdate, 256)
	routes := make(chan netlink.RouteUpdate, 256)
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		t.Fatalf("subscribe to the links of %s: %v", ns.Name, err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		t.Fatalf("subscribe to the addresses of %s: %v", ns.Name, err)
	}
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: &h, ListExisting: true}); err != nil {
		t.Fatalf("subscribe to the routes of %s: %v", ns.Name, err)
	}
	go func() {
		for u := range links {
			m.add(Event{Link: &u})
		}
	}()
	go func() {
		for u := range addrs {
			m.add(Event{Addr: &u})
		}
	}()
	go func() {
		for u := range routes {
			m.add(Event{Route: &u})
		}
	}()
	return m
}

func (m *Monitor) add(e Event) {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	e.Mono, e.Time = ts.Nano()/1000, time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	close(m.changed)
	m.changed = make(chan struct{})
}

// Find returns the first event that match accepts.
func (m *Monitor) Find(match func(Event) bool) (Event, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.events {
		if match(e) {
			return e, true
		}
	}
	return Event{}, false
}

// Wait waits, timeout at most, for an event that match accepts and
// returns the first; it fails the test at the deadline, naming what.
func (m *Monitor) Wait(t testing.TB, timeout time.Duration, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		changed := m.changed
		m.mu.Unlock()
		if e, ok := m.Find(match); ok {
			return e
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within %v; the namespace's changes:\n%s", what, timeout, m)
		}
	}
}

func (m *Monitor) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s string
	for _, e := range m.events {
		s += fmt.Sprintf("%d.%06d %s\n", e.Mono/1e6, e.Mono%1e6, e)
	}
	return s
}

// LinkUp matches link dev becoming operationally up.
func LinkUp(dev string) func(Event) bool {
	return func(e Event) bool {
		return e.Link != nil && e.Link.Attrs().Name == dev && e.Link.Attrs().OperState == netlink.OperUp
	}
}

// GlobalAddr6 matches a global IPv6 address being announced: usable says
// whether it must have left duplicate address detection (not tentative,
// not failed). The kernel announces the addresses it makes itself (SLAAC)
// only once usable; those a program adds (networkd, NetworkManager), also
// as they are added, tentative.
func GlobalAddr6(usable bool) func(Event) bool {
	return func(e Event) bool {
		if e.Addr == nil || !e.Addr.NewAddr || e.Addr.LinkAddress.IP.To4() != nil || e.Addr.Scope != unix.RT_SCOPE_UNIVERSE {
			return false
		}
		return !usable || e.Addr.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
	}
}

// Default6 matches an IPv6 default route being added.
func Default6(e Event) bool {
	if e.Route == nil || e.Route.Type != unix.RTM_NEWROUTE || e.Route.Route.Family != netlink.FAMILY_V6 {
		return false
	}
	d := e.Route.Route.Dst
	if d == nil {
		return true
	}
	ones, _ := d.Mask.Size()
	return ones == 0
}

// Prefix is the address of an address event, as a prefix.
func (e Event) Prefix() netip.Prefix {
	if e.Addr == nil {
		return netip.Prefix{}
	}
	a, _ := netip.AddrFromSlice(e.Addr.LinkAddress.IP)
	ones, _ := e.Addr.LinkAddress.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
