package manifests

import "strings"

// suggest returns the candidate closest to word, or "" when none is close
// enough to be a likely typo or abbreviation. Ties go to the earlier candidate, so callers
// control the order.
func suggest(word string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Allow about one edit per three characters, and at least one.
	limit := max(1, len(word)/3)
	if bestDist >= 0 && bestDist <= limit {
		return best
	}
	// A shortened name (arch for architectures) is a likely mistake too.
	if len(word) >= 3 {
		for _, c := range candidates {
			if strings.HasPrefix(c, strings.ToLower(word)) {
				return c
			}
		}
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours (amd46 for
// amd64) each count one. It counts bytes; names here are ASCII.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Suggest returns the candidate closest to word, or "" when none is close
// enough to be a likely typo or abbreviation: the one rule for "did you
// mean" shared by the readers of other formats (manifests/starlingx).
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }
