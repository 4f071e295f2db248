package probe

import "testing"

func TestClosest(t *testing.T) {
	flags := []string{"timeout", "probe-timeout", "any", "json", "quiet", "q", "verbose", "v", "settle"}
	for _, tt := range []struct {
		name, word string
		candidates []string
		want       string
	}{
		{"one letter missing", "timout", flags, "timeout"},
		{"one letter more", "timeoutt", flags, "timeout"},
		{"two letters swapped", "jsno", flags, "json"},
		{"case ignored", "JSON", flags, "json"},
		{"two edits in a long word", "setle-", flags, "settle"},
		{"swapped scheme", "tpc", []string{"link", "route", "dns", "tcp", "http", "https", "tls", "icmp", "clock"}, "tcp"},
		{"missing letter of https", "htps", []string{"http", "https"}, "https"},
		{"too far for a short word", "ftp", []string{"tcp", "http", "tls"}, ""},
		{"too far", "bogus", flags, ""},
		{"two as near", "tls", []string{"tcp", "tlsx", "tl"}, ""},
		{"exact wins over near", "tcp", []string{"tcpx", "tcp"}, "tcp"},
		{"nothing to choose from", "x", nil, ""},
		{"one letter is too short to tell", "q", []string{"h", "v"}, ""},
		{"but equal is equal", "Q", []string{"h", "q"}, "q"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closest(tt.word, tt.candidates); got != tt.want {
				t.Errorf("Closest(%q, %q): got %q, want %q", tt.word, tt.candidates, got, tt.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"kitten", "sitting", 3},
		{"tpc", "tcp", 1},       // a swap is one edit
		{"famliy", "family", 1}, // so is this one
		{"ca", "abc", 3},        // optimal string alignment: no edit of a swapped pair
		{"naïve", "naive", 1},   // runes, not bytes
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
