package protocol

import "strconv"

// Sorted set option parsers (ZADD, ZRANGE and its variants, score and lex
// range bounds, ZUNION/ZINTER/ZDIFF options), as Redis 7's t_zset.c.

// Sorted set error texts.
const (
	ErrZAddXXNX      = "ERR XX and NX options at the same time are not compatible"
	ErrZAddGTLTNX    = "ERR GT, LT, and/or NX options at the same time are not compatible"
	ErrZAddIncrPair  = "ERR INCR option supports a single increment-element pair"
	ErrZScoreNaN     = "ERR resulting score is not a number (NaN)"
	ErrZLexRange     = "ERR min or max not valid string range item"
	ErrZLimitRank    = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	ErrZWithScoresLx = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	ErrZWeightFloat  = "ERR weight value is not a float"
	ErrZLimitNeg     = "ERR LIMIT can't be negative"
	ErrZNumkeys      = "ERR numkeys should be greater than 0"
	ErrZCount        = "ERR count should be greater than 0"
	ErrValueRange    = "ERR value is out of range"
)

// ZAddOptions are ZADD's flags.
type ZAddOptions struct {
	NX, XX, GT, LT, CH, Incr bool
}

// ParseZAddOptions parses the flags after ZADD's key (args[0] is the first
// word after the key) and returns them with the index in args of the first
// score. Score/member pairs are checked for count only (odd or none:
// ErrSyntax), scores are not parsed.
func ParseZAddOptions(args [][]byte) (ZAddOptions, int, string) {
	var o ZAddOptions
	i := 0
	for ; i < len(args); i++ {
		w := args[i]
		switch {
		case equalFold(w, "nx"):
			o.NX = true
		case equalFold(w, "xx"):
			o.XX = true
		case equalFold(w, "gt"):
			o.GT = true
		case equalFold(w, "lt"):
			o.LT = true
		case equalFold(w, "ch"):
			o.CH = true
		case equalFold(w, "incr"):
			o.Incr = true
		default:
			goto pairs
		}
	}
pairs:
	n := len(args) - i
	switch {
	case n == 0 || n%2 == 1:
		return o, 0, ErrSyntax
	case o.Incr && n > 2:
		return o, 0, ErrZAddIncrPair
	case o.NX && o.XX:
		return o, 0, ErrZAddXXNX
	case o.NX && (o.GT || o.LT) || o.GT && o.LT:
		return o, 0, ErrZAddGTLTNX
	}
	return o, i, ""
}

// ScoreBound is one end of a score range: Value, exclusive when Ex.
type ScoreBound struct {
	Value float64
	Ex    bool
}

// ParseScoreBound parses a score range end: a float, "(" before it for an
// exclusive bound, "-inf"/"+inf"/"inf". NaN is refused.
func ParseScoreBound(b []byte) (ScoreBound, bool) {
	var sb ScoreBound
	if len(b) > 0 && b[0] == '(' {
		sb.Ex, b = true, b[1:]
	}
	f, ok := parseStrtod(b)
	if !ok {
		return ScoreBound{}, false
	}
	sb.Value = f
	return sb, true
}

// parseStrtod parses b as Redis's zslParseRange does with strtod: leading
// spaces skipped, the empty string is 0, overflow gives ±inf and
// underflow 0 (no ERANGE check), NaN and trailing bytes are refused.
func parseStrtod(b []byte) (float64, bool) {
	for len(b) > 0 && (b[0] == ' ' || b[0] >= '\t' && b[0] <= '\r') {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, true
	}
	if f, ok := ParseFloat(b); ok {
		return f, true
	}
	i := 0
	if b[0] == '+' || b[0] == '-' {
		i++
	}
	if _, _, ok := scanFloat(b[i:]); !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
		return f, true // ±Inf on overflow, 0 on underflow, as strtod
	}
	return 0, false
}

// LexBound is one end of a lex range: Inf -1 for "-", +1 for "+", else 0
// and Value, exclusive when Ex ("(" prefix) or inclusive ("[" prefix).
type LexBound struct {
	Inf   int
	Value []byte
	Ex    bool
}

// ParseLexBound parses "-", "+", "[value" or "(value".
func ParseLexBound(b []byte) (LexBound, bool) {
	if len(b) == 0 {
		return LexBound{}, false
	}
	switch b[0] {
	case '-', '+':
		if len(b) != 1 {
			return LexBound{}, false
		}
		if b[0] == '-' {
			return LexBound{Inf: -1}, true
		}
		return LexBound{Inf: 1}, true
	case '(':
		return LexBound{Value: b[1:], Ex: true}, true
	case '[':
		return LexBound{Value: b[1:]}, true
	}
	return LexBound{}, false
}

