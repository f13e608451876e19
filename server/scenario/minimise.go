package scenario

import "time"

// minimise shrinks steps, a failing script's steps, to a smaller list that
// still fails (fails reruns a candidate), by delta debugging: it tries
// chunks of the list and their complements, halving the chunk size until
// no single step can be removed or budget is spent.
func minimise(steps []Step, fails func([]Step) bool, budget time.Duration) []Step {
	deadline := time.Now().Add(budget)
	n := 2
	for len(steps) >= 2 && time.Now().Before(deadline) {
		chunks := split(steps, n)
		reduced := false
		for i := range chunks {
			if len(chunks) > 2 && fails(chunks[i]) {
				steps, n, reduced = chunks[i], 2, true
				break
			}
			if c := without(chunks, i); fails(c) {
				steps, n, reduced = c, max(n-1, 2), true
				break
			}
			if time.Now().After(deadline) {
				return steps
			}
		}
		if reduced {
			continue
		}
		if n >= len(steps) {
			break
		}
		n = min(2*n, len(steps))
	}
	return steps
}

// split cuts steps into n chunks of nearly equal size.
func split(steps []Step, n int) [][]Step {
	out := make([][]Step, 0, n)
	for i := range n {
		lo, hi := i*len(steps)/n, (i+1)*len(steps)/n
		if hi > lo {
			out = append(out, steps[lo:hi])
		}
	}
	return out
}

// without concatenates every chunk but chunks[skip].
func without(chunks [][]Step, skip int) []Step {
	var out []Step
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}
