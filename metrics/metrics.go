// Package metrics is what netready watch shows a fleet's monitoring: the
// state after each round as Prometheus metrics, served on /metrics beside
// a health endpoint, /ready, or written to a textfile for node_exporter.
// It shows what it is given (Exporter.Update) and counts the changes it
// sees; it does not probe, pace or decide readiness, and knows nothing of
// targets beyond their names and results.
//
// It uses its own registries, never client_golang's global default one:
// nothing is exposed that netready did not register, and nothing is
// registered at netready's start (client_golang's own package init aside,
// which every netready command pays: see CONTRIBUTING.md).
package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Target is the latest result of one target.
type Target struct {
	Name    string // as the user wrote it
	Probed  bool   // an attempt has ended; the fields below say how
	OK      bool
	Latency time.Duration // of the last attempt, passing or failing
	Cause   string        // why it fails: a cause word ("port-closed"); empty when OK
	Err     string        // the error it fails with, for /ready; empty when OK
}

// State is watch's picture after a round.
type State struct {
	// Ready is watch's readiness: every target passes (one, with --any),
	// and settled, with --settle.
	Ready bool
	// Settling reports that the policy holds but --settle is still
	// running (Ready is false meanwhile).
	Settling bool
	// Events is the number of network changes seen so far.
	Events  int
	Targets []Target // in the order of the command line
}

// descs describes the metrics. Label "target" is the target as the user
// wrote it; "cause" a cause word of netready(8). They are made by New, not
// at package initialisation, which every netready command pays.
type descs struct {
	ready, up, latency, cause, transitions, lastTransition, networkChanges *prometheus.Desc
}

func newDescs() descs {
	return descs{
		ready: prometheus.NewDesc("netready_ready",
			"Whether the network is ready as netready sees it: 1 while every target passes (with --any, one; with --settle, once settled), else 0.",
			nil, nil),
		up: prometheus.NewDesc("netready_target_up",
			"Whether the target passed its last probe (1) or failed (0); absent until its first probe has ended.",
			[]string{"target"}, nil),
		latency: prometheus.NewDesc("netready_target_latency_seconds",
			"How long the target's last probe took, passing or failing.",
			[]string{"target"}, nil),
		cause: prometheus.NewDesc("netready_target_cause",
			"1 for the cause the target fails with now; a passing target has no series, nor has a cause it no longer fails with.",
			[]string{"target", "cause"}, nil),
		transitions: prometheus.NewDesc("netready_transitions_total",
			"Changes of the target between passing and failing.",
			[]string{"target"}, nil),
		lastTransition: prometheus.NewDesc("netready_last_transition_timestamp_seconds",
			"When netready_ready last changed, or netready started if it never did, in seconds since the Unix epoch.",
			nil, nil),
		networkChanges: prometheus.NewDesc("netready_network_changes_total",
			"Network changes netready re-probed on: link, address and route changes (netlink) and changes of the resolver configuration; a burst of changes during a round counts once.",
			nil, nil),
	}
}

// Exporter holds the state to show, and the counters kept over it. It is
// a prometheus.Collector. Its methods are safe for concurrent use: Update
// comes from watch's loop, Collect and the handlers from HTTP requests.
type Exporter struct {
	d              descs
	mu             sync.Mutex
	state          State
	transitions    []float64 // per target, by index
	lastTransition time.Time
}

// New returns an Exporter for the targets named, before any round: not
// ready since start, no target probed.
func New(names []string, start time.Time) *Exporter {
	ts := make([]Target, len(names))
	for i, n := range names {
		ts[i].Name = n
	}
	return &Exporter{d: newDescs(), state: State{Targets: ts}, transitions: make([]float64, len(names)), lastTransition: start}
}

// Update takes the state after a round that ended at now; s must name the
// targets New was given, in the same order, and is not kept. It reports
// whether anything changed but latencies: readiness, a target's result or
// cause, a counter.
func (e *Exporter) Update(s State, now time.Time) (changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.state
	if s.Ready != old.Ready {
		e.lastTransition = now
	}
	changed = s.Ready != old.Ready || s.Settling != old.Settling || s.Events != old.Events
	for i, t := range s.Targets {
		o := old.Targets[i]
		if o.Probed && t.Probed && o.OK != t.OK {
			e.transitions[i]++
		}
		if o.Probed != t.Probed || o.OK != t.OK || o.Cause != t.Cause {
			changed = true
		}
	}
	e.state = State{Ready: s.Ready, Settling: s.Settling, Events: s.Events, Targets: append([]Target(nil), s.Targets...)}
	return changed
}

// Describe sends the descriptions of every metric Collect may send.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	d := e.d
	for _, desc := range []*prometheus.Desc{d.ready, d.up, d.latency, d.cause, d.transitions, d.lastTransition, d.networkChanges} {
		ch <- desc
	}
}

// Collect sends the metrics of the latest state. A target written twice on
// the command line is shown once, as its first occurrence.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.d
	ch <- prometheus.MustNewConstMetric(d.ready, prometheus.GaugeValue, bool01(e.state.Ready))
	ch <- prometheus.MustNewConstMetric(d.lastTransition, prometheus.GaugeValue, float64(e.lastTransition.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(d.networkChanges, prometheus.CounterValue, float64(e.state.Events))
	seen := make(map[string]bool, len(e.state.Targets))
	for i, t := range e.state.Targets {
		// A label value must be UTF-8 (a constructor would panic).
		name := strings.ToValidUTF8(t.Name, "\uFFFD")
		if seen[name] {
			continue
		}
		seen[name] = true
		ch <- prometheus.MustNewConstMetric(d.transitions, prometheus.CounterValue, e.transitions[i], name)
		if !t.Probed {
			continue
		}
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, bool01(t.OK), name)
		ch <- prometheus.MustNewConstMetric(d.latency, prometheus.GaugeValue, t.Latency.Seconds(), name)
		if !t.OK {
			ch <- prometheus.MustNewConstMetric(d.cause, prometheus.GaugeValue, 1, name, strings.ToValidUTF8(t.Cause, "\uFFFD"))
		}
	}
}

// snapshot is a copy of the state, for /ready.
func (e *Exporter) snapshot() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.state
	s.Targets = append([]Target(nil), s.Targets...)
	return s
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
