package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// notifySocket listens on a datagram socket for sd_notify messages, as
// systemd does; read returns every message received so far, in order,
// once none has come for 100 ms.
func notifySocket(t *testing.T) (path string, read func() []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return path, func() []string {
		var msgs []string
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := conn.Read(buf)
			if err != nil {
				return msgs
			}
			msgs = append(msgs, string(buf[:n]))
		}
	}
}

// notifications runs netready with NOTIFY_SOCKET set to a datagram socket
// the test listens on, and returns every message it received, in order.
func notifications(t *testing.T, args ...string) (msgs []string, code int) {
	t.Helper()
	sock, read := notifySocket(t)
	bin, err := exec.LookPath("netready")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return read(), code
}

func TestSdNotify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // regular expressions, one per message, in order
		// optional is how many of the last messages may be missing: a
		// loaded machine may fit one round fewer into --timeout.
		optional int
	}{
		{
			name: "ready at once",
			args: []string{"wait", "route:127.0.0.1"},
			want: []string{
				`^STATUS=probing 1 target$`,
				`^STATUS=ready: 1/1 targets pass \(\S+ms\)\nREADY=1$`,
			},
		},
		{
			name:     "not ready, extending the start timeout every round",
			args:     []string{"wait", "--timeout", "1s", "--extend-timeout", "--local-interval", "400ms", "tcp://127.0.0.1:1"},
			wantCode: 1,
			want: []string{
				`^STATUS=probing 1 target\nEXTEND_TIMEOUT_USEC=8000000$`,
				// The next round is 400ms away, less what reporting took.
				`^STATUS=waiting for tcp://127.0.0.1:1 \(port-closed: connect 127.0.0.1:1: connection refused\)\nEXTEND_TIMEOUT_USEC=8[0-4]\d\d000$`,
				`^EXTEND_TIMEOUT_USEC=8[0-4]\d\d000$`,
				`^EXTEND_TIMEOUT_USEC=8[0-4]\d\d000$`,
			},
			optional: 1,
		},
		{
			name: "no READY=1 when a command replaces netready",
			args: []string{"wait", "route:127.0.0.1", "--", "true"},
			want: []string{
				`^STATUS=probing 1 target$`,
				`^STATUS=ready: 1/1 targets pass \(\S+ms\)$`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs, code := notifications(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d", code, tt.wantCode)
			}
			if len(msgs) > len(tt.want) || len(msgs) < len(tt.want)-tt.optional {
				t.Fatalf("got %d messages %q, want %d (%d of them optional)", len(msgs), msgs, len(tt.want), tt.optional)
			}
			for i, re := range tt.want[:len(msgs)] {
				if !regexp.MustCompile(re).MatchString(msgs[i]) {
					t.Errorf("message %d: got %q, want /%s/", i, msgs[i], re)
				}
			}
		})
	}
}
