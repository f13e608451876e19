package protocol

import (
	"bytes"
	"math"
	"testing"
)

func zargs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func TestParseZAddOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want ZAddOptions
		at   int
		err  string
	}{
		{[]string{"1", "a"}, ZAddOptions{}, 0, ""},
		{[]string{"nx", "CH", "1", "a", "2", "b"}, ZAddOptions{NX: true, CH: true}, 2, ""},
		{[]string{"GT", "incr", "1", "a"}, ZAddOptions{GT: true, Incr: true}, 2, ""},
		{[]string{"XX", "LT", "1", "a"}, ZAddOptions{XX: true, LT: true}, 2, ""},
		{[]string{"NX"}, ZAddOptions{}, 0, ErrSyntax},
		{[]string{"1", "a", "2"}, ZAddOptions{}, 0, ErrSyntax},
		{[]string{"INCR", "1", "a", "2", "b"}, ZAddOptions{}, 0, ErrZAddIncrPair},
		{[]string{"NX", "XX", "1", "a"}, ZAddOptions{}, 0, ErrZAddXXNX},
		{[]string{"NX", "GT", "1", "a"}, ZAddOptions{}, 0, ErrZAddGTLTNX},
		{[]string{"GT", "LT", "1", "a"}, ZAddOptions{}, 0, ErrZAddGTLTNX},
	} {
		o, at, err := ParseZAddOptions(zargs(tc.args...))
		if err != tc.err || err == "" && (o != tc.want || at != tc.at) {
			t.Errorf("%q: %+v %d %q, want %+v %d %q", tc.args, o, at, err, tc.want, tc.at, tc.err)
		}
	}
}

func TestParseScoreBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ScoreBound
		ok   bool
	}{
		{"1.5", ScoreBound{1.5, false}, true},
		{"(1.5", ScoreBound{1.5, true}, true},
		{"-inf", ScoreBound{math.Inf(-1), false}, true},
		{"(+inf", ScoreBound{math.Inf(1), true}, true},
		{"(", ScoreBound{0, true}, true},
		{"", ScoreBound{0, false}, true},
		{" 2", ScoreBound{2, false}, true},
		{"1e400", ScoreBound{math.Inf(1), false}, true},
		{"nan", ScoreBound{}, false},
		{"1x", ScoreBound{}, false},
		{"[1", ScoreBound{}, false},
		{"((1", ScoreBound{}, false},
	} {
		got, ok := ParseScoreBound([]byte(tc.in))
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseLexBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LexBound
		ok   bool
	}{
		{"-", LexBound{Inf: -1}, true},
		{"+", LexBound{Inf: 1}, true},
		{"[a", LexBound{Value: []byte("a")}, true},
		{"(ab", LexBound{Value: []byte("ab"), Ex: true}, true},
		{"[", LexBound{Value: []byte{}}, true},
		{"", LexBound{}, false},
		{"a", LexBound{}, false},
		{"+a", LexBound{}, false},
		{"--", LexBound{}, false},
	} {
		got, ok := ParseLexBound([]byte(tc.in))
		if ok != tc.ok || ok && (got.Inf != tc.want.Inf || got.Ex != tc.want.Ex || !bytes.Equal(got.Value, tc.want.Value)) {
			t.Errorf("%q: %+v %v, want %+v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseZRangeOptions(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		kind      int
		rev, stor bool
		want      ZRangeOptions
		err       string
	}{
		{nil, ZRangeAuto, false, false, ZRangeOptions{Kind: ZRangeRank, Count: -1}, ""},
		{[]string{"BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"}, ZRangeAuto, false, false,
			ZRangeOptions{Kind: ZRangeScore, Rev: true, WithScores: true, Offset: 1, Count: 2}, ""},
		{[]string{"bylex", "limit", "0", "-1"}, ZRangeAuto, false, false, ZRangeOptions{Kind: ZRangeLex, Count: -1}, ""},
		{[]string{"LIMIT", "0", "1"}, ZRangeAuto, false, false, ZRangeOptions{}, ErrZLimitRank},
		{[]string{"BYLEX", "WITHSCORES"}, ZRangeAuto, false, false, ZRangeOptions{}, ErrZWithScoresLx},
		{[]string{"REV", "REV"}, ZRangeAuto, false, false, ZRangeOptions{}, ErrSyntax},
		{[]string{"BYSCORE", "BYLEX"}, ZRangeAuto, false, false, ZRangeOptions{}, ErrSyntax},
		{[]string{"WITHSCORES"}, ZRangeAuto, false, true, ZRangeOptions{}, ErrSyntax},
		{[]string{"LIMIT", "1"}, ZRangeScore, false, false, ZRangeOptions{}, ErrSyntax},
		{[]string{"LIMIT", "x", "1"}, ZRangeScore, false, false, ZRangeOptions{}, ErrNotInteger},
		{[]string{"REV"}, ZRangeScore, true, false, ZRangeOptions{}, ErrSyntax},
		{[]string{"BYSCORE"}, ZRangeScore, false, false, ZRangeOptions{}, ErrSyntax},
	} {
		o, err := ParseZRangeOptions(zargs(tc.args...), tc.kind, tc.rev, tc.stor)
		if err != tc.err || err == "" && o != tc.want {
			t.Errorf("%q: %+v %q, want %+v %q", tc.args, o, err, tc.want, tc.err)
		}
	}
}

func TestParseZSetOpOptions(t *testing.T) {
	all := ZSetOp{Weights: true, WithScores: true}
	for _, tc := range []struct {
		args []string
		op   ZSetOp
		err  string
	}{
		{[]string{"WEIGHTS", "1", "2", "AGGREGATE", "max", "WITHSCORES"}, all, ""},
		{[]string{"WEIGHTS", "1"}, all, ErrSyntax},
		{[]string{"WEIGHTS", "1", "x"}, all, ErrZWeightFloat},
		{[]string{"AGGREGATE", "avg"}, all, ErrSyntax},
		{[]string{"WITHSCORES"}, ZSetOp{Weights: true}, ErrSyntax},
		{[]string{"WEIGHTS", "1", "2"}, ZSetOp{WithScores: true}, ErrSyntax},
		{[]string{"LIMIT", "-1"}, ZSetOp{Limit: true}, ErrZLimitNeg},
		{[]string{"LIMIT", "3"}, ZSetOp{Limit: true}, ""},
	} {
		o, err := ParseZSetOpOptions(zargs(tc.args...), 2, tc.op)
		if err != tc.err {
			t.Errorf("%q: %q, want %q", tc.args, err, tc.err)
		}
		if err == "" && tc.op.Weights && (len(o.Weights) != 2 || o.Weights[1] != 2 || o.Aggregate != AggrMax || !o.WithScores) {
			t.Errorf("%q: %+v", tc.args, o)
		}
	}
}

// splitArgs turns fuzz input into arguments (split on spaces).
func splitArgs(b []byte) [][]byte { return bytes.Fields(b) }

// FuzzZSetOptions runs every sorted set parser on arbitrary input: none may
// panic, and accepted results must be consistent.
func FuzzZSetOptions(f *testing.F) {
	for _, s := range []string{"NX CH 1 a", "INCR GT 1 a", "BYSCORE REV LIMIT 1 2 WITHSCORES", "(1", "[a",
		"-", "+inf", "WEIGHTS 1 2 AGGREGATE MIN", "LIMIT -1", "(", "0x1p3", "1e400", " 5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		args := splitArgs(b)
		if o, at, err := ParseZAddOptions(args); err == "" {
			if n := len(args) - at; n == 0 || n%2 != 0 || o.NX && o.XX || o.GT && o.LT {
				t.Fatalf("ZADD options %q accepted: %+v at %d", b, o, at)
			}
		}
		if sb, ok := ParseScoreBound(b); ok && math.IsNaN(sb.Value) {
			t.Fatalf("score bound %q is NaN", b)
		}
		if lb, ok := ParseLexBound(b); ok && lb.Inf != 0 && len(b) != 1 {
			t.Fatalf("lex bound %q: %+v", b, lb)
		}
		for _, kind := range []int{ZRangeAuto, ZRangeScore, ZRangeLex, ZRangeRank} {
			if o, err := ParseZRangeOptions(args, kind, false, false); err == "" && o.Kind == ZRangeAuto {
				t.Fatalf("ZRANGE options %q left the kind unset", b)
			}
		}
		for n := 1; n <= 3; n++ {
			if o, err := ParseZSetOpOptions(args, n, ZSetOp{Weights: true, WithScores: true, Limit: true}); err == "" && o.Weights != nil && len(o.Weights) != n {
				t.Fatalf("%q: %d weights for %d keys", b, len(o.Weights), n)
			}
		}
	})
}
