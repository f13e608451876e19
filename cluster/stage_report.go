package cluster

import (
	"slices"
	"strconv"
	"strings"
)

// A node's holding report (gossip meta, see stage.go): the slots of a
// table version whose copy is not live yet, as compact slot ranges.

// holding is a node's report about its copies of slots in one table
// version: the slots it holds as replica or incoming member whose copy is
// not live yet. The zero value reports nothing (no slot counts as live).
type holding struct {
	version uint64
	notLive []SlotRange // sorted, disjoint
	// flushed lists (sorted, disjoint) the held slots whose copy the
	// member dropped for a snapshot that has not finished loading: part
	// of a copy, whatever it reported before (copyTier).
	flushed []SlotRange
}

// same reports whether h and o say the same.
func (h holding) same(o holding) bool {
	return h.version == o.version && slices.Equal(h.notLive, o.notLive) && slices.Equal(h.flushed, o.flushed)
}

// live reports whether the report says slot s is live in table version v.
func (h holding) live(v uint64, s int) bool {
	return h.version != 0 && h.version == v && !inRanges(h.notLive, s)
}

// inRanges reports whether s is in one of the sorted ranges rs.
func inRanges(rs []SlotRange, s int) bool {
	_, found := slices.BinarySearchFunc(rs, s, func(r SlotRange, s int) int {
		switch {
		case r.End < s:
			return -1
		case r.Start > s:
			return 1
		}
		return 0
	})
	return found
}

// encodeRanges writes ranges as "a-b,c,…" within at most limit bytes; if
// they do not fit, the last range written reaches to the last slot (a
// conservative report: more slots count as not live).
func encodeRanges(rs []SlotRange, limit int) string {
	var b strings.Builder
	for i, r := range rs {
		piece := rangeText(r)
		if b.Len()+len(piece)+1+12 > limit && i < len(rs)-1 {
			piece = strconv.Itoa(r.Start) + "-" + strconv.Itoa(NumSlots-1)
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(piece)
			return b.String()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(piece)
	}
	return b.String()
}

// encodeRangesFit writes ranges as encodeRanges does, but those that do
// not fit in limit bytes are left out (a report that may only say less).
func encodeRangesFit(rs []SlotRange, limit int) string {
	var b strings.Builder
	for _, r := range rs {
		piece := rangeText(r)
		if b.Len()+len(piece)+1 > limit {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(piece)
	}
	return b.String()
}

// rangeText is one range of encodeRanges's output: "a-b", or "a".
func rangeText(r SlotRange) string {
	if r.End == r.Start {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// decodeRanges parses encodeRanges's output; ok is false for malformed
// input (unsorted, overlapping or out-of-range ranges included).
func decodeRanges(s string) (rs []SlotRange, ok bool) {
	if s == "" {
		return nil, true
	}
	next := 0
	for _, piece := range strings.Split(s, ",") {
		a, b, dash := strings.Cut(piece, "-")
		start, err1 := strconv.Atoi(a)
		end, err2 := start, error(nil)
		if dash {
			end, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || start < next || end < start || end >= NumSlots {
			return nil, false
		}
		rs = append(rs, SlotRange{Start: start, End: end})
		next = end + 1
	}
	return rs, true
}
