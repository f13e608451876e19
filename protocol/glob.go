package protocol

// Match reports whether s matches the glob pattern, with the semantics of
// Redis 7.0's stringmatchlen (KEYS, SCAN MATCH, PSUBSCRIBE):
//
//   - '*' matches any run of bytes, '?' any one byte;
//   - "[abc]", "[^abc]", "[a-z]" match one byte of (or not of) a set; ranges
//     may be reversed ("[z-a]"); "\x" inside a set is a literal x; a set
//     left open at the end of the pattern runs to the end;
//   - "\x" matches x literally; a trailing '\' matches '\';
//   - nocase folds ASCII letters, except escaped bytes inside a set;
//   - as in Redis, the empty string matches only the empty pattern.
//
// Unlike Redis's recursive matcher it never recurses: it backtracks only to
// the last '*' seen, which gives the same result in O(len(pattern)*len(s))
// time at worst, so "a*a*a*...b" cannot blow up.
func Match(pattern, s []byte, nocase bool) bool {
	if len(s) == 0 {
		return len(pattern) == 0
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) && pattern[p] == '*' {
			for p < len(pattern) && pattern[p] == '*' {
				p++
			}
			if p == len(pattern) {
				return true
			}
			starP, starI = p, i
			continue
		}
		if p < len(pattern) {
			if next, ok := matchOne(pattern, p, s[i], nocase); ok {
				p, i = next, i+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more byte and retry from there.
		starI++
		p, i = starP, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchOne matches the single non-'*' pattern element at pattern[p] against
// byte c. It returns the index just after the element and whether c matched.
func matchOne(pattern []byte, p int, c byte, nocase bool) (int, bool) {
	switch pattern[p] {
	case '?':
		return p + 1, true
	case '[':
		return matchSet(pattern, p+1, c, nocase)
	case '\\':
		if len(pattern)-p >= 2 {
			p++
		}
	}
	if nocase {
		return p + 1, lower(pattern[p]) == lower(c)
	}
	return p + 1, pattern[p] == c
}

// matchSet matches c against the set starting at pattern[p], just after
// its '['. It mirrors Redis's byte-for-byte handling, including signed-char
// comparison in ranges, and returns the index after the closing ']'.
func matchSet(pattern []byte, p int, c byte, nocase bool) (int, bool) {
	not := p < len(pattern) && pattern[p] == '^'
	if not {
		p++
	}
	match := false
	for {
		rest := len(pattern) - p
		switch {
		case rest >= 2 && pattern[p] == '\\':
			p++
			if pattern[p] == c {
				match = true
			}
		case rest >= 1 && pattern[p] == ']':
			return p + 1, match != not
		case rest == 0:
			// Unterminated set: it ends with the pattern.
			return p, match != not
		case rest >= 3 && pattern[p+1] == '-':
			lo, hi, x := int(int8(pattern[p])), int(int8(pattern[p+2])), int(int8(c))
			if lo > hi {
				lo, hi = hi, lo
			}
			if nocase {
				lo, hi, x = lowerInt(lo), lowerInt(hi), lowerInt(x)
			}
			p += 2
			if x >= lo && x <= hi {
				match = true
			}
		default:
			if pattern[p] == c || (nocase && lower(pattern[p]) == lower(c)) {
				match = true
			}
		}
		p++
	}
}

// lower folds an ASCII upper-case letter, as C's tolower in the C locale.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lowerInt(c int) int {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
