package protocol

import (
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		nocase bool
		want   bool
	}{
		{"", "", false, true},
		{"*", "", false, false}, // as Redis: the empty string only matches ""
		{"", "a", false, false},
		{"*", "anything", false, true},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "hllo", false, true},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true}, // reversed range
		{"h[a-b]llo", "hcllo", false, false},
		{"h\\*llo", "h*llo", false, true},
		{"h\\*llo", "hello", false, false},
		{"a\\", "a\\", false, true}, // trailing backslash is literal
		{"[\\]]", "]", false, true},
		{"[a\\-z]", "-", false, true},
		{"[a\\-z]", "b", false, false},
		{"[abc", "c", false, true}, // open set runs to the end
		{"[abc", "cd", false, false},
		{"[", "[", false, false},
		{"[]", "]", false, false},
		{"[^]", "x", false, true},
		{"a*", "a", false, true},
		{"a**", "a", false, true},
		{"*a*", "a", false, true},
		{"*b", "aaa", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"h[A-Z]llo", "hello", true, true},
		{"h[E]llo", "hello", true, true},
		{"[\\E]", "e", true, false}, // escaped bytes in a set compare exactly
		{"user:*:name", "user:1000:name", false, true},
		{"\xff", "\xff", false, true},
		{"[a-\xff]", "b", false, false}, // signed char: range is [-1, 'a']
		{"[a-\xff]", "\xff", false, true},
		{"[a-\xff]", "\xf0", false, false},
	}
	for _, tt := range tests {
		if got := Match([]byte(tt.pat), []byte(tt.s), tt.nocase); got != tt.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tt.pat, tt.s, tt.nocase, got, tt.want)
		}
		if got := redisMatch([]byte(tt.pat), []byte(tt.s), tt.nocase); got != tt.want {
			t.Errorf("oracle(%q, %q, %v) = %v, want %v", tt.pat, tt.s, tt.nocase, got, tt.want)
		}
	}
}

// TestMatchBounded checks the pathological pattern that is exponential for
// a naive recursive matcher finishes quickly.
func TestMatchBounded(t *testing.T) {
	pat := []byte(strings.Repeat("a*", 200) + "b")
	s := []byte(strings.Repeat("a", 5000))
	done := make(chan bool, 1)
	go func() { done <- Match(pat, s, false) }()
	select {
	case got := <-done:
		if got {
			t.Fatal("matched, want no match")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Match did not finish in 20s")
	}
}

// redisMatch is a test oracle: a line-by-line Go transcription of Redis
// 7.0's recursive stringmatchlen_impl, reading a NUL past the end of a
// slice as C reads the sds terminator.
func redisMatch(pattern, s []byte, nocase bool) bool {
	skip := false
	return redisMatchImpl(pattern, 0, len(pattern), s, 0, len(s), nocase, &skip, 0)
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func redisMatchImpl(pat []byte, p, plen int, str []byte, s, slen int, nocase bool, skip *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	low := func(c int) int { return lowerInt(c) }
	for plen > 0 && slen > 0 {
		switch pat[p] {
		case '*':
			for plen > 0 && at(pat, p+1) == '*' {
				p++
				plen--
			}
			if plen == 1 {
				return true
			}
			for slen > 0 {
				if redisMatchImpl(pat, p+1, plen-1, str, s, slen, nocase, skip, nesting+1) {
					return true
				}
				if *skip {
					return false
				}
				s++
				slen--
			}
			*skip = true
			return false
		case '?':
			s++
			slen--
		case '[':
			p++
			plen--
			not := at(pat, p) == '^'
			if not {
				p++
				plen--
			}
			match := false
			for {
				if at(pat, p) == '\\' && plen >= 2 {
					p++
					plen--
					if pat[p] == str[s] {
						match = true
					}
				} else if at(pat, p) == ']' && plen > 0 {
					break
				} else if plen == 0 {
					p--
					plen++
					break
				} else if plen >= 3 && pat[p+1] == '-' {
					start, end, c := int(int8(pat[p])), int(int8(pat[p+2])), int(int8(str[s]))
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = low(start), low(end), low(c)
					}
					p += 2
					plen -= 2
					if c >= start && c <= end {
						match = true
					}
				} else if !nocase {
					if pat[p] == str[s] {
						match = true
					}
				} else if lower(pat[p]) == lower(str[s]) {
					match = true
				}
				p++
				plen--
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s++
			slen--
		default:
			if pat[p] == '\\' && plen >= 2 {
				p++
				plen--
			}
			if !nocase {
				if pat[p] != str[s] {
					return false
				}
			} else if lower(pat[p]) != lower(str[s]) {
				return false
			}
			s++
			slen--
		}
		p++
		plen--
		if slen == 0 {
			for at(pat, p) == '*' && plen > 0 {
				p++
				plen--
			}
			break
		}
	}
	return plen == 0 && slen == 0
}

func FuzzMatch(f *testing.F) {
	f.Add("h*llo", "hello", false)
	f.Add("[a-z]*\\?", "abc?", true)
	f.Add("*a*a*a*a*b", "aaaaaaaaaaaaaaaa", false)
	f.Add("[^", "x", false)
	f.Add("[\\", "\\", true)
	f.Fuzz(func(t *testing.T, pat, s string, nocase bool) {
		if len(pat) > 64 || len(s) > 64 {
			pat, s = truncStr(pat, 64), truncStr(s, 64)
		}
		got := Match([]byte(pat), []byte(s), nocase)
		want := redisMatch([]byte(pat), []byte(s), nocase)
		if got != want {
			t.Fatalf("Match(%q, %q, %v) = %v, Redis says %v", pat, s, nocase, got, want)
		}
	})
}

func truncStr(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func BenchmarkMatch(b *testing.B) {
	pat := []byte("user:*:na?e")
	s := []byte("user:0123456789:name")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Match(pat, s, false)
	}
}