// ZRange kinds.
const (
	ZRangeAuto = iota // not given: by rank for ZRANGE
	ZRangeRank
	ZRangeScore
	ZRangeLex
)

// ZRangeOptions are ZRANGE's options after key, start and stop.
type ZRangeOptions struct {
	Kind       int  // ZRangeRank, ZRangeScore or ZRangeLex
	Rev        bool // REV, or one of the ZREV* commands
	WithScores bool
	Offset     int64 // LIMIT offset (0 when absent)
	Count      int64 // LIMIT count (-1 when absent: all)
}

// ParseZRangeOptions parses the options after start and stop. kind and rev
// are fixed by the command (ZRANGEBYSCORE: ZRangeScore…); ZRANGE and
// ZRANGESTORE pass ZRangeAuto, false and accept BYSCORE, BYLEX and REV.
// store refuses WITHSCORES (ZRANGESTORE).
func ParseZRangeOptions(args [][]byte, kind int, rev, store bool) (ZRangeOptions, string) {
	o := ZRangeOptions{Kind: kind, Rev: rev, Count: -1}
	auto, autoRev := kind == ZRangeAuto, kind == ZRangeAuto
	for i := 0; i < len(args); i++ {
		w := args[i]
		switch {
		case !store && equalFold(w, "withscores"):
			o.WithScores = true
		case equalFold(w, "limit") && i+2 < len(args):
			off, ok1 := ParseInt(args[i+1])
			cnt, ok2 := ParseInt(args[i+2])
			if !ok1 || !ok2 {
				return o, ErrNotInteger
			}
			o.Offset, o.Count = off, cnt
			i += 2
		case autoRev && !o.Rev && equalFold(w, "rev"):
			o.Rev = true
		case auto && o.Kind == ZRangeAuto && equalFold(w, "bylex"):
			o.Kind = ZRangeLex
		case auto && o.Kind == ZRangeAuto && equalFold(w, "byscore"):
			o.Kind = ZRangeScore
		default:
			return o, ErrSyntax
		}
	}
	if o.Kind == ZRangeAuto {
		o.Kind = ZRangeRank
	}
	if o.Count != -1 && o.Kind == ZRangeRank {
		return o, ErrZLimitRank
	}
	if o.WithScores && o.Kind == ZRangeLex {
		return o, ErrZWithScoresLx
	}
	return o, ""
}

// Aggregate functions of ZUNION/ZINTER.
const (
	AggrSum = iota
	AggrMin
	AggrMax
)

// ZSetOpOptions are the options after the keys of ZUNION, ZINTER, ZDIFF
// (and their STORE forms) and ZINTERCARD.
type ZSetOpOptions struct {
	Weights    []float64 // nil when absent
	Aggregate  int
	WithScores bool
	Limit      int64 // ZINTERCARD LIMIT, 0 = none
}

// ZSetOp tells ParseZSetOpOptions which options the command has.
type ZSetOp struct {
	Weights    bool // WEIGHTS and AGGREGATE (union, inter)
	WithScores bool // not the STORE forms
	Limit      bool // ZINTERCARD
}

// ParseZSetOpOptions parses args (the words after the numkeys keys) for
// numkeys inputs.
func ParseZSetOpOptions(args [][]byte, numkeys int, op ZSetOp) (ZSetOpOptions, string) {
	var o ZSetOpOptions
	for i := 0; i < len(args); {
		rem, w := len(args)-i, args[i]
		switch {
		case op.Weights && rem >= numkeys+1 && equalFold(w, "weights"):
			o.Weights = make([]float64, numkeys)
			for k := range numkeys {
				f, ok := ParseFloat(args[i+1+k])
				if !ok {
					return o, ErrZWeightFloat
				}
				o.Weights[k] = f
			}
			i += numkeys + 1
		case op.Weights && rem >= 2 && equalFold(w, "aggregate"):
			switch v := args[i+1]; {
			case equalFold(v, "sum"):
				o.Aggregate = AggrSum
			case equalFold(v, "min"):
				o.Aggregate = AggrMin
			case equalFold(v, "max"):
				o.Aggregate = AggrMax
			default:
				return o, ErrSyntax
			}
			i += 2
		case op.WithScores && equalFold(w, "withscores"):
			o.WithScores = true
			i++
		case op.Limit && rem >= 2 && equalFold(w, "limit"):
			n, ok := ParseInt(args[i+1])
			if !ok || n < 0 {
				return o, ErrZLimitNeg
			}
			o.Limit = n
			i += 2
		default:
			return o, ErrSyntax
		}
	}
	return o, ""
}
