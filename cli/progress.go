package cli

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

// progress shows what wait or watch is waiting for. On a terminal (stderr)
// it keeps one live status line: the failing targets and their causes
// first, what each saw after them and cut first when the line is too long
// for the terminal, then a countdown to the next round, or "probing…"
// while a round takes long; the line is cleared at the end. Otherwise (a
// pipe, the journal) wait logs one logfmt line on stderr per round that
// changes the picture (msg="not ready" or msg=settling, with round=,
// status= and next=), and watch nothing: its transitions say it. It is
// silent with -q or --json. It also hands the picture to systemd (notify).
type progress struct {
	log    *slog.Logger
	notify *notifier // nil for none
	names  []string
	quiet  bool
	// logRounds: without a terminal, log the rounds that change the
	// picture (wait).
	logRounds bool
	prev      string // the picture last logged

	// On a terminal: the line, in colour or not, redrawn by a ticker.
	live    *liveLine // nil: no terminal, or quiet
	color   bool
	stop    chan struct{}
	stopped chan struct{}

	mu       sync.Mutex
	failing  []failure // after the last round
	rounds   int       // completed
	next     time.Time // when the next round is due; zero: none planned
	probing  time.Time // when the round in flight began; zero: none
	ready    bool      // the policy holds (and has settled)
	settling bool
}

// failure is one failing target in the picture.
type failure struct{ name, cause, detail string }

// probingDelay is how long a round must take before the live line says
// "probing…": a round of local targets takes a millisecond, and re-checked
// every 250ms it would make the line flicker.
const probingDelay = 200 * time.Millisecond

// tick is how often the live line is redrawn (only if its text changed):
// the countdown's tenths of a second.
const tick = 100 * time.Millisecond

// newProgress returns the progress of wait (logRounds) or watch, writing to
// stderr, which is a *liveLine on a terminal.
func newProgress(stderr io.Writer, o *options, log *slog.Logger, notify *notifier, logRounds bool) *progress {
	p := &progress{log: log, notify: notify, names: o.names, quiet: o.quiet || o.json, logRounds: logRounds}
	if l, ok := stderr.(*liveLine); ok && !p.quiet {
		p.live, p.color = l, colorOn(o.color, stderr)
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.ticker()
	}
	return p
}

