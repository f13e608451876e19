package zset

import (
	"encoding/binary"
	"math"
)

// The small encoding keeps all entries in one []byte, sorted by (score,
// member): per entry 8 bytes of score (IEEE bits, little endian), one byte
// of member length, then the member. Operations scan it linearly; it holds
// at most MaxListpackEntries members of at most MaxListpackValue bytes.

const lpHeader = 9

func lpAt(lp []byte, off int) (member []byte, score float64, next int) {
	score = math.Float64frombits(binary.LittleEndian.Uint64(lp[off:]))
	l := int(lp[off+8])
	return lp[off+lpHeader : off+lpHeader+l], score, off + lpHeader + l
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
// stored as 0, as Redis 7.0's listpack does.
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
	size := lpHeader + len(member)
	lp = append(lp, make([]byte, size)...)
	copy(lp[off+size:], lp[off:len(lp)-size])
	binary.LittleEndian.PutUint64(lp[off:], math.Float64bits(score))
	lp[off+8] = byte(len(member))
	copy(lp[off+lpHeader:], member)
	return lp
}

// lpDelete removes the entry at off.
func lpDelete(lp []byte, off int) []byte {
	_, _, next := lpAt(lp, off)
	return append(lp[:off], lp[next:]...)
}

// lpOffsets appends the offsets of all entries to dst.
func lpOffsets(lp []byte, dst []int32) []int32 {
	for off := 0; off < len(lp); {
		dst = append(dst, int32(off))
		_, _, off = lpAt(lp, off)
	}
	return dst
}
