package zset

import (
	"encoding/binary"
	"math"
	"slices"
)

// The small encoding keeps all entries in one []byte, sorted by (score,
// member). An entry is a uvarint header (member length << 1 | 1 for a
// float score), the score, then the member. A score that is a whole number
// of magnitude below 2^53 (most are: ranks, counts, Unix times) is a
// zigzag varint of 1 to 8 bytes, as Redis's listpack stores it as an
// integer; any other is its 8 IEEE bytes, little endian. Operations scan it
// linearly; it holds at most MaxListpackEntries members of at most
// MaxListpackValue bytes.

// maxIntScore bounds the scores kept as integers: every integer of smaller
// magnitude is exactly a float64.
const maxIntScore = 1 << 53

// intScore reports whether score is kept as an integer, and which.
func intScore(score float64) (int64, bool) {
	if score > -maxIntScore && score < maxIntScore && score == math.Trunc(score) {
		return int64(score), true
	}
	return 0, false
}

// entryLen is the bytes of an entry for member with score.
func entryLen(member []byte, score float64) int {
	h := uint64(len(member)) << 1
	if v, ok := intScore(score); ok {
		return uvarintLen(h) + uvarintLen(zigzag(v)) + len(member)
	}
	return uvarintLen(h|1) + 8 + len(member)
}

func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// appendEntry appends an entry for member with score.
func appendEntry(lp []byte, member []byte, score float64) []byte {
	h := uint64(len(member)) << 1
	if v, ok := intScore(score); ok {
		lp = binary.AppendUvarint(lp, h)
		lp = binary.AppendUvarint(lp, zigzag(v))
	} else {
		lp = binary.AppendUvarint(lp, h|1)
		lp = binary.LittleEndian.AppendUint64(lp, math.Float64bits(score))
	}
	return append(lp, member...)
}

func lpAt(lp []byte, off int) (member []byte, score float64, next int) {
	h, k := binary.Uvarint(lp[off:])
	off += k
	if h&1 != 0 {
		score = math.Float64frombits(binary.LittleEndian.Uint64(lp[off:]))
		off += 8
	} else {
		z, k := binary.Uvarint(lp[off:])
		score = float64(int64(z>>1) ^ -int64(z&1))
		off += k
	}
	l := int(h >> 1)
	return lp[off : off+l : off+l], score, off + l
}

// lpFind returns the offset of member, or -1.
func lpFind(lp []byte, member []byte) int {
	for off := 0; off < len(lp); {
		m, _, next := lpAt(lp, off)
		if string(m) == string(member) {
			return off
		}
		off = next
	}
	return -1
}

// lpInsert adds (member, score), absent from lp, in order. A -0 score is
// stored as 0, as Redis 7.0's listpack does. A full listpack grows by a
// quarter (within Go's size classes), not by doubling.
func lpInsert(lp []byte, member []byte, score float64) []byte {
	if score == 0 {
		score = 0 // Redis's listpack stores scores as text, where -0 becomes "0"
	}
	off := 0
	for off < len(lp) {
		m, s, next := lpAt(lp, off)
		if score < s || score == s && string(member) < string(m) {
			break
		}
		off = next
	}
	size := entryLen(member, score)
	if len(lp)+size > cap(lp) {
		lp = slices.Grow(lp, max(size, len(lp)/4))
	}
	n := len(lp)
	lp = lp[:n+size]
	copy(lp[off+size:], lp[off:n])
	appendEntry(lp[:off], member, score)
	return lp
}

// lpDelete removes the entry at off. A listpack left using less than half
// of its capacity moves to one of its size, as Redis reallocates a shrunk
// listpack.
func lpDelete(lp []byte, off int) []byte {
	_, _, next := lpAt(lp, off)
	return lpShrink(append(lp[:off], lp[next:]...))
}

// lpShrink moves lp to a buffer of its size when it uses less than half of
// its capacity.
func lpShrink(lp []byte) []byte {
	if cap(lp) > 64 && len(lp) < cap(lp)/2 {
		return append(slices.Grow([]byte(nil), len(lp)), lp...)
	}
	return lp
}

// lpOffsets appends the offsets of all entries to dst.
func lpOffsets(lp []byte, dst []int32) []int32 {
	for off := 0; off < len(lp); {
		dst = append(dst, int32(off))
		_, _, off = lpAt(lp, off)
	}
	return dst
}
