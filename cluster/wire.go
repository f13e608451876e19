package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// tableMagic opens an encoded table (and is the message type of table
// gossip); tableFormat is the layout below.
const (
	tableMagic  = 'T'
	tableFormat = 1
	// tableFormatStaged adds the incoming column after the layers; a
	// table without staged moves keeps format 1.
	tableFormatStaged = 2
	// tableFormatTerm and tableFormatTermStaged are formats 1 and 2 with
	// uvarint(term) after the version; a table of term 0 keeps format 1
	// or 2 (nodes of before terms read it), so every table has one
	// encoding.
	tableFormatTerm       = 3
	tableFormatTermStaged = 4
	// tableFormatRetained is format 4 (its term may be 0) with the
	// retained column (member index + 1, 0 = none) after the incoming
	// columns: replica moves staged. Only a table with a retained member
	// has it.
	tableFormatRetained = 5
	// tableFormatSince is format 5 (its retained column may name no
	// member) with the since column after it (Table.StagedSince, runs of
	// versions, 0 where no slot is incoming). Every staged table has it
	// since marks (docs/cluster.md "Marks"); formats 2, 4 and 5 still
	// decode, with no since (0: the incoming member then needs a mark of
	// the table's own version).
	tableFormatSince = 6
)

// errBadTable is returned (wrapped) by decodeTable for malformed input.
var errBadTable = errors.New("cluster: malformed table")

// encodeTable returns the wire form of t:
//
//	'T' 1 uvarint(version) str(planner) uvarint(replicas) uvarint(members)
//	members × (str(ID) str(Host) uvarint(Port) str(GossipAddr))
//	width × (uvarint(runs) runs × (uvarint(length) uvarint(member index)))
//
// where str is uvarint(len) followed by the bytes, and width is derived
// from replicas and the member count. Ten members take about 900 bytes. A
// table with staged moves has format 2 and one more run list after the
// layers: the incoming column, member index + 1 (0 = none), then the
// oldPos column (0 where no slot is incoming). A table of a term above 0
// has format 3 (4 if staged) and uvarint(term) after the version. A table
// with retained members has format 5: the term (0 allowed) after the
// version and, after the incoming columns, the retained column.
func encodeTable(t *Table) []byte {
	format := byte(tableFormat)
	if t.incoming != nil {
		format = tableFormatStaged
	}
	if t.term > 0 {
		format += tableFormatTerm - tableFormat
	}
	if t.retained != nil {
		format = tableFormatRetained
	}
	if t.since != nil {
		format = tableFormatSince
	}
	b := []byte{tableMagic, format}
	b = binary.AppendUvarint(b, t.version)
	if format >= tableFormatTerm {
		b = binary.AppendUvarint(b, t.term)
	}
	b = appendStr(b, t.planner)
	b = binary.AppendUvarint(b, uint64(t.replicas))
	b = binary.AppendUvarint(b, uint64(len(t.members)))
	for _, m := range t.members {
		b = appendStr(b, m.ID)
		b = appendStr(b, m.Host)
		b = binary.AppendUvarint(b, uint64(m.Port))
		b = appendStr(b, m.GossipAddr)
	}
	for r := range t.width {
		b = appendRuns(b, func(s int) uint64 { return uint64(t.prefs[s*t.width+r]) })
	}
	if t.incoming != nil {
		b = appendRuns(b, func(s int) uint64 { return (uint64(t.incoming[s]) + 1) & noMember })
		b = appendRuns(b, func(s int) uint64 { return uint64(t.oldPos[s]) })
	}
	if format >= tableFormatRetained {
		b = appendRuns(b, func(s int) uint64 {
			if t.retained == nil {
				return 0
			}
			return (uint64(t.retained[s]) + 1) & noMember
		})
	}
	if t.since != nil {
		b = appendRuns(b, func(s int) uint64 { return t.since[s] })
	}
	return b
}

