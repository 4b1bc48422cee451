package config

// Suggest returns the known word closest to a mistyped one, or "" when none
// is within two edits (and closer than retyping the whole word): the
// "did you mean" of config errors and of unknown names on the command line.
func Suggest(typed string, known []string) string {
	return suggest(typed, known)
}

func suggest(typed string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(typed, k); d < bestDist && d < len(typed) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counted in bytes:
// keys are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
