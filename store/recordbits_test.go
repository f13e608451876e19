package store

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestRecordFields: the record is 16 bytes, and each of its packed fields
// reads back what was written at its extremes without disturbing the others.
func TestRecordFields(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n != 16 {
		t.Fatalf("record is %d bytes, want 16", n)
	}
	type want struct {
		access uint32
		typ    Type
		ttl    bool
	}
	check := func(r *record, w want) {
		t.Helper()
		if got := (want{r.access(), r.typ(), r.hasTTL()}); got != w {
			t.Fatalf("record %+v reads %+v, want %+v", *r, got, w)
		}
		if tail := ttlTail(r); (tail == 4) != w.ttl || (tail != 0 && tail != 4) {
			t.Fatalf("ttlTail %d with ttl %v", tail, w.ttl)
		}
	}
	for _, typ := range []Type{TypeString, TypeList, TypeHash, TypeSet, TypeZSet} {
		r := newRecord(0xffffffff, accessMask, typ)
		r.sprev, r.snext = 0xffffffff, 0xffffffff
		w := want{access: accessMask, typ: typ}
		check(&r, w)
		r.meta |= metaTTL
		w.ttl = true
		check(&r, w)
		r.setAccess(0)
		w.access = 0
		check(&r, w)
		r.setAccess(1<<32 - 1) // wider than the field: its low 28 bits
		w.access = accessMask
		check(&r, w)
		r.setTyp(TypeNone)
		w.typ = TypeNone
		check(&r, w)
		r.setTyp(typ)
		r.meta &^= metaTTL
		w.typ, w.ttl = typ, false
		check(&r, w)
		if r.item != 0xffffffff || r.sprev != 0xffffffff || r.snext != 0xffffffff {
			t.Fatalf("item and links changed: %+v", r)
		}
	}
}

// TestChunksPerDatabase: every chunk holds one database's records, and the
// records a database gave up serve the others: deleting or flushing one
// database's keys and writing as many to another makes no new chunk.
func TestChunksPerDatabase(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, Databases: 4, ActiveExpireHz: -1})
	defer s.Close()
	sh := s.shards[0]
	const n = 5000
	key := func(db, i int) []byte { return fmt.Appendf(nil, "k%d:%d", db, i) }
	for i := range n { // interleaved: each db's keys get their own chunks
		s.Set(0, key(0, i), []byte("v"), 0, 0, "set")
		s.Set(1, key(1, i), []byte("v"), s.Now()+1e6, 0, "set")
	}
	checkInvariants(t, s)
	chunks := len(sh.chunks)
	if chunks > 2*(n/chunkSize+2) {
		t.Fatalf("%d chunks for %d keys", chunks, 2*n)
	}
	for c := range sh.cinfo {
		base := uint32(c) << chunkBits
		for j := uint32(0); j < chunkSize; j++ {
			if base+j != 0 && sh.rec(base+j).typ() != TypeNone && sh.dbOf(base+j) != sh.cinfo[c].db {
				t.Fatalf("record %d of chunk %d (db %d) is db %d", base+j, c, sh.cinfo[c].db, sh.dbOf(base+j))
			}
		}
	}
	tx := s.LockAll()
	for i := 0; i < n; i += 2 { // half of db 1: its chunks keep free records
		tx.Delete(1, key(1, i))
	}
	tx.Unlock()
	checkInvariants(t, s)
	s.FlushDB(1)
	checkInvariants(t, s)
	if sh.partial[s.phys(1)] >= 0 {
		t.Fatal("a flushed database keeps chunks")
	}
	for i := range n { // db 2 takes db 1's chunks
		s.Set(2, key(2, i), []byte("v"), 0, 0, "set")
	}
	checkInvariants(t, s)
	if len(sh.chunks) != chunks {
		t.Fatalf("%d chunks after moving %d keys from db 1 to db 2, had %d", len(sh.chunks), n, chunks)
	}
	for db, want := range []int64{n, 0, n, 0} {
		if got := s.DBSize(db); got != want {
			t.Fatalf("db %d holds %d keys, want %d", db, got, want)
		}
	}
	// A database's only key, deleted and written again, reuses its chunk.
	s.Set(3, []byte("x"), []byte("1"), 0, 0, "set")
	chunks = len(sh.chunks)
	for range 3 {
		tx := s.Lock([]byte("x"))
		tx.Delete(3, []byte("x"))
		tx.Unlock()
		s.Set(3, []byte("x"), []byte("1"), 0, 0, "set")
		checkInvariants(t, s)
	}
	if len(sh.chunks) != chunks || sh.cinfo[sh.partial[s.phys(3)]].live != 1 {
		t.Fatalf("%d chunks, had %d", len(sh.chunks), chunks)
	}
}

// TestScanSkipsOtherDatabases: SCAN's 10*count budget is spent only on
// chunks that hold the database's keys, so one call over a small database
// beside a large one returns all of it.
func TestScanSkipsOtherDatabases(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, Databases: 2, ActiveExpireHz: -1})
	defer s.Close()
	for i := range 20000 {
		s.Set(0, fmt.Appendf(nil, "big:%d", i), []byte("v"), 0, 0, "set")
	}
	for _, k := range []string{"a", "b", "c"} {
		s.Set(1, []byte(k), []byte("v"), 0, 0, "set")
	}
	var got []string
	next := s.View().Scan(1, 0, 10, func(key []byte, _ Type) bool {
		got = append(got, string(key))
		return true
	})
	if next != 0 || len(got) != 3 {
		t.Fatalf("one SCAN of db 1 gave %q, cursor %d", got, next)
	}
	n := 0
	for cur := uint64(0); ; {
		cur = s.View().Scan(0, cur, 1000, func([]byte, Type) bool { n++; return true })
		if cur == 0 {
			break
		}
	}
	if n != 20000 {
		t.Fatalf("SCAN of db 0 gave %d keys", n)
	}
}
