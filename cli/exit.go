package cli

import (
	"errors"
	"strconv"
	"syscall"
)

// Exit codes, as netready(8) lists them.
const (
	exitReady    = 0
	exitNotReady = 1
	exitUsage    = 2
	exitCannot   = 126 // the command after "--" cannot be executed
	exitNotFound = 127 // the command after "--" is not found
)

// exitError is an outcome whose exit code is not 0: the one mechanism by
// which a command chooses its exit code. err, if set, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return "exit status " + strconv.Itoa(e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// errNotReady is a check or wait that ended with targets failing; the
// report has said which.
var errNotReady = &exitError{code: exitNotReady}

// usage is a mistake in the command line or the environment.
func usage(err error) error { return &exitError{exitUsage, err} }

// interrupted is the outcome of a command that a signal stopped: 128 plus
// the signal's number, nothing printed.
func interrupted(sig syscall.Signal) error { return &exitError{code: 128 + int(sig)} }

// exitStatus maps what a command returned to an exit code and the message
// to print ("" for none). An error that chose no code is exit 1.
func exitStatus(err error) (code int, msg string) {
	var ee *exitError
	switch {
	case err == nil:
		return exitReady, ""
	case errors.As(err, &ee):
		if ee.err == nil {
			return ee.code, ""
		}
		return ee.code, ee.err.Error()
	}
	return exitNotReady, err.Error()
}
