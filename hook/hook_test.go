package hook

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slowRun is a run function that takes 2s on synctest's clock and
// records each run: its environment's first word, start and end.
type slowRun struct {
	mu      sync.Mutex
	start   time.Time
	runs    []string
	running int
	most    int // the most runs in progress at once
}

func (s *slowRun) run(env []string) {
	s.mu.Lock()
	s.running++
	s.most = max(s.most, s.running)
	s.runs = append(s.runs, env[0]+"@"+time.Since(s.start).String())
	s.mu.Unlock()
	time.Sleep(2 * time.Second)
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
}

// TestRunner: runs never overlap, a Trigger never waits, and of the
// Triggers that come while a run is in progress only the last runs,
// after it.
func TestRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &slowRun{start: time.Now()}
		r := New(s.run)
		trigger := func(env string) {
			t.Helper()
			before := time.Now()
			r.Trigger([]string{env})
			if d := time.Since(before); d != 0 {
				t.Errorf("Trigger(%s) blocked for %s", env, d)
			}
		}
		trigger("A") // 0s: runs until 2s
		time.Sleep(500 * time.Millisecond)
		trigger("B") // waits
		time.Sleep(500 * time.Millisecond)
		trigger("C") // replaces B; runs from 2s to 4s
		time.Sleep(4 * time.Second)
		trigger("D")            // 5s: nothing in progress, at once
		time.Sleep(time.Second) // 6s: D in progress
		trigger("E")            // would run at 7s
		r.Close()               // drops E; D goes on
		synctest.Wait()         // nothing may start
		if _, open := <-r.Done(); open {
			t.Fatal("Done received a value")
		}
		if got := time.Since(s.start); got != 7*time.Second {
			t.Errorf("Done closed at %s, want 7s, when D ended", got)
		}
		trigger("F") // after Close: nothing
		synctest.Wait()
		if want := []string{"A@0s", "C@2s", "D@5s"}; !slices.Equal(s.runs, want) {
			t.Errorf("runs: got %q, want %q", s.runs, want)
		}
		if s.most != 1 {
			t.Errorf("got %d runs at once, want 1", s.most)
		}
	})
}

func TestEnviron(t *testing.T) {
	base := []string{"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "NETREADY_READY=stale", "NETREADY_TARGETS=dns:. tcp://db:5432", "HOME=/"}
	tests := []struct {
		name    string
		ready   bool
		failing []Failure
		want    []string
	}{
		{"ready", true, nil, []string{"PATH=/usr/bin", "NETREADY_TARGETS=dns:. tcp://db:5432", "HOME=/", "NETREADY_READY=1", "NETREADY_FAILING=", "NETREADY_CAUSES="}},
		{"not ready", false, []Failure{{"dns:.", "resolver-timeout"}, {"http://h/?a=b", "http-status"}},
			[]string{"PATH=/usr/bin", "NETREADY_TARGETS=dns:. tcp://db:5432", "HOME=/", "NETREADY_READY=0", "NETREADY_FAILING=dns:. http://h/?a=b", "NETREADY_CAUSES=dns:.=resolver-timeout http://h/?a=b=http-status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Environ(base, tt.ready, tt.failing); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCommand runs real programs: one that prints its environment, one
// that fails, one that does not exist; the failures are warnings.
func TestCommand(t *testing.T) {
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	Command([]string{"env"}, &out, log)([]string{"NETREADY_READY=1", "X=y z"})
	if got := out.String(); got != "NETREADY_READY=1\nX=y z\n" {
		t.Errorf("env printed %q, want exactly the environment given", got)
	}
	if logs.Len() != 0 {
		t.Errorf("a run that succeeds logged %q", logs.String())
	}
	Command([]string{"sh", "-c", "exit 3"}, &out, log)([]string{"PATH=/usr/bin:/bin"})
	if !strings.Contains(logs.String(), `level=WARN msg="on-change command failed" command="sh -c exit 3" error="exit status 3"`) {
		t.Errorf("got log %q, want a warning with exit status 3", logs.String())
	}
	logs.Reset()
	Command([]string{"/nonexistent/hook"}, &out, log)(nil)
	if !strings.Contains(logs.String(), "no such file or directory") {
		t.Errorf("got log %q, want a warning naming the missing program", logs.String())
	}
}
