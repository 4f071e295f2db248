package gate_test

import (
	"testing"

	"github.com/netready/netready/gate"
)

func TestReady(t *testing.T) {
	tests := []struct {
		name string
		ok   []bool
		any  bool
		want bool
	}{
		{"all pass", []bool{true, true, true}, false, true},
		{"single pass", []bool{true}, false, true},
		{"one fails", []bool{true, false, true}, false, false},
		{"last fails", []bool{true, true, false}, false, false},
		{"all fail", []bool{false, false}, false, false},
		{"any with one pass", []bool{false, true, false}, true, true},
		{"any with all pass", []bool{true, true}, true, true},
		{"any with none", []bool{false, false, false}, true, false},
		{"any with single fail", []bool{false}, true, false},
		{"empty list", []bool{}, false, false},
		{"nil list", nil, false, false},
		{"empty list with any", []bool{}, true, false},
		{"nil list with any", nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gate.Ready(tc.ok, tc.any); got != tc.want {
				t.Errorf("Ready(%v, any=%v): got %v, want %v", tc.ok, tc.any, got, tc.want)
			}
		})
	}
}
