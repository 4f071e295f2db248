// Package report renders the outcome of probe rounds for people (an aligned
// table) and for programs (one JSON document). It only formats: it does not
// decide readiness, probe, or print anywhere but the writer it is given.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// NotProbed is what the report, wait's progress and watch's /ready say of
// a target whose first attempt has not ended; --on-change's
// NETREADY_CAUSES writes it as one word, NotProbedCause.
const (
	NotProbed      = "not probed yet"
	NotProbedCause = "not-probed-yet"
)

// Target is one row: a target as the user wrote it and its last attempt.
type Target struct {
	Name     string // as the user wrote it
	OK       bool
	Latency  time.Duration
	Detail   string // what a passing probe found
	Err      error  // why it failed; nil when OK
	Cause    string // Err's cause, one word (probe.Cause); empty when OK
	Hint     string
	Attempts int
	Phases   []Phase // of the last attempt, in order
	// Paths are the hops to each address the target needed (check
	// --explain); none otherwise.
	Paths []Path
}

// Path is the hops to one destination, the destination last.
type Path struct {
	Dest string // "10.213.1.1:8080"
	Role string // "endpoint" or "resolver"
	Hops []Hop
}

// Hop is one step of a path and its state.
type Hop struct {
	Kind   string // "route", "link", "address", "gateway", "neighbour", "resolver", "endpoint"
	Name   string
	OK     bool
	Detail string
	Cause  string // empty when OK
	Took   time.Duration
}

// Phase is the time one step of an attempt took: "resolve", "connect" ...
type Phase struct {
	Name     string
	Duration time.Duration
}

// Outcome is what a check or a wait ended with.
type Outcome struct {
	Ready   bool
	Elapsed time.Duration
	Rounds  int
	Targets []Target
}

// jsonDoc is the --json document: ready, elapsed_ms, rounds and a row per
// target (detail only for one that passes: what it found, as "HTTP 204 No
// Content from 10.0.0.1:80 over IPv4"; error, cause and hint only for one
// that fails).
type jsonDoc struct {
	Ready     bool         `json:"ready"`
	ElapsedMS float64      `json:"elapsed_ms"`
	Rounds    int          `json:"rounds"`
	Targets   []jsonTarget `json:"targets"`
}

type jsonTarget struct {
	Target    string      `json:"target"`
	OK        bool        `json:"ok"`
	LatencyMS float64     `json:"latency_ms"`
	Detail    string      `json:"detail,omitempty"`
	Error     string      `json:"error,omitempty"`
	Cause     string      `json:"cause,omitempty"`
	Hint      string      `json:"hint,omitempty"`
	Attempts  int         `json:"attempts"`
	Phases    []jsonPhase `json:"phases,omitempty"`
	Paths     []jsonPath  `json:"paths,omitempty"`
}

// jsonPath is the hops to one destination.
type jsonPath struct {
	Dest string    `json:"dest"`
	Role string    `json:"role"`
	Hops []jsonHop `json:"hops"`
}

type jsonHop struct {
	Hop    string  `json:"hop"`
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	Detail string  `json:"detail,omitempty"`
	Cause  string  `json:"cause,omitempty"`
	MS     float64 `json:"ms"`
}

// jsonPhase is one step of the last attempt and how long it took.
type jsonPhase struct {
	Name string  `json:"name"`
	MS   float64 `json:"ms"`
}

