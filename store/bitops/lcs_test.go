package bitops

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestParseLCS(t *testing.T) {
	tests := []struct {
		args []string
		want LCSOptions
		err  string
	}{
		{nil, LCSOptions{}, ""},
		{[]string{"LEN"}, LCSOptions{Len: true}, ""},
		{[]string{"idx", "withMATCHLEN", "minmatchlen", "4"}, LCSOptions{Idx: true, WithMatchLen: true, MinMatchLen: 4}, ""},
		{[]string{"minmatchlen", "-5", "idx"}, LCSOptions{Idx: true}, ""},
		{[]string{"len", "idx"}, LCSOptions{}, ErrLCSLenAndIdx},
		{[]string{"len", "idx", "foo"}, LCSOptions{}, ErrSyntax},
		{[]string{"minmatchlen"}, LCSOptions{}, ErrSyntax},
		{[]string{"minmatchlen", "x", "len", "idx"}, LCSOptions{}, ErrNotInteger},
		{[]string{"foo"}, LCSOptions{}, ErrSyntax},
	}
	for _, tt := range tests {
		got, err := ParseLCS(args(tt.args...))
		if err != tt.err || (err == "" && got != tt.want) {
			t.Errorf("ParseLCS(%q) = %+v,%q want %+v,%q", tt.args, got, err, tt.want, tt.err)
		}
	}
}

// TestLCSDocs follows the LCS documentation's examples.
func TestLCSDocs(t *testing.T) {
	a, b := []byte("ohmytext"), []byte("mynewtext")
	r, err := LCS(a, b, LCSOptions{}, 0)
	if err != "" || string(r.Str) != "mytext" || r.Len != 6 {
		t.Fatalf("LCS = %+v %q", r, err)
	}
	r, _ = LCS(a, b, LCSOptions{Len: true}, 0)
	if r.Len != 6 || r.Str != nil {
		t.Fatalf("LEN = %+v", r)
	}
	m1 := LCSMatch{A: [2]int64{4, 7}, B: [2]int64{5, 8}, Len: 4}
	m2 := LCSMatch{A: [2]int64{2, 3}, B: [2]int64{0, 1}, Len: 2}
	r, _ = LCS(a, b, LCSOptions{Idx: true}, 0)
	if r.Len != 6 || !reflect.DeepEqual(r.Matches, []LCSMatch{m1, m2}) {
		t.Fatalf("IDX = %+v", r)
	}
	r, _ = LCS(a, b, LCSOptions{Idx: true, MinMatchLen: 4, WithMatchLen: true}, 0)
	if r.Len != 6 || !reflect.DeepEqual(r.Matches, []LCSMatch{m1}) {
		t.Fatalf("IDX MINMATCHLEN 4 = %+v", r)
	}
}

func TestLCSEdges(t *testing.T) {
	r, err := LCS(nil, []byte("abc"), LCSOptions{Idx: true}, 0)
	if err != "" || r.Len != 0 || len(r.Matches) != 0 || len(r.Str) != 0 {
		t.Fatalf("empty = %+v %q", r, err)
	}
	r, _ = LCS([]byte("abc"), []byte("abc"), LCSOptions{Idx: true}, 0)
	if want := []LCSMatch{{A: [2]int64{0, 2}, B: [2]int64{0, 2}, Len: 3}}; !reflect.DeepEqual(r.Matches, want) {
		t.Fatalf("same = %+v", r.Matches)
	}
	// The table limit: (n+1)*(m+1)*4 bytes must not exceed maxBytes.
	if _, err := LCS([]byte("abc"), []byte("abc"), LCSOptions{}, 64); err != "" {
		t.Fatalf("16 cells * 4 = 64 bytes should fit: %q", err)
	}
	if _, err := LCS([]byte("abc"), []byte("abc"), LCSOptions{Len: true}, 63); err != ErrLCSMemory {
		t.Fatalf("over limit: %q", err)
	}
	big := []byte(strings.Repeat("a", 12000))
	if _, err := LCS(big, big, LCSOptions{Len: true}, 0); err != ErrLCSMemory {
		t.Fatalf("12000x12000 under the default limit: %q", err)
	}
}

// lcsRef is an independent LCS length (memoised recursion over suffixes).
func lcsRef(a, b []byte) int64 {
	memo := make([][]int64, len(a)+1)
	for i := range memo {
		memo[i] = make([]int64, len(b)+1)
		for j := range memo[i] {
			memo[i][j] = -1
		}
	}
	var f func(i, j int) int64
	f = func(i, j int) int64 {
		if i == len(a) || j == len(b) {
			return 0
		}
		if memo[i][j] >= 0 {
			return memo[i][j]
		}
		v := max(f(i+1, j), f(i, j+1))
		if a[i] == b[j] {
			v = max(v, 1+f(i+1, j+1))
		}
		memo[i][j] = v
		return v
	}
	return f(0, 0)
}

func isSubseq(s, of []byte) bool {
	i := 0
	for _, c := range of {
		if i < len(s) && s[i] == c {
			i++
		}
	}
	return i == len(s)
}

func TestLCSProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	rnd := func() []byte {
		b := make([]byte, r.IntN(30))
		for i := range b {
			b[i] = "abcd"[r.IntN(4)]
		}
		return b
	}
	for range 1000 {
		a, b := rnd(), rnd()
		want := lcsRef(a, b)
		res, _ := LCS(a, b, LCSOptions{Idx: true, MinMatchLen: int64(r.IntN(3))}, 0)
		n, _ := LCS(a, b, LCSOptions{Len: true}, 0)
		if res.Len != want || n.Len != want || int64(len(res.Str)) != want {
			t.Fatalf("LCS(%q,%q) len %d/%d str %q want %d", a, b, res.Len, n.Len, res.Str, want)
		}
		if !isSubseq(res.Str, a) || !isSubseq(res.Str, b) {
			t.Fatalf("LCS(%q,%q) = %q is not a common subsequence", a, b, res.Str)
		}
		for _, m := range res.Matches { // every range is a real match
			if string(a[m.A[0]:m.A[1]+1]) != string(b[m.B[0]:m.B[1]+1]) || m.Len != m.A[1]-m.A[0]+1 {
				t.Fatalf("LCS(%q,%q): bad match %+v", a, b, m)
			}
		}
		wide := lcsTable[uint32](a, b, LCSOptions{Idx: true})
		narrow := lcsTable[uint16](a, b, LCSOptions{Idx: true})
		if !reflect.DeepEqual(wide, narrow) {
			t.Fatalf("uint16 and uint32 tables disagree on %q %q", a, b)
		}
	}
}
