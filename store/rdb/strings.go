package rdb

// AppendString appends s as an RDB string (integer encoded or LZF
// compressed where Redis would), for payloads other than a key's value
// (FUNCTION DUMP).
func AppendString(dst, s []byte) []byte { return appendString(dst, s) }

// ReadString reads one RDB string from the start of b and returns a copy
// of it and the bytes after it; ok is false for a malformed string.
func ReadString(b []byte) (s, rest []byte, ok bool) {
	r := reader{b: b}
	v := r.str()
	if r.bad {
		return nil, nil, false
	}
	return append([]byte(nil), v...), r.b, true
}
