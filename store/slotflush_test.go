package store

import (
	"fmt"
	"testing"
)

// fxLog is an Observer that keeps the effects it is given.
type fxLog struct{ fx []string }

func (l *fxLog) Commit(r *Record) {
	for i := range r.NumEffects() {
		e := r.Effect(i)
		l.fx = append(l.fx, fmt.Sprintf("%d/%d:%s", e.Slot, e.Seq, e.Args))
	}
}

func TestTxFlushSlotAndPropagateSlot(t *testing.T) {
	obs := &fxLog{}
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Observer: obs})
	defer s.Close()
	s.SetRecordEffects(true)
	a, a2, b := []byte("x{a}"), []byte("y{a}"), []byte("x{b}")
	sa := KeySlot(a)
	if sa&3 == KeySlot(b)&3 {
		t.Fatal("test keys share a shard")
	}
	for _, k := range [][]byte{a, a2, b} {
		tx := s.Lock(k)
		tx.SetString(0, k, []byte("v"), 0)
		tx.Propagate(0, []byte("SET"), k, []byte("v"))
		tx.Unlock()
	}
	tx := s.Lock(a)
	tx.SetString(1, a, []byte("db1"), 0)
	if n := tx.FlushSlot(sa); n != 3 { // both keys of db 0 and the one of db 1
		t.Fatalf("FlushSlot removed %d, want 3", n)
	}
	tx.PropagateSlot(0, sa, []byte("FLUSHSLOT"), []byte(fmt.Sprint(sa)))
	if n := tx.FlushSlot(sa); n != 0 {
		t.Fatalf("second FlushSlot removed %d", n)
	}
	tx.Unlock()
	if s.DBSize(0) != 1 || s.DBSize(1) != 0 {
		t.Fatalf("dbsize %d/%d, want only %s left", s.DBSize(0), s.DBSize(1), b)
	}
	checkInvariants(t, s)
	// The flush took slot a's next sequence number, after its two SETs.
	if want := fmt.Sprintf("%d/3:[FLUSHSLOT %d]", sa, sa); obs.fx[len(obs.fx)-1] != want {
		t.Fatalf("effects %v, last want %s", obs.fx, want)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("FlushSlot of a slot outside the Tx did not panic")
			}
		}()
		tx := s.Lock(b) // slots a and b are in different shards of 4
		defer tx.Unlock()
		tx.FlushSlot(sa)
	}()
	tx = s.LockApplyAll()
	if !tx.All() || tx.FlushSlot(KeySlot(b)) != 1 {
		t.Fatal("LockApplyAll did not flush the other slot")
	}
	tx.Unlock()
	checkInvariants(t, s)
}
