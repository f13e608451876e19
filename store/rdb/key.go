package rdb

import (
	"encoding/binary"
	"errors"

	"github.com/cached/cached/store"
)

// DumpKey returns the DUMP payload of key in db and its absolute expiry in
// Unix ms (0: none) under tx, which must hold key's shard; ok is false when
// the key is missing. It is not an access: no LRU touch, no hit counted.
func DumpKey(tx *store.Tx, db int, key []byte) (payload []byte, expireAt int64, ok bool, err error) {
	e, ok := tx.Peek(db, key)
	if !ok {
		return nil, 0, false, nil
	}
	payload, err = Dump(e)
	return payload, e.ExpireAt(), err == nil, err
}

// Restore stores v as key in db under tx, replacing any value, with expiry
// expireAt (absolute Unix ms, 0 none). An expiry not after tx.Now() stores
// nothing and deletes key, as RESTORE with a past ABSTTL; it reports
// whether the value was stored.
func Restore(tx *store.Tx, db int, key []byte, v Value, expireAt int64) bool {
	if expireAt != 0 && expireAt <= tx.Now() {
		tx.Delete(db, key)
		return false
	}
	if v.Type == store.TypeString {
		tx.SetString(db, key, v.Str, expireAt)
	} else {
		tx.SetObject(db, key, v.Type, v.Obj, v.Obj.Size(), expireAt)
	}
	return true
}

// Record is one key for shipping between nodes: its database, name,
// absolute expiry and DUMP payload.
type Record struct {
	DB       int
	Key      []byte
	ExpireAt int64 // Unix ms, 0 none
	Payload  []byte
}

// ErrBadRecord is returned by ParseRecord for bytes that are no record.
var ErrBadRecord = errors.New("rdb: malformed key record")

// AppendRecord appends key's record (uvarint db, uvarint key length, key,
// varint expiry, uvarint payload length, payload) to dst under tx, which
// must hold key's shard; ok is false, dst unchanged, for a missing key.
func AppendRecord(dst []byte, tx *store.Tx, db int, key []byte) ([]byte, bool, error) {
	p, exp, ok, err := DumpKey(tx, db, key)
	if !ok {
		return dst, false, err
	}
	dst = binary.AppendUvarint(dst, uint64(db))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendVarint(dst, exp)
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...), true, nil
}

// ParseRecord reads the record at the start of b and returns it and the
// rest of b. Key and Payload alias b.
func ParseRecord(b []byte) (Record, []byte, error) {
	var r Record
	db, n := binary.Uvarint(b)
	if n <= 0 || db > 1<<16 {
		return r, b, ErrBadRecord
	}
	b = b[n:]
	kl, n := binary.Uvarint(b)
	if n <= 0 || kl > uint64(len(b)-n) {
		return r, b, ErrBadRecord
	}
	r.DB, r.Key, b = int(db), b[n:n+int(kl)], b[n+int(kl):]
	if r.ExpireAt, n = binary.Varint(b); n <= 0 {
		return r, b, ErrBadRecord
	}
	b = b[n:]
	pl, n := binary.Uvarint(b)
	if n <= 0 || pl > uint64(len(b)-n) {
		return r, b, ErrBadRecord
	}
	r.Payload = b[n : n+int(pl)]
	return r, b[n+int(pl):], nil
}

// Apply decodes the record's payload and stores it under tx, which must
// hold the shard of r.Key (and r.DB must be a database of the store). It
// reports whether the key was stored (false for an expiry in the past).
func (r Record) Apply(tx *store.Tx) (bool, error) {
	v, err := Decode(r.Payload)
	if err != nil {
		return false, err
	}
	return Restore(tx, r.DB, r.Key, v, r.ExpireAt), nil
}
