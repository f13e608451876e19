package rdb

import "encoding/binary"

// Redis's ziplist (RDB types 10, 12, 13 and 14, written by Redis before
// 7.0): a 4-byte total length, a 4-byte offset of the last entry, a 2-byte
// count (65535: count them), entries and a 0xFF end byte. An entry is the
// previous entry's length (1 byte, or 0xFE and 4 bytes), an encoding with a
// string length or integer kind, and the data.

const zlHeader = 10

// zlWalk validates the ziplist blob zl completely and calls fn for each
// entry; strings alias zl. It reports false if anything is malformed or
// fn returns false.
func zlWalk(zl []byte, fn func(e lpEntry) bool) bool {
	if len(zl) < zlHeader+1 || int(binary.LittleEndian.Uint32(zl)) != len(zl) || zl[len(zl)-1] != 0xff {
		return false
	}
	tail := int(binary.LittleEndian.Uint32(zl[4:]))
	want := int(binary.LittleEndian.Uint16(zl[8:]))
	off, prev, last, n := zlHeader, 0, zlHeader, 0
	for off < len(zl)-1 {
		size, e, ok := zlEntry(zl[off:len(zl)-1], prev)
		if !ok || !fn(e) {
			return false
		}
		last, prev = off, size
		off += size
		n++
	}
	return tail == last && (want == 65535 || want == n)
}

// zlEntry decodes the entry at the start of p whose predecessor was prev
// bytes long, returning the entry's whole size.
func zlEntry(p []byte, prev int) (int, lpEntry, bool) {
	var h int
	switch {
	case len(p) >= 1 && p[0] < 0xfe:
		h = 1
		if int(p[0]) != prev {
			return 0, lpEntry{}, false
		}
	case len(p) >= 5 && p[0] == 0xfe:
		h = 5
		if int(binary.LittleEndian.Uint32(p[1:])) != prev {
			return 0, lpEntry{}, false
		}
	default:
		return 0, lpEntry{}, false
	}
	if h >= len(p) {
		return 0, lpEntry{}, false
	}
	c := p[h]
	var l, dh int
	switch c >> 6 {
	case 0:
		l, dh = int(c&0x3f), 1
	case 1:
		if h+2 > len(p) {
			return 0, lpEntry{}, false
		}
		l, dh = int(c&0x3f)<<8|int(p[h+1]), 2
	case 2:
		if c != 0x80 || h+5 > len(p) {
			return 0, lpEntry{}, false
		}
		l, dh = int(binary.BigEndian.Uint32(p[h+1:])), 5
	default:
		return zlInt(p, h)
	}
	if l > len(p)-h-dh {
		return 0, lpEntry{}, false
	}
	s := p[h+dh : h+dh+l : h+dh+l]
	return h + dh + l, lpEntry{str: s}, true
}

// zlInt decodes an integer entry whose encoding byte is at p[h].
func zlInt(p []byte, h int) (int, lpEntry, bool) {
	c := p[h]
	var w int
	switch c {
	case 0xc0:
		w = 2
	case 0xd0:
		w = 4
	case 0xe0:
		w = 8
	case 0xf0:
		w = 3
	case 0xfe:
		w = 1
	default:
		if c >= 0xf1 && c <= 0xfd { // 4-bit immediate 0..12
			return h + 1, lpEntry{num: int64(c&0x0f) - 1, isInt: true}, true
		}
		return 0, lpEntry{}, false
	}
	e, _, ok := lpInt(p[h:], w)
	if !ok {
		return 0, lpEntry{}, false
	}
	return h + 1 + w, e, true
}