// appendRuns appends the run-length form of the column at: the number of
// runs, then (length, value) per run.
func appendRuns(b []byte, at func(s int) uint64) []byte {
	var rs [][2]uint64
	for s := 0; s < NumSlots; {
		e := s
		for e+1 < NumSlots && at(e+1) == at(s) {
			e++
		}
		rs = append(rs, [2]uint64{uint64(e - s + 1), at(s)})
		s = e + 1
	}
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.AppendUvarint(b, r[0])
		b = binary.AppendUvarint(b, r[1])
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes the wire form; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.err = fmt.Errorf("%w: bad number", errBadTable)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint(NumSlots)
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: string past the end", errBadTable)
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeTable parses encodeTable's output and checks every invariant of a
// Table: valid sorted unique IDs, ports in range, every slot covered in
// every role by distinct members. It never panics on any input.
func decodeTable(b []byte) (*Table, error) {
	if len(b) < 2 || b[0] != tableMagic || b[1] < tableFormat || b[1] > tableFormatSince {
		return nil, fmt.Errorf("%w: bad header", errBadTable)
	}
	staged := b[1] == tableFormatStaged || b[1] >= tableFormatTermStaged
	termed := b[1] >= tableFormatTerm
	r := &reader{b: b[2:]}
	t := &Table{version: r.uvarint(1<<63 - 1)}
	if termed {
		if t.term = r.uvarint(1<<63 - 1); r.err == nil && t.term == 0 && b[1] < tableFormatRetained {
			r.err = fmt.Errorf("%w: term 0 in a format with a term", errBadTable)
		}
	}
	t.planner = r.str()
	t.replicas = int(r.uvarint(maxMembers))
	n := int(r.uvarint(maxMembers))
	if r.err == nil && !ValidID(t.planner) {
		r.err = fmt.Errorf("%w: bad planner ID", errBadTable)
	}
	if r.err != nil {
		return nil, r.err
	}
	for range n {
		m := Member{ID: r.str(), Host: r.str(), Port: int(r.uvarint(65535)), GossipAddr: r.str()}
		if r.err == nil && (!ValidID(m.ID) || (len(t.members) > 0 && t.members[len(t.members)-1].ID >= m.ID)) {
			r.err = fmt.Errorf("%w: member IDs invalid or not sorted", errBadTable)
		}
		if r.err != nil {
			return nil, r.err
		}
		t.members = append(t.members, m)
	}
	t.width = min(1+t.replicas, n)
	if t.width > 0 {
		t.prefs = make([]uint16, NumSlots*t.width)
	}
	for l := range t.width {
		if err := r.layer(t, l); err != nil {
			return nil, err
		}
	}
	if staged {
		if err := r.incoming(t); err != nil {
			return nil, err
		}
	}
	if b[1] >= tableFormatRetained {
		if err := r.retainedCol(t); err != nil {
			return nil, err
		}
	}
	if b[1] == tableFormatSince {
		if err := r.sinceCol(t); err != nil {
			return nil, err
		}
	}
	if t.retained != nil && !slices.ContainsFunc(t.retained, func(m uint16) bool { return m != noMember }) {
		t.retained = nil // nothing retained: the same table as format 2
	}
	if t.incoming != nil && t.Staged() == 0 && t.retained == nil {
		t.incoming, t.oldPos, t.since = nil, nil, nil // nothing staged: the same table as format 1
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%w: trailing bytes", errBadTable)
	}
	return t, r.err
}

// layer reads role l's runs into t.prefs and checks that no member holds two
// roles for a slot.
func (r *reader) layer(t *Table, l int) error {
	runs := r.uvarint(NumSlots)
	s := 0
	for range runs {
		length, m := int(r.uvarint(NumSlots)), r.uvarint(uint64(len(t.members)-1))
		if r.err != nil {
			return r.err
		}
		if length == 0 || s+length > NumSlots {
			return fmt.Errorf("%w: runs do not cover the slots", errBadTable)
		}
		for ; length > 0; length-- {
			row := t.prefs[s*t.width : s*t.width+l]
			if slices.Contains(row, uint16(m)) {
				return fmt.Errorf("%w: slot %d lists a member twice", errBadTable, s)
			}
			t.prefs[s*t.width+l] = uint16(m)
			s++
		}
	}
	if r.err == nil && s != NumSlots {
		return fmt.Errorf("%w: runs do not cover the slots", errBadTable)
	}
	return r.err
}

// incoming reads the incoming column of a staged table and checks that no
// incoming member is in its slot's preference list, other than as its
// last replica (where the row would be short without it).
func (r *reader) incoming(t *Table) error {
	if t.width == 0 {
		return fmt.Errorf("%w: staged moves in an empty table", errBadTable)
	}
	col, err := r.memberColumn(t, "incoming", func(s int, m uint16) bool {
		k := slices.Index(t.prefs[s*t.width:(s+1)*t.width], m)
		return k >= 0 && (k == 0 || k != t.width-1)
	})
	if err != nil {
		return err
	}
	t.incoming = col
	return r.oldPos(t)
}

// retainedCol reads the retained column of a format-5 table and checks
// that no retained member is in its slot's preference list or incoming.
func (r *reader) retainedCol(t *Table) error {
	col, err := r.memberColumn(t, "retained", func(s int, m uint16) bool {
		return slices.Contains(t.prefs[s*t.width:(s+1)*t.width], m) || t.incoming[s] == m
	})
	t.retained = col
	return err
}

// sinceCol reads the since column of a format-6 table: a version no later
// than the table's where a member is incoming, 0 elsewhere.
func (r *reader) sinceCol(t *Table) error {
	t.since = make([]uint64, NumSlots)
	runs, s := r.uvarint(NumSlots), 0
	for range runs {
		length, v := int(r.uvarint(NumSlots)), r.uvarint(t.version)
		if r.err != nil {
			return r.err
		}
		if length == 0 || s+length > NumSlots {
			return fmt.Errorf("%w: since runs do not cover the slots", errBadTable)
		}
		for ; length > 0; length-- {
			if (v != 0) != (t.incoming[s] != noMember) {
				return fmt.Errorf("%w: slot %d: since without an incoming member, or none with one", errBadTable, s)
			}
			t.since[s] = v
			s++
		}
	}
	if r.err == nil && s != NumSlots {
		return fmt.Errorf("%w: since runs do not cover the slots", errBadTable)
	}
	return r.err
}

// memberColumn reads a column of member index + 1 per slot (0 = none) as
// runs covering every slot; held reports a member that already holds its
// slot in another role, which the column may not name.
func (r *reader) memberColumn(t *Table, what string, held func(s int, m uint16) bool) ([]uint16, error) {
	col := make([]uint16, NumSlots)
	runs, s := r.uvarint(NumSlots), 0
	for range runs {
		length, v := int(r.uvarint(NumSlots)), r.uvarint(uint64(len(t.members)))
		if r.err != nil {
			return nil, r.err
		}
		if length == 0 || s+length > NumSlots {
			return nil, fmt.Errorf("%w: %s runs do not cover the slots", errBadTable, what)
		}
		for ; length > 0; length-- {
			m := uint16(v) - 1 // 0 (none) wraps to noMember
			if m != noMember && held(s, m) {
				return nil, fmt.Errorf("%w: slot %d: %s member already holds it", errBadTable, s, what)
			}
			col[s] = m
			s++
		}
	}
	if r.err == nil && s != NumSlots {
		return nil, fmt.Errorf("%w: %s runs do not cover the slots", errBadTable, what)
	}
	return col, r.err
}

// oldPos reads the oldPos column: below the width, 0 where no member is
// incoming.
func (r *reader) oldPos(t *Table) error {
	t.oldPos = make([]uint8, NumSlots)
	runs, s := r.uvarint(NumSlots), 0
	for range runs {
		length, v := int(r.uvarint(NumSlots)), r.uvarint(uint64(min(t.width-1, 255)))
		if r.err != nil {
			return r.err
		}
		if length == 0 || s+length > NumSlots {
			return fmt.Errorf("%w: position runs do not cover the slots", errBadTable)
		}
		for ; length > 0; length-- {
			if v != 0 && t.incoming[s] == noMember {
				return fmt.Errorf("%w: slot %d: position without an incoming member", errBadTable, s)
			}
			t.oldPos[s] = uint8(v)
			s++
		}
	}
	if r.err == nil && s != NumSlots {
		return fmt.Errorf("%w: position runs do not cover the slots", errBadTable)
	}
	return r.err
}

// newer reports whether table a should replace table b: a higher version,
// or the same version and a higher term (planned by a node that took over
// from the planner of the table's predecessor: see docs/cluster.md,
// "Two tables of one version"), or the same version and term planned by a
// lower ID, or (same planner) the lower encoding. Every node orders any two
// tables alike.
func newer(a, b *Table, aEnc, bEnc []byte) bool {
	if a.version != b.version {
		return a.version > b.version
	}
	if a.term != b.term {
		return a.term > b.term
	}
	if a.planner != b.planner {
		return a.planner < b.planner
	}
	return bytes.Compare(aEnc, bEnc) < 0
}
