package probe

import (
	"strings"
	"unicode/utf8"
)

// Closest returns the candidate word most likely meant by a mistyped word,
// for a "did you mean" (a scheme, a parameter; package cli's flags and
// commands): the nearest by edit distance — insertions, deletions,
// substitutions and swaps of two adjacent letters, case ignored — if it is
// near enough to be a typo: one edit for a word of three or four letters,
// two for a longer one; a word of one or two letters is too short to tell
// (-q is no typo of -h). "" if none is, or if two are equally near.
func Closest(word string, candidates []string) string {
	word = strings.ToLower(word)
	limit := 2
	switch n := utf8.RuneCountInString(word); {
	case n <= 2:
		limit = 0
	case n <= 4:
		limit = 1
	}
	best, bestDist, tie := "", limit+1, false
	for _, c := range candidates {
		d := editDistance(word, strings.ToLower(c))
		switch {
		case d == 0:
			return c
		case d < bestDist:
			best, bestDist, tie = c, d, false
		case d == bestDist && c != best:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// Levenshtein's, with the swap of two adjacent runes as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
