package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/probegate"
	"github.com/netready/netready/report"
)

// progress shows what wait is still waiting for: on a terminal, one line
// rewritten in place; otherwise (journald, a file) one line per round that
// changes the picture. It is silent with -q or --json. It also hands the
// picture to systemd (notify).
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	names []string
	log   *slog.Logger
	prev  string
	drawn bool
	// notify receives the same picture for systemd; nil for none.
	notify *notifier
	// cols is the terminal's width now; 0 if unknown.
	cols func() int
}

func newProgress(w io.Writer, o *options, log *slog.Logger, notify *notifier) *progress {
	p := &progress{w: w, quiet: o.quiet || o.json, names: o.names, log: log, notify: notify, cols: func() int { return 0 }}
	if f, ok := w.(*os.File); ok {
		fd := int(f.Fd())
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			p.tty = true
			// Asked at every line: the terminal may be resized.
			p.cols = func() int {
				ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
				if err != nil {
					return 0
				}
				return int(ws.Col)
			}
		}
	}
	return p
}

// fit cuts line to fit in cols columns (0: unknown, no cut), keeping the
// last column free so that the terminal does not wrap: a wrapped line is
// not rewritten in place, and the rows would pile up.
func fit(line string, cols int) string {
	r := []rune(line)
	if cols < 2 || len(r) < cols {
		return line
	}
	return string(r[:cols-2]) + "…"
}

// failing describes the failing targets, each with its cause and what was
// seen: "dns:. (resolver-timeout: query "." NS: 10.213.1.1:53: i/o
// timeout), tcp://db:5432 (link-down: link nrc0 is down ...)".
func failing(names []string, results []probegate.Result) string {
	var parts []string
	for i, gr := range results {
		if gr.OK {
			continue
		}
		reason := report.NotProbed
		if r := gr.Value; gr.Probed && r.Err != nil {
			reason = string(r.Cause) + ": " + r.Err.Error()
		}
		parts = append(parts, names[i]+" ("+reason+")")
	}
	return strings.Join(parts, ", ")
}

// update shows the picture after a round.
func (p *progress) update(pr probegate.Progress) {
	if pr.Ready && !pr.Settling {
		return
	}
	var msg string
	if pr.Settling {
		msg = "all targets pass; settling"
	} else {
		msg = "waiting for " + failing(p.names, pr.Results)
	}
	p.notify.progress(msg, pr.Next)
	if p.quiet {
		return
	}
	if p.tty {
		line := fmt.Sprintf("%s — round %d, next in %s", msg, pr.Round, pr.Next.Round(time.Millisecond))
		fmt.Fprintf(p.w, "\r\033[K%s", fit(line, p.cols()))
		p.drawn = true
		return
	}
	if msg == p.prev {
		return
	}
	p.prev = msg
	what := "not ready"
	if pr.Settling {
		what = "settling"
	}
	p.log.Info(what, "round", pr.Round, "status", msg, "next", pr.Next.Round(time.Millisecond))
}

// done clears the live line.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
