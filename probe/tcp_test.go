package probe

import (
	"net"
	"strings"
	"testing"
)

// TestTCP probes tcp:// targets: live and closed loopback ports, and host
// names from the hosts file with a dead and a live address.
func TestTCP(t *testing.T) {
	t.Parallel()
	live := tcpListener(t)
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l6.Close() })
	live6 := port(t, l6.Addr())
	_, dead, _ := net.SplitHostPort(deadTCPPort(t))
	tests := []struct {
		name   string
		hosts  string
		target string // LIVE is a port with a listener on 127.0.0.1, LIVE6 on ::1, DEAD a port without
		want   want   // LIVE and DEAD as in target
	}{
		{
			name:   "listener",
			target: "tcp://127.0.0.1:LIVE",
			want:   want{ok: true, detail: "connected to 127.0.0.1:LIVE", phases: []string{"connect"}},
		},
		{
			name:   "listener on ::1",
			target: "tcp://[::1]:LIVE6",
			want:   want{ok: true, detail: "connected to [::1]:LIVE6"},
		},
		{
			name:   "closed port",
			target: "tcp://127.0.0.1:DEAD",
			want: want{
				err:    []string{"connect 127.0.0.1:DEAD: connection refused"},
				hint:   "nothing is listening on that port: is the service running?",
				phases: []string{"connect"},
			},
		},
		{
			name:   "a dead and a live address",
			hosts:  "127.213.0.9 both.test\n127.0.0.1 both.test\n",
			target: "tcp://both.test:LIVE",
			want:   want{ok: true, detail: "connected to 127.0.0.1:LIVE", phases: []string{"resolve", "connect"}},
		},
		{
			name:   "a live and a dead address",
			hosts:  "127.0.0.1 both.test\n127.213.0.9 both.test\n",
			target: "tcp://both.test:LIVE",
			want:   want{ok: true, detail: "connected to 127.0.0.1:LIVE"},
		},
		{
			name:   "two dead addresses",
			hosts:  "127.213.0.9 dead.test\n127.213.0.10 dead.test\n",
			target: "tcp://dead.test:LIVE",
			want: want{
				err:  []string{"connect 127.213.0.9:LIVE: connection refused", "connect 127.213.0.10:LIVE: connection refused"},
				hint: "nothing is listening",
			},
		},
	}
	sub := strings.NewReplacer("LIVE6", live6, "LIVE", live, "DEAD", dead)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := loopbackEnv(t, noResolvers, tc.hosts)
			r := probeWithin(t, env, sub.Replace(tc.target), passTimeout)
			tc.want.subst(sub).check(t, r)
			if !r.Local {
				t.Errorf("Local: got false, want true for loopback addresses")
			}
		})
	}
}
