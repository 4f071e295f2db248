// Package hook runs netready watch's --on-change command after readiness
// transitions: one run at a time, never piling up, the latest state
// winning, and never in the way of the caller (Trigger does not block).
// It is not a job queue: runs that were superseded before they started
// are dropped.
package hook

import (
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Runner runs a function with the environment of the latest Trigger, one
// run at a time: while a run is in progress, the next waits, and a later
// Trigger replaces it. It owns one goroutine, from New until Close and the
// end of the run in progress.
type Runner struct {
	run func(env []string)

	mu      sync.Mutex
	pending []string // the environment of the next run
	has     bool     // a run is pending
	closed  bool
	wake    chan struct{} // capacity 1; closed by Close
	done    chan struct{}
}

// New starts a Runner that calls run for each run, from its own goroutine.
func New(run func(env []string)) *Runner {
	r := &Runner{run: run, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go r.loop()
	return r
}

// Trigger asks for a run with env (which the Runner then owns): at once if
// none is in progress, else after it, unless another Trigger comes first.
// It never blocks. After Close it does nothing.
func (r *Runner) Trigger(env []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.pending, r.has = env, true
	select {
	case r.wake <- struct{}{}:
	default: // the loop will see pending
	}
}

func (r *Runner) loop() {
	defer close(r.done)
	for range r.wake {
		r.mu.Lock()
		env, has := r.pending, r.has
		r.pending, r.has = nil, false
		r.mu.Unlock()
		if has {
			r.run(env)
		}
	}
}

// Close drops the pending run, if any, and starts no more. It does not
// wait for the run in progress, nor end it: Done is closed once it has
// ended.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.pending, r.has = nil, false
	close(r.wake)
}

// Done is closed when the Runner's goroutine has returned: after Close,
// once no run is in progress.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Command returns a run function that executes argv (argv[0] is looked up
// in PATH at each run, as exec.Command does, so a program installed after
// netready started is found) with env as its whole environment, standard
// input from /dev/null and its output on out. A run that cannot start or
// exits with a non-zero status is logged as a warning on log; netready
// carries on.
func Command(argv []string, out io.Writer, log *slog.Logger) func(env []string) {
	return func(env []string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = out, out
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			log.Warn("on-change command failed", "command", strings.Join(argv, " "), "error", err, "after", took)
			return
		}
		log.Debug("on-change command", "command", strings.Join(argv, " "), "took", took)
	}
}

// Variables a run is told the state in.
const (
	EnvReady   = "NETREADY_READY"   // 1 ready, 0 not ready
	EnvFailing = "NETREADY_FAILING" // the failing targets, as written, separated by spaces
	EnvCauses  = "NETREADY_CAUSES"  // TARGET=CAUSE for each failing target, separated by spaces
)

// Failure is a failing target and its cause word.
type Failure struct{ Target, Cause string }

// Environ is base with the state set: NETREADY_READY, NETREADY_FAILING and
// NETREADY_CAUSES replace any variable of those names in base, and
// NOTIFY_SOCKET is removed (the command is not the service systemd
// supervises). A target may contain "=": a word of NETREADY_CAUSES splits
// at its last "=".
func Environ(base []string, ready bool, failing []Failure) []string {
	env := make([]string, 0, len(base)+3)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvReady, EnvFailing, EnvCauses, "NOTIFY_SOCKET":
			continue
		}
		env = append(env, kv)
	}
	r := "0"
	if ready {
		r = "1"
	}
	targets := make([]string, len(failing))
	causes := make([]string, len(failing))
	for i, f := range failing {
		targets[i] = f.Target
		causes[i] = f.Target + "=" + f.Cause
	}
	return append(env, EnvReady+"="+r, EnvFailing+"="+strings.Join(targets, " "), EnvCauses+"="+strings.Join(causes, " "))
}
