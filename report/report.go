// Package report renders the outcome of probe rounds for people (an aligned
// table) and for programs (one JSON document). It only formats: it does not
// decide readiness, probe, or print anywhere but the writer it is given.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
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
// target has them (check --explain), its paths hop by hop. It is
// Style{}.Text: no colour, rows as long as they are.
func Text(w io.Writer, o Outcome) error { return Style{}.Text(w, o) }

// Style is how a table is laid out for where it is shown.
type Style struct {
	// Width, if positive, is the width of the terminal: the DETAIL column
	// is wrapped at word boundaries to fit it (a word longer than the
	// column alone is cut), and when the first three columns leave it too
	// narrow, the details go on lines of their own under each row.
	Width int
	// Color marks FAIL, ok, the cause words and the verdict with ANSI
	// colours.
	Color bool
}

// minDetail is the narrowest DETAIL column worth keeping beside the
// others: narrower, the details go under each row, across the width.
const minDetail = 24

// row is one line of the table before layout: three cells and the detail,
// with what the detail's continuation lines start with once wrapped.
type row struct {
	cells  [3]string
	detail string
	cont   string // prefix of the detail's continuation lines
	cause  string // a cause word the detail starts with, to colour
	status string // "ok" or "FAIL" in cells[1], to colour
}

// Text writes o as a table (see the package function Text), laid out for s.
func (s Style) Text(w io.Writer, o Outcome) error {
	rows := []row{{cells: [3]string{"TARGET", "RESULT", "LATENCY"}, detail: "DETAIL"}}
	for _, t := range o.Targets {
		status, detail, cause := "ok", oneLine(t.Detail), ""
		if !t.OK {
			status = "FAIL"
			if t.Err != nil {
				detail = oneLine(t.Err.Error())
			}
			if t.Cause != "" {
				detail, cause = t.Cause+": "+detail, t.Cause
			}
		}
		rows = append(rows, row{cells: [3]string{t.Name, status, Duration(t.Latency)}, detail: detail, cause: cause, status: status})
		if !t.OK && t.Hint != "" {
			rows = append(rows, row{detail: "hint: " + oneLine(t.Hint), cont: "      "})
		}
		for _, p := range t.Paths {
			rows = append(rows, pathRows(p)...)
		}
	}
	var widths [3]int
	for _, r := range rows {
		for i, c := range r.cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c)+2)
		}
	}
	left := widths[0] + widths[1] + widths[2]
	detailWidth, under := 0, false
	if s.Width > 0 {
		detailWidth = s.Width - left
		if detailWidth < minDetail {
			// The details go under their row, indented, across the width.
			detailWidth, under = max(s.Width-4, minDetail), true
		}
	}
	var b strings.Builder
	for i, r := range rows {
		var lines []string
		if detailWidth > 0 {
			lines = wrap(r.detail, detailWidth, r.cont)
		} else {
			lines = []string{r.detail}
		}
		if r.cause != "" && s.Color && strings.HasPrefix(lines[0], r.cause) {
			lines[0] = s.paint(causeColor, r.cause) + lines[0][len(r.cause):]
		}
		head := ""
		for j, c := range r.cells {
			cell := c + strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c))
			if j == 1 && r.status != "" {
				cell = s.paint(statusColor[r.status], c) + strings.Repeat(" ", widths[j]-len(c))
			}
			head += cell
		}
		switch {
		case !under:
			b.WriteString(head + lines[0] + "\n")
			for _, l := range lines[1:] {
				b.WriteString(strings.Repeat(" ", left) + l + "\n")
			}
		case i == 0:
			b.WriteString(strings.TrimRight(head, " ") + "\n") // DETAIL heads nothing here
		default:
			if r.cells != [3]string{} {
				b.WriteString(strings.TrimRight(head, " ") + "\n")
			}
			for _, l := range lines {
				if l != "" {
					b.WriteString("    " + l + "\n")
				}
			}
		}
	}
	b.WriteString(s.summary(o) + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ANSI colours (SGR parameters).
const (
	causeColor = "33"   // yellow
	failColor  = "1;31" // bold red
	okColor    = "32"   // green
)

var statusColor = map[string]string{"ok": okColor, "FAIL": failColor}

// paint wraps text in the SGR sequence of color if s says so.
func (s Style) paint(color, text string) string {
	if !s.Color || color == "" {
		return text
	}
	return "\033[" + color + "m" + text + "\033[0m"
}

// Paint is text in color (an SGR parameter: "33" yellow, "1;31" bold
// red, "32" green), or text alone without Color.
func (s Style) Paint(color, text string) string { return s.paint(color, text) }

// The colours of a cause word and of a verdict, for others that show them.
const (
	CauseColor    = causeColor
	NotReadyColor = failColor
	ReadyColor    = okColor
)

// summary is Summary with its verdict coloured.
func (s Style) summary(o Outcome) string {
	line := Summary(o)
	verdict, rest, _ := strings.Cut(line, ":")
	color := okColor
	if !o.Ready {
		color = failColor
	}
	return s.paint(color, verdict) + ":" + rest
}

// wrap cuts text into lines of at most width columns at spaces, cont
// starting every line after the first; a word longer than a line is cut.
// The spaces between words are kept, but for those where a line breaks.
func wrap(text string, width int, cont string) []string {
	var lines []string
	line, n, empty := "", 0, true // the line so far, its width, whether it holds a word
	contWidth := utf8.RuneCountInString(cont)
	for _, m := range wordRE.FindAllStringSubmatch(text, -1) {
		space, w := m[1], []rune(m[2])
		if empty {
			space = ""
		}
		if !empty && n+len(space)+len(w) <= width {
			line, n = line+space+m[2], n+len(space)+len(w)
			continue
		}
		if !empty {
			lines = append(lines, line)
			line, n = cont, contWidth
		}
		for n+len(w) > width && width > n {
			k := width - n
			lines = append(lines, line+string(w[:k]))
			line, n, w = cont, contWidth, w[k:]
		}
		line, n, empty = line+string(w), n+len(w), false
	}
	return append(lines, line)
}

// wordRE is a word and the spaces before it.
var wordRE = regexp.MustCompile(`( *)(\S+)`)

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

// pathRows are the rows of a path, a tree in the DETAIL column: the
// destination, then each hop with its state and how long reading it took.
func pathRows(p Path) []row {
	rows := []row{{detail: p.Role + " " + p.Dest}}
	for i, h := range p.Hops {
		branch, cont := "├─", "│       "
		if i == len(p.Hops)-1 {
			branch, cont = "└─", "        "
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
		rows = append(rows, row{detail: fmt.Sprintf("%s (%s)", line, Duration(h.Took)), cont: cont})
	}
	return rows
}
