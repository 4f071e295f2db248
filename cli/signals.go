package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signals turns the first SIGINT or SIGTERM into the cancellation of a
// context, for a prompt, orderly exit with 130 or 143. A second one is not
// caught: it ends netready at once, should stopping hang.
type signals struct {
	ch      chan os.Signal
	handled chan struct{}
	once    sync.Once
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e *signalError) Error() string { return "interrupted by " + e.sig.String() }

func catchSignals(cancel context.CancelCauseFunc) *signals {
	s := &signals{ch: make(chan os.Signal, 1), handled: make(chan struct{})}
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		defer close(s.handled)
		if sig, ok := <-s.ch; ok {
			signal.Reset(syscall.SIGINT, syscall.SIGTERM)
			cancel(&signalError{sig.(syscall.Signal)})
		}
	}()
	return s
}

// release gives both signals back their first disposition, and returns
// only once a signal caught before has cancelled the context. wait calls
// it before exec: a signal caught by netready just before would be lost to
// the command, which would then run although it was asked to stop. A nil
// s does nothing.
func (s *signals) release() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		signal.Stop(s.ch) // no more sends on ch after this
		signal.Reset(syscall.SIGINT, syscall.SIGTERM)
		close(s.ch)
		<-s.handled
	})
}

// signalName is "SIGINT" or "SIGTERM", as a person knows them.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// stoppedBy returns the signal that cancelled ctx, if one did.
func stoppedBy(ctx context.Context) (syscall.Signal, bool) {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.sig, true
	}
	return 0, false
}
