// Package roottest lets a test that needs root (network namespaces, dpkg,
// systemd-nspawn) skip for a user who is not root, outside CI, with a
// message that says why; in CI and under "make test" it runs or fails,
// never skips.
package roottest

import (
	"os"
	"testing"
)

// Required reports whether tests that need root must run: "make test"
// sets NETREADY_INTEGRATION=1, and CI systems set CI.
func Required() bool {
	return os.Getenv("NETREADY_INTEGRATION") != "" || os.Getenv("CI") != ""
}

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
	t.Skip("needs root: it creates network namespaces (or installs packages, or boots a container); run it as root, e.g. with make test")
}
