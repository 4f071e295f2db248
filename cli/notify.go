package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// extendMargin is added to what a round may take when extending systemd's
// start timeout: the process needs a moment to report and exit.
const extendMargin = 5 * time.Second

// notifier speaks the sd_notify protocol when NOTIFY_SOCKET is set: STATUS=
// after every round that changes the picture, EXTEND_TIMEOUT_USEC= after
// every round with --extend-timeout, READY=1 once ready. A nil notifier, or
// one without NOTIFY_SOCKET, does nothing.
type notifier struct {
	log          *slog.Logger
	extend       bool
	probeTimeout time.Duration
	lastStatus   string
	failed       bool
}

func newNotifier(log *slog.Logger, extend bool, probeTimeout time.Duration) *notifier {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	return &notifier{log: log, extend: extend, probeTimeout: probeTimeout}
}

func (n *notifier) send(lines ...string) {
	if n == nil || len(lines) == 0 {
		return
	}
	if _, err := daemon.SdNotify(false, strings.Join(lines, "\n")); err != nil && !n.failed {
		n.failed = true // say it once
		n.log.Warn("sd_notify", "error", err)
	}
}

// extendBy is what to ask of systemd: enough for the next round to start
// and end, and to report.
func (n *notifier) extendBy(next time.Duration) string {
	return fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (next.Round(time.Millisecond) + n.probeTimeout + extendMargin).Microseconds())
}

// start announces the first round.
func (n *notifier) start(targets int) {
	if n == nil {
		return
	}
	noun := "targets"
	if targets == 1 {
		noun = "target"
	}
	lines := []string{fmt.Sprintf("STATUS=probing %d %s", targets, noun)}
	if n.extend {
		lines = append(lines, n.extendBy(0))
	}
	n.send(lines...)
}

// progress reports a round's picture and, with --extend-timeout, asks for
// time until the end of the next round.
func (n *notifier) progress(status string, next time.Duration) {
	if n == nil {
		return
	}
	var lines []string
	if status != n.lastStatus {
		n.lastStatus = status
		lines = append(lines, "STATUS="+status)
	}
	if n.extend {
		lines = append(lines, n.extendBy(next))
	}
	n.send(lines...)
}

// ready reports readiness. READY=1 is not sent when a command is about to
// replace netready: under Type=notify that command is the service, and it
// says when it is ready.
func (n *notifier) ready(summary string, execing bool) {
	if n == nil {
		return
	}
	lines := []string{"STATUS=" + summary}
	if !execing {
		lines = append(lines, "READY=1")
	}
	n.send(lines...)
}
