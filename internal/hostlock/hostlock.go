// Package hostlock serialises tests, across test binaries, that use a part
// of the host no two of them may use at once: the packaging test installs
// the .deb into /usr/bin while the end-to-end tests lay netready over
// /usr/bin in a container (overlayfs forbids changing a lower layer under a
// mount). go test runs packages in parallel processes, so a mutex is not
// enough: this is flock(2) on a file in /run/lock.
package hostlock

import (
	"os"
	"syscall"
	"testing"
)

// path is shared by every test binary of the project.
const path = "/run/lock/netready-tests-usr-bin.lock"

// UsrBin holds the /usr/bin lock until t ends, waiting for it if another
// test binary holds it.
func UsrBin(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("hostlock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("hostlock: flock %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
