package roottest

import (
	"io"
	"os"
	"strings"
	"testing"
)

type runner int

func (r runner) Run() int { return int(r) }

// Wrap keeps m's exit code and, only when tests skipped for want of root,
// ends with the one line that counts them.
func TestWrap(t *testing.T) {
	for _, c := range []struct {
		skipped int64
		code    int
		want    string
	}{
		{0, 0, ""},
		{1, 0, "roottest: 1 test skipped for want of root: run as root (make test) to run them\n"},
		{27, 1, "roottest: 27 tests skipped for want of root: run as root (make test) to run them\n"},
	} {
		skipped.Store(c.skipped)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout := os.Stdout
		os.Stdout = w
		code := Wrap(runner(c.code)).Run()
		os.Stdout = stdout
		w.Close()
		out, _ := io.ReadAll(r)
		if code != c.code || string(out) != c.want {
			t.Errorf("%d skipped, m exiting %d: got %d and %q, want %d and %q", c.skipped, c.code, code, out, c.code, c.want)
		}
	}
	skipped.Store(0)
}

// Require counts the tests it skips, for a user who is not root where
// root tests are not required.
func TestRequireCounts(t *testing.T) {
	if os.Geteuid() == 0 || Required() {
		t.Skip("counts skips only for a user who is not root, outside CI and make test")
	}
	before := skipped.Load()
	t.Run("needs root", func(t *testing.T) { Require(t) })
	if got := skipped.Load() - before; got != 1 {
		t.Errorf("skipped %d, want 1", got)
	}
	skipped.Store(before)
	if s := Summary(2); !strings.HasPrefix(s, "roottest: 2 tests skipped for want of root") {
		t.Errorf("Summary(2) = %q", s)
	}
}
