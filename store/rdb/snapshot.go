package rdb

import (
	"github.com/cached/cached/internal/bigcopy"
	"github.com/cached/cached/store"
)

// Snapshot payloads are cached's own encoding of a value for copying keys
// between nodes that run the same build (replication snapshots). They cost
// less than DUMP payloads on both ends: no footer (the RDB version and the
// CRC-64, computed byte by byte over the whole payload on both ends; the
// connection has its own checks), no LZF compression (which tried every
// string over 20 bytes), and a string is its bytes after one tag byte, so
// decoding it is a slice.
//
//	snapString  string bytes
//	snapObject  RDB object type, RDB object body (strings not compressed)
//
// The tags are no RDB object type, so DecodeSnapshot also takes a DUMP
// payload (a node of this build loads snapshots of an older primary). The
// format is internal: it may change between builds.
const (
	snapString = 0xf5
	snapObject = 0xf6
)

// SnapshotParts returns the snapshot payload of a value as head followed
// by body, so that a large string is not copied to build it: for
// TypeString head is the tag and body is str itself (it aliases str); for
// a collection head is the payload appended to dst and body is nil.
func SnapshotParts(dst []byte, t store.Type, str []byte, obj any) (head, body []byte, err error) {
	if t == store.TypeString {
		return append(dst[:0], snapString), str, nil
	}
	head, err = AppendSnapshot(dst[:0], t, nil, obj)
	return head, nil, err
}

// AppendSnapshot appends the snapshot payload of a value to dst: the
// string str for TypeString, else the collection object obj. On an error
// dst is returned unchanged.
func AppendSnapshot(dst []byte, t store.Type, str []byte, obj any) ([]byte, error) {
	if t == store.TypeString {
		return bigcopy.Append(append(dst, snapString), str), nil
	}
	start := len(dst)
	d, err := appendObject(append(dst, snapObject), obj, false)
	if err != nil {
		return d[:start], err
	}
	return d, nil
}

// DecodeSnapshot rebuilds a value from a snapshot payload, or from a DUMP
// payload (see Decode). It never panics and allocates at most a small
// multiple of len(p). Strings may alias p.
func DecodeSnapshot(p []byte) (Value, error) {
	if len(p) == 0 {
		return Value{}, ErrBadFormat
	}
	switch p[0] {
	case snapString:
		return Value{Type: store.TypeString, Str: p[1:]}, nil
	case snapObject:
		r := &reader{b: p[1:]}
		v, ok := decodeObject(r)
		if !ok || r.bad || len(r.b) != 0 || v.Type == store.TypeString {
			return Value{}, ErrBadFormat
		}
		return v, nil
	}
	return Decode(p)
}
