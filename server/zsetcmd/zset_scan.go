package zsetcmd

import (
	"math"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store/zset"
)

// zsetScan returns the members (with scores, as Redis formats them) of
// one ZSCAN step from cursor, and the next cursor (0 when done).
//
// A listpack set is returned whole with cursor 0, as Redis does. A big one
// is walked in score order: the cursor encodes the last score returned and
// the next call resumes after it. A call ends only between two different
// scores (so members sharing a score come in one reply, past COUNT if need
// be), which keeps Redis's guarantee: a member present for the whole scan
// is returned, whatever is added or removed meanwhile.
func zsetScan(z *zset.ZSet, cursor uint64, o protocol.ScanOptions) ([][]byte, uint64) {
	start, count := 0, int64(z.Len())
	if z.Encoding() != "listpack" {
		count = o.Count
		if cursor != 0 {
			start = z.ScoreRank(zsetCursorScore(cursor), true)
		}
	}
	var items [][]byte
	var next uint64
	last, seen := 0.0, int64(0)
	z.Walk(start, false, func(m []byte, s float64) bool {
		if seen >= count && s != last {
			next = zsetScoreCursor(last)
			return false
		}
		seen, last = seen+1, s
		if o.Match == nil || protocol.Match(o.Match, m, false) {
			if s == 0 {
				s = 0 // Redis's d2string writes -0 as "0"
			}
			items = append(items, append([]byte(nil), m...), protocol.AppendFloat(nil, s))
		}
		return true
	})
	return items, next
}

// zsetScoreCursor maps a score to a cursor, preserving order; no score
// maps to 0 (the start and end cursor).
func zsetScoreCursor(s float64) uint64 {
	b := math.Float64bits(s + 0) // -0 as 0
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// zsetCursorScore is zsetScoreCursor's inverse.
func zsetCursorScore(c uint64) float64 {
	if c>>63 == 1 {
		return math.Float64frombits(c &^ (1 << 63))
	}
	return math.Float64frombits(^c)
}
