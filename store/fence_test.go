package store

import "testing"

// TestFenceSlot: the request fast paths (GetAt, SetAt) refuse a fenced
// slot's keys without reading or writing them; Get and a Tx still reach
// them (a Tx's holder decides),
// other slots are unaffected, and lifting the fence serves the slot again.
func TestFenceSlot(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	key, other := []byte("fenced"), []byte("free")
	if KeySlot(key) == KeySlot(other) {
		t.Fatal("the two keys share a slot")
	}
	s.Set(0, key, []byte("v1"), 0, 0, "set")
	slot := KeySlot(key)
	s.seq[slot] = 7
	if seq := s.FenceSlot(slot, true); seq != 7 || !s.SlotFenced(slot) || s.nFenced.Load() != 1 {
		t.Fatalf("FenceSlot returned %d, fenced %v, %d fenced", seq, s.SlotFenced(slot), s.nFenced.Load())
	}
	s.FenceSlot(slot, true) // again: still one
	now := s.clock.NowMs()
	if _, _, err := s.GetAt(now, 0, key, nil); err != ErrFenced {
		t.Fatalf("GetAt of a fenced slot: %v", err)
	}
	if s.SetAt(now, 0, key, []byte("v2"), 0, 0, "set") {
		t.Fatal("SetAt of a fenced slot reported a write")
	}
	if !s.SetAt(now, 0, other, []byte("o"), 0, 0, "set") {
		t.Fatal("SetAt of another slot was refused")
	}
	if v, ok, err := s.Get(0, key, nil); err != nil || !ok || string(v) != "v1" {
		t.Fatalf("Get (not a request path) must ignore the fence: %q %v %v", v, ok, err)
	}
	tx := s.Lock(key)
	v, ok, err := tx.GetString(0, key, nil)
	tx.Unlock()
	if err != nil || !ok || string(v) != "v1" {
		t.Fatalf("through a Tx: %q %v %v (the refused Set must not have written)", v, ok, err)
	}
	s.FenceSlot(slot, false)
	if s.SlotFenced(slot) || s.nFenced.Load() != 0 {
		t.Fatal("the fence stayed")
	}
	if v, _, err := s.Get(0, key, nil); err != nil || string(v) != "v1" {
		t.Fatalf("after the fence: %q %v", v, err)
	}
}