// ticker redraws the live line until done.
func (p *progress) ticker() {
	defer close(p.stopped)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// draw shows the line as it is now.
func (p *progress) draw() {
	p.mu.Lock()
	line := p.render(time.Now(), p.live.width())
	p.mu.Unlock()
	p.live.show(line)
}

// roundStarted notes that a round began. It may be called from any
// goroutine.
func (p *progress) roundStarted() {
	if p.live == nil {
		return
	}
	p.mu.Lock()
	p.probing = time.Now()
	p.mu.Unlock()
}

// update takes the picture after a round.
func (p *progress) update(pr probegate.Progress) {
	msg := "all targets pass; settling"
	if !pr.Settling {
		msg = "waiting for " + failingText(p.names, pr.Results)
	}
	if !pr.Ready || pr.Settling {
		p.notify.progress(msg, pr.Next)
	}
	if p.live != nil {
		p.mu.Lock()
		p.failing = failures(p.names, pr.Results)
		p.rounds, p.ready, p.settling = pr.Round, pr.Ready && !pr.Settling, pr.Settling
		p.probing, p.next = time.Time{}, time.Time{}
		if pr.Next > 0 {
			p.next = time.Now().Add(pr.Next)
		}
		p.mu.Unlock()
		p.draw()
		return
	}
	if p.quiet || !p.logRounds || pr.Ready && !pr.Settling || msg == p.prev {
		return
	}
	p.prev = msg
	what := "not ready"
	if pr.Settling {
		what = "settling"
	}
	p.log.Info(what, "round", pr.Round, "status", msg, "next", pr.Next.Round(time.Millisecond))
}

// above runs write, which writes to stdout, with the live line out of its
// way.
func (p *progress) above(write func()) {
	if p.live == nil {
		write()
		return
	}
	p.live.above(write)
}

// done stops the live line and clears it.
func (p *progress) done() {
	if p.live == nil {
		return
	}
	close(p.stop)
	<-p.stopped
	p.live.show("")
}

// render is the live line at now for a terminal width columns wide (0:
// unknown): never more than width-3 columns (see lineRoom). The caller
// holds p.mu.
func (p *progress) render(now time.Time, width int) string {
	status := ""
	switch {
	case !p.probing.IsZero() && now.Sub(p.probing) >= probingDelay:
		status = "probing…"
	case !p.next.IsZero():
		status = "next round in " + countdown(p.next.Sub(now))
	case p.rounds > 0 && !p.ready:
		status = "waiting for a network change"
	}
	var line string
	switch {
	case p.rounds == 0:
		if status != "probing…" {
			return "" // a first round that is quick shows nothing
		}
		return fitLine([]string{"probing " + plural(len(p.names), "target") + "…"}, width)
	case p.ready:
		line = paint(p.color, report.ReadyColor, "ready")
		if !p.next.IsZero() && status != "" {
			line += " — " + strings.Replace(status, "next round", "next check", 1)
		}
		return line
	case p.settling:
		return fitLine([]string{"all targets pass; settling", " — " + status}, width)
	}
	return fitFailing(p.failing, status, width, p.color)
}

// countdown says d for a person: "3s", "1m20s", "0.4s" under a second
// (rounded up: it is the time left).
func countdown(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Second {
		return fmt.Sprintf("%.1fs", math.Ceil(d.Seconds()*10)/10)
	}
	return (time.Duration(math.Ceil(d.Seconds())) * time.Second).String()
}

// lineRoom is the columns of a terminal line that the live line leaves
// free: a line that wraps cannot be rewritten in place, and the terminal
// echoes Ctrl-C as "^C" where the cursor is, which must not wrap either,
// or the line above it is left behind when the line is cleared.
const lineRoom = 3

// fitLine joins parts, cut to width-lineRoom columns (width 0: not cut).
func fitLine(parts []string, width int) string {
	s := strings.Join(parts, "")
	if width <= 0 {
		return s
	}
	return cut(s, width-lineRoom)
}

// fitFailing is the live line for failing targets: "waiting for NAME
// (CAUSE: DETAIL), NAME (CAUSE: DETAIL) — STATUS" in width-lineRoom
// columns (width 0: as long as it is). What is cut is the details first,
// the last ones first; then "waiting for"; then the end of the list, never
// the status. The cuts are made as if the status were statusRoom long at
// least, so that they stay where they are while a countdown ticks.
func fitFailing(fs []failure, status string, width int, color bool) string {
	suffix := ""
	if status != "" {
		suffix = " — " + status
	}
	// room[i]: how much of fs[i].detail is shown, in runes; -1 for all.
	room := make([]int, len(fs))
	for i := range room {
		room[i] = -1
	}
	build := func(prefix string, paint bool) string {
		parts := make([]string, len(fs))
		for i, f := range fs {
			cause := f.cause
			if paint {
				cause = report.Style{Color: color}.Paint(report.CauseColor, cause)
			}
			switch d := f.detail; {
			case room[i] == 0 || d == "":
				parts[i] = f.name + " (" + cause + ")"
			case room[i] > 0:
				parts[i] = f.name + " (" + cause + ": " + cut(d, room[i]) + ")"
			default:
				parts[i] = f.name + " (" + cause + ": " + d + ")"
			}
		}
		return prefix + strings.Join(parts, ", ") + suffix
	}
	avail := width - lineRoom - max(0, statusRoom-runeLen(suffix))
	const prefix = "waiting for "
	if width <= 0 || runeLen(build(prefix, false)) <= avail {
		return build(prefix, true)
	}
	// Without details, then give them back in order while they fit.
	for i := range room {
		room[i] = 0
	}
	if bare := runeLen(build(prefix, false)); bare <= avail {
		left := avail - bare
		for i, f := range fs {
			if f.detail == "" {
				continue
			}
			need := runeLen(": " + f.detail)
			switch {
			case need <= left:
				room[i], left = -1, left-need
			case left >= len(": ")+8: // a stub of a detail says little
				room[i], left = left-len(": "), 0
			}
			if left == 0 {
				break
			}
		}
		return build(prefix, true)
	}
	if runeLen(build("", false)) <= avail {
		return build("", true)
	}
	// The list alone is too long: cut its end, keep the status.
	list := strings.TrimSuffix(build("", false), suffix)
	return cut(list, avail-runeLen(suffix)) + suffix
}

// statusRoom is the room fitFailing keeps for the status.
var statusRoom = runeLen(" — next round in 00.0s")

// failures is the picture of the failing targets after a round.
func failures(names []string, results []probegate.Result) []failure {
	var fs []failure
	for i, gr := range results {
		if gr.OK {
			continue
		}
		f := failure{name: names[i], cause: report.NotProbed}
		if r := gr.Value; gr.Probed && r.Err != nil {
			f.cause, f.detail = causeWord(r), strings.Join(strings.Fields(r.Err.Error()), " ")
		}
		fs = append(fs, f)
	}
	return fs
}

// failingText describes the failing targets, each with its cause and what
// was seen: "dns:. (resolver-timeout: query "." NS: 10.213.1.1:53: i/o
// timeout), tcp://db:5432 (link-down: link nrc0 is down ...)".
func failingText(names []string, results []probegate.Result) string {
	var parts []string
	for _, f := range failures(names, results) {
		if f.detail == "" {
			parts = append(parts, f.name+" ("+f.cause+")")
			continue
		}
		parts = append(parts, f.name+" ("+f.cause+": "+f.detail+")")
	}
	return strings.Join(parts, ", ")
}
