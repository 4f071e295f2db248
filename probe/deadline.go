package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
)

// Every probe ends its attempt at its context's deadline and says so the
// same way: these helpers bound blocking I/O by the context and turn the
// errors of an expired one into errIOTimeout ("i/o timeout") or the
// context's own cause.

// abortOnDone makes blocking I/O on c return as soon as ctx is done, which a
// deadline alone does not do for a cancellation. Call the returned stop.
func abortOnDone(ctx context.Context, c interface{ SetDeadline(time.Time) error }) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	return context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr prefers ctx's error to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if !errTimeout(err) || !ctxDone(ctx) {
		return err
	}
	if ce := ctx.Err(); ce != nil && !errors.Is(ce, context.DeadlineExceeded) {
		return ce
	}
	return errIOTimeout
}

// ctxDone reports whether ctx is done or its deadline has passed. A socket
// deadline set to ctx's deadline (abortOnDone) can fire before ctx's own
// timer does, so ctx.Err() alone may still be nil when the read times out.
func ctxDone(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// errIOTimeout is what every probe reports when its attempt ran out of time.
var errIOTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }
func (timeoutError) Timeout() bool { return true }

// errTimeout reports whether err is a deadline or timeout.
func errTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// cleanNetError strips the "dial tcp 1.2.3.4:5->...: " prefix that *net.OpError
// repeats, keeping the syscall error, and turns an expired ctx into
// errIOTimeout.
func cleanNetError(ctx context.Context, err error) error {
	if errTimeout(err) && ctxDone(ctx) || ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return ctxErr(ctx, context.DeadlineExceeded)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		if se := (*os.SyscallError)(nil); errors.As(oe.Err, &se) {
			return se.Err // a syscall.Errno: "connection refused"
		}
		return oe.Err
	}
	return err
}