// ms converts d to milliseconds with microsecond precision.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// JSON writes o as one JSON document followed by a newline.
func JSON(w io.Writer, o Outcome) error {
	doc := jsonDoc{Ready: o.Ready, ElapsedMS: ms(o.Elapsed), Rounds: o.Rounds, Targets: make([]jsonTarget, len(o.Targets))}
	for i, t := range o.Targets {
		jt := jsonTarget{Target: t.Name, OK: t.OK, LatencyMS: ms(t.Latency), Attempts: t.Attempts}
		if !t.OK && t.Err != nil {
			jt.Error, jt.Cause, jt.Hint = t.Err.Error(), t.Cause, t.Hint
		}
		if t.OK {
			jt.Detail = t.Detail
		}
		for _, p := range t.Phases {
			jt.Phases = append(jt.Phases, jsonPhase{p.Name, ms(p.Duration)})
		}
		for _, p := range t.Paths {
			jp := jsonPath{Dest: p.Dest, Role: p.Role, Hops: []jsonHop{}}
			for _, h := range p.Hops {
				jp.Hops = append(jp.Hops, jsonHop{Hop: h.Kind, Name: h.Name, OK: h.OK, Detail: h.Detail, Cause: h.Cause, MS: ms(h.Took)})
			}
			jt.Paths = append(jt.Paths, jp)
		}
		doc.Targets[i] = jt
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Text writes o as a table, one row per target: target, ok or FAIL,
// latency, and what was found or, for a failure, its cause and what went
// wrong, with a hint on its own line where there is one; then, where the
// target has them (check --explain), its paths hop by hop.
func Text(w io.Writer, o Outcome) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tRESULT\tLATENCY\tDETAIL")
	for _, t := range o.Targets {
		status, detail := "ok", t.Detail
		if !t.OK {
			status = "FAIL"
			if t.Err != nil {
				detail = t.Err.Error()
			}
			if t.Cause != "" {
				detail = t.Cause + ": " + detail
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, status, Duration(t.Latency), oneLine(detail))
		if !t.OK && t.Hint != "" {
			fmt.Fprintf(tw, "\t\t\thint: %s\n", oneLine(t.Hint))
		}
		for _, p := range t.Paths {
			writePath(tw, p)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_, err := fmt.Fprintln(w, Summary(o))
	return err
}

// Summary is one line: "ready: 3/3 targets pass (12.3ms)" or "not ready: ...".
func Summary(o Outcome) string {
	pass := 0
	for _, t := range o.Targets {
		if t.OK {
			pass++
		}
	}
	verdict := "ready"
	if !o.Ready {
		verdict = "not ready"
	}
	return fmt.Sprintf("%s: %d/%d targets pass (%s)", verdict, pass, len(o.Targets), Duration(o.Elapsed))
}

// Duration formats d for a person in milliseconds, with the precision that
// matters at its size: "0.21ms", "12.3ms", "3001ms".
func Duration(d time.Duration) string {
	m := float64(d) / float64(time.Millisecond)
	// Choose the precision from the value as it will be printed, so that
	// 9.996ms reads "10.0ms", not "10.00ms".
	switch {
	case math.Round(m*100)/100 < 10:
		return fmt.Sprintf("%.2fms", m)
	case math.Round(m*10)/10 < 100:
		return fmt.Sprintf("%.1fms", m)
	}
	return fmt.Sprintf("%.0fms", m)
}

// oneLine keeps a table row on one line whatever an error contains.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// writePath writes a path as a tree in the DETAIL column: the destination,
// then each hop with its state and how long reading it took.
func writePath(tw io.Writer, p Path) {
	fmt.Fprintf(tw, "\t\t\t%s %s\n", p.Role, p.Dest)
	for i, h := range p.Hops {
		branch := "├─"
		if i == len(p.Hops)-1 {
			branch = "└─"
		}
		state := "ok  "
		if !h.OK {
			state = "FAIL"
		}
		line := fmt.Sprintf("%s %s %-9s %s", branch, state, h.Kind, h.Name)
		switch {
		case strings.Contains(h.Detail, h.Name):
			// A sentence that names the hop says it all.
			line = fmt.Sprintf("%s %s %-9s %s", branch, state, h.Kind, oneLine(h.Detail))
		case h.Detail != "":
			line += ": " + oneLine(h.Detail)
		}
		if h.Cause != "" {
			line += " [" + h.Cause + "]"
		}
		fmt.Fprintf(tw, "\t\t\t%s (%s)\n", line, Duration(h.Took))
	}
}
