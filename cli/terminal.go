package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/netready/netready/report"
)

// terminalFd returns the file descriptor of w if w is a terminal.
func terminalFd(w io.Writer) (int, bool) {
	if l, ok := w.(*liveLine); ok {
		return l.fd, true
	}
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return 0, false
	}
	return fd, true
}

// termWidth is the width of the terminal w is, in columns; 0 if w is no
// terminal or its width is unknown. It is asked each time: the terminal
// may be resized.
func termWidth(w io.Writer) int {
	fd, ok := terminalFd(w)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// The values of --color.
const (
	colorNever  = "never"
	colorAuto   = "auto"
	colorAlways = "always"
)

// colorOn reports whether what goes to w is coloured: always with
// --color=always, never with --color=never; with auto (the default), on a
// terminal that is not "dumb", unless NO_COLOR is set to anything
// (no-color.org).
func colorOn(mode string, w io.Writer) bool {
	switch mode {
	case colorAlways:
		return true
	case colorNever:
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	_, tty := terminalFd(w)
	return tty
}

// style is how a report written to w is laid out: to its width on a
// terminal, in colour as --color says.
func style(o *options, w io.Writer) report.Style {
	return report.Style{Width: termWidth(w), Color: colorOn(o.color, w)}
}

// liveLine is stderr when it is a terminal: it keeps one status line at the
// bottom, and everything else written to stderr meanwhile (logs, the
// output of --on-change) goes above it: the line is cleared, the text
// written, the line drawn again. Its methods are safe for concurrent use.
type liveLine struct {
	mu   sync.Mutex
	w    io.Writer
	fd   int
	line string // shown now; "" for none
	// partial: the last write did not end its line, so the status line
	// waits for the text's end before it is drawn again.
	partial bool
}

// newLiveLine returns w as a liveLine if it is a terminal, else w itself.
func newLiveLine(w io.Writer) io.Writer {
	fd, ok := terminalFd(w)
	if !ok {
		return w
	}
	return &liveLine{w: w, fd: fd}
}

// Write writes p above the status line.
func (l *liveLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line != "" && !l.partial {
		io.WriteString(l.w, clearLine)
	}
	n, err := l.w.Write(p)
	l.partial = len(p) > 0 && p[len(p)-1] != '\n'
	if l.line != "" && !l.partial {
		io.WriteString(l.w, l.line)
	}
	return n, err
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\033[K"

// show makes s the status line; "" removes it. s must leave the end of
// the terminal's line free (see lineRoom): a line that wraps cannot be
// rewritten in place.
func (l *liveLine) show(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == l.line {
		return
	}
	if !l.partial {
		if l.line != "" {
			io.WriteString(l.w, clearLine)
		}
		io.WriteString(l.w, s)
	}
	l.line = s
}

// above runs write, which writes to another stream on the same terminal
// (stdout), with the status line out of its way.
func (l *liveLine) above(write func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line != "" && !l.partial {
		io.WriteString(l.w, clearLine)
	}
	write()
	if l.line != "" && !l.partial {
		io.WriteString(l.w, l.line)
	}
}

// width is the terminal's width now; 0 if unknown.
func (l *liveLine) width() int { return termWidth(l) }

// paint is text in an SGR colour, if on.
func paint(on bool, color, text string) string {
	return report.Style{Color: on}.Paint(color, text)
}

// plural is "1 target" or "3 targets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// runeLen is the width of s on a terminal, counting one column a rune.
func runeLen(s string) int { return len([]rune(s)) }

// cut shortens s to n columns, the last an ellipsis if anything was cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}
