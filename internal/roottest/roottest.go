// Package roottest lets a test that needs root (network namespaces, dpkg,
// systemd-nspawn) skip for a user who is not root, outside CI, with a
// message that says why; in CI and under "make test" it runs or fails,
// never skips. A test binary whose TestMain runs through Wrap ends with one
// line saying how many of its tests skipped so.
package roottest

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// Required reports whether tests that need root must run: "make test"
// sets NETREADY_INTEGRATION=1, and CI systems set CI.
func Required() bool {
	return os.Getenv("NETREADY_INTEGRATION") != "" || os.Getenv("CI") != ""
}

// skipped counts the tests of this test binary that Require skipped.
var skipped atomic.Int64

// Require skips t unless the process is root; where root tests are
// required (see Required) it fails t instead.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Required() {
		t.Fatal("this test needs root (network namespaces, packages, containers) and must run here: run it as root")
	}
	skipped.Add(1)
	t.Skip("needs root: it creates network namespaces (or installs packages, or boots a container); run it as root, e.g. with make test")
}

// Runner is what TestMain runs: a *testing.M.
type Runner interface{ Run() int }

// Wrap is m, whose Run ends, when tests skipped for want of root, with
// one line saying how many. go test shows it with -v, in local directory
// mode (go test in a package's directory) and when the package fails.
func Wrap(m Runner) Runner { return wrapped{m} }

type wrapped struct{ m Runner }

func (w wrapped) Run() int {
	code := w.m.Run()
	if n := skipped.Load(); n > 0 {
		fmt.Println(Summary(int(n)))
	}
	return code
}

// Summary is the line that says n tests skipped for want of root.
func Summary(n int) string {
	tests := "tests"
	if n == 1 {
		tests = "test"
	}
	return fmt.Sprintf("roottest: %d %s skipped for want of root: run as root (make test) to run them", n, tests)
}
