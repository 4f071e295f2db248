package cli

import (
	"errors"
	"slices"
	"strconv"
	"syscall"
)

// Exit codes. exitCodes says which command exits with which, and why:
// --help, netready(8) and README print that table.
const (
	exitReady    = 0
	exitNotReady = 1
	exitUsage    = 2
	exitCannot   = 126 // the command after "--" cannot be executed
	exitNotFound = 127 // the command after "--" is not found
	exitSignal   = 128 // plus the number of the signal that stopped check or wait
)

// ExitDoc is a row of the table of exit codes: codes, the commands that
// exit with them, and what they mean then.
type ExitDoc struct {
	Codes    []int
	Commands []string
	Meaning  string
}

// Names of the commands, for the tables that say which command does what.
const (
	cmdCheck   = "check"
	cmdWait    = "wait"
	cmdWatch   = "watch"
	cmdVersion = "version"
	cmdHelp    = "help"
)

// exitCodes is the one table of exit codes, in the order of the codes. A
// code may have a row per command when its meaning differs. watch ends
// only when stopped: SIGINT and SIGTERM are how it is meant to end, so
// they exit 0 (under systemd, a stopped unit is not a failed one).
var exitCodes = []ExitDoc{
	{[]int{exitReady}, []string{cmdCheck, cmdWait}, "ready: every target passed (with --any: one did)"},
	{[]int{exitReady}, []string{cmdWatch}, "stopped by SIGINT or SIGTERM"},
	{[]int{exitReady}, []string{cmdVersion, cmdHelp}, "printed"},
	{[]int{exitNotReady}, []string{cmdCheck}, "not ready: a target failed (with --any: all did)"},
	{[]int{exitNotReady}, []string{cmdWait}, "not ready when --timeout expired"},
	{[]int{exitNotReady}, []string{cmdWatch}, "the metrics address cannot be listened on, or the textfile cannot be written, at the start"},
	{[]int{exitUsage}, []string{cmdCheck, cmdWait, cmdWatch, cmdVersion, cmdHelp}, "usage error: a malformed target, flag, command or variable, named in the message"},
	{[]int{exitCannot, exitNotFound}, []string{cmdWait}, "the command after -- cannot be executed, is not found (once ready, the exit status is the command's own)"},
	{[]int{exitSignal + int(syscall.SIGINT), exitSignal + int(syscall.SIGTERM)}, []string{cmdCheck, cmdWait}, "interrupted by SIGINT, SIGTERM"},
}

// ExitCodes is the table of exit codes, for documents; the caller must
// not change it.
func ExitCodes() []ExitDoc { return exitCodes }

// exitCodesOf are the rows of exitCodes for command cmd, or all of them
// for "".
func exitCodesOf(cmd string) []ExitDoc {
	var rows []ExitDoc
	for _, r := range exitCodes {
		if cmd == "" || slices.Contains(r.Commands, cmd) {
			rows = append(rows, r)
		}
	}
	return rows
}

// exitError is an outcome that ends netready with its code: the one
// mechanism by which a command chooses its exit code (0 too, for
// --version, which ends netready before any command runs). err, if set,
// is printed.
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
func interrupted(sig syscall.Signal) error { return &exitError{code: exitSignal + int(sig)} }

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
