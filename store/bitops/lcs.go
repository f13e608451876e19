package bitops

import "math"

// LCSOptions is LCS's parsed option list.
type LCSOptions struct {
	Len          bool  // LEN: reply only the length
	Idx          bool  // IDX: reply the matching ranges and the length
	WithMatchLen bool  // WITHMATCHLEN: add each range's length (with IDX)
	MinMatchLen  int64 // MINMATCHLEN: ranges shorter than this are left out (with IDX); negative becomes 0
}

// ParseLCS parses LCS's arguments after the two keys:
// [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], any case, in any order.
// Errors in Redis's order: an unknown option (or MINMATCHLEN without a
// value) is ErrSyntax, a bad MINMATCHLEN ErrNotInteger, and after all
// options LEN with IDX is ErrLCSLenAndIdx. Redis checks the two keys'
// types (ErrLCSKeysType) before the options.
func ParseLCS(args [][]byte) (LCSOptions, string) {
	var o LCSOptions
	for j := 0; j < len(args); j++ {
		opt := args[j]
		switch {
		case equalFold(opt, "idx"):
			o.Idx = true
		case equalFold(opt, "len"):
			o.Len = true
		case equalFold(opt, "withmatchlen"):
			o.WithMatchLen = true
		case equalFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				return o, ErrNotInteger
			}
			o.MinMatchLen = max(n, 0)
			j++
		default:
			return o, ErrSyntax
		}
	}
	if o.Len && o.Idx {
		return o, ErrLCSLenAndIdx
	}
	return o, ""
}

// LCSMatch is one matching range of LCS IDX: bytes A[0]..A[1] of the first
// string match bytes B[0]..B[1] of the second (inclusive).
type LCSMatch struct {
	A   [2]int64
	B   [2]int64
	Len int64 // A[1]-A[0]+1; replied only WITHMATCHLEN
}

// LCSResult is what LCS replies, by option:
//   - IDX: a map (RESP3) or flat array (RESP2) "matches" -> Matches, "len" ->
//     Len, each match an array [[A0,A1],[B0,B1]] plus Len with WITHMATCHLEN;
//   - LEN: the integer Len;
//   - otherwise: the bulk string Str (possibly empty).
type LCSResult struct {
	Len     int64
	Str     []byte     // the subsequence; nil with LEN
	Matches []LCSMatch // from the end of the strings backwards, as Redis emits them; only with IDX
}

// LCS computes the longest common subsequence of a and b with Redis's
// dynamic programming table and backtracking, so that ties resolve and
// ranges come out exactly as Redis's. maxBytes is proto-max-bulk-len (<= 0
// means DefaultMaxBulkLen): if Redis's table of (len(a)+1)*(len(b)+1)
// 4-byte cells would exceed it, LCS returns ErrLCSMemory without
// allocating. Missing keys are empty strings.
func LCS(a, b []byte, o LCSOptions, maxBytes int64) (LCSResult, string) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBulkLen
	}
	if uint64(len(a)) >= math.MaxUint32-1 || uint64(len(b)) >= math.MaxUint32-1 {
		return LCSResult{}, ErrLCSTooLong
	}
	cells := (uint64(len(a)) + 1) * (uint64(len(b)) + 1)
	if cells > uint64(maxBytes)/4 {
		return LCSResult{}, ErrLCSMemory
	}
	if o.Len && !o.Idx {
		return LCSResult{Len: lcsLen(a, b)}, ""
	}
	if min(len(a), len(b)) <= math.MaxUint16 {
		return lcsTable[uint16](a, b, o), ""
	}
	return lcsTable[uint32](a, b, o), ""
}

// lcsLen is the LCS length with two rows of the table.
func lcsLen(a, b []byte) int64 {
	prev := make([]uint32, len(b)+1)
	row := make([]uint32, len(b)+1)
	for _, ai := range a {
		lcsRow(row, prev, ai, b)
		prev, row = row, prev
	}
	return int64(prev[len(b)])
}

// lcsTable fills the full table (cells hold at most min(len(a), len(b)),
// so uint16 suffices for short inputs) and backtracks from the end.
func lcsTable[T uint16 | uint32](a, b []byte, o LCSOptions) LCSResult {
	w := len(b) + 1
	t := make([]T, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		lcsRow(t[i*w:(i+1)*w], t[(i-1)*w:i*w], a[i-1], b)
	}
	return lcsBacktrack(a, b, o, func(i, j int) T { return t[i*w+j] })
}

// lcsRow fills row i of the table from the previous row: cell j+1 is
// prev[j]+1 when ai matches b[j], else the larger of the cell above and
// the cell to the left. row[0] and prev[0] are 0.
func lcsRow[T uint16 | uint32](row, prev []T, ai byte, b []byte) {
	row, prev = row[:len(b)+1], prev[:len(b)+1]
	var left, diag T
	for j, bj := range b {
		up := prev[j+1]
		var eq T
		if ai == bj {
			eq = 1
		}
		// On a match diag+1 is never below up or left, and otherwise diag
		// is never above them, so one branch-free max gives the cell.
		v := max(up, left, diag+eq)
		row[j+1] = v
		left, diag = v, up
	}
}

// lcsBacktrack walks the table from the end as Redis's lcsCommand does,
// building the subsequence and, with IDX, the ranges.
func lcsBacktrack[T uint16 | uint32](a, b []byte, o LCSOptions, at func(i, j int) T) LCSResult {
	n := int(at(len(a), len(b)))
	res := LCSResult{Len: int64(n), Str: make([]byte, n)}
	idx := n
	alen := len(a)
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0 // aStart == alen: no open range
	for i, j := len(a), len(b); i > 0 && j > 0; {
		emit := false
		if a[i-1] == b[j-1] {
			res.Str[idx-1] = a[i-1]
			switch {
			case aStart == alen:
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			case aStart == i && bStart == j:
				aStart--
				bStart--
			default:
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx, i, j = idx-1, i-1, j-1
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			emit = aStart != alen
		}
		if emit {
			mlen := int64(aEnd - aStart + 1)
			if o.Idx && (o.MinMatchLen == 0 || mlen >= o.MinMatchLen) {
				res.Matches = append(res.Matches, LCSMatch{
					A:   [2]int64{int64(aStart), int64(aEnd)},
					B:   [2]int64{int64(bStart), int64(bEnd)},
					Len: mlen,
				})
			}
			aStart = alen
		}
	}
	return res
}
