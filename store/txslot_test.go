package store

import (
	"bytes"
	"strconv"
	"testing"
)

// TestSlotMemo: the memo answers KeySlot for every key, hash tags
// included, whether the key is in it or not, after the caller changed the
// buffer it passed, past its entry count and byte budget, and for keys too
// long to remember.
func TestSlotMemo(t *testing.T) {
	var m slotMemo
	keys := [][]byte{
		[]byte("key:1"), []byte("{user1000}.following"), []byte("{user1000}.followers"),
		[]byte("{}foo"), []byte("foo{}{bar}"), []byte("foo{bar}{zap}"), []byte(""),
		[]byte("{a"), bytes.Repeat([]byte("x"), memoKeyBytes+1), bytes.Repeat([]byte("y"), memoKeyBytes),
	}
	for i := range 50 {
		keys = append(keys, []byte("k"+strconv.Itoa(i)))
	}
	for round := range 3 {
		for i, k := range keys {
			for j := range 2 { // a miss, then (for the last few) a hit
				if got, want := m.slot(k), KeySlot(k); got != want {
					t.Fatalf("round %d key %d %q look %d: slot %d, want %d", round, i, k, j, got, want)
				}
			}
			if int(m.n) > memoKeys || len(m.keys) > memoBytes {
				t.Fatalf("memo holds %d entries, %d bytes", m.n, len(m.keys))
			}
		}
	}
	// Hits in the order the keys went in (the hint's case), backwards and
	// skipping about: the hint only changes where the search starts.
	var m2 slotMemo
	recent := keys[len(keys)-memoKeys:]
	for _, k := range recent {
		m2.slot(k)
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {3, 9, 3, 0, 15, 7, 7, 1}} {
		for _, i := range order {
			if got, want := m2.slot(recent[i]), KeySlot(recent[i]); got != want {
				t.Fatalf("order %v key %q: slot %d, want %d", order, recent[i], got, want)
			}
		}
	}
	if m2.n != memoKeys {
		t.Fatalf("hits added entries: %d", m2.n)
	}
	buf := []byte("abc")
	want := KeySlot(buf)
	if m.slot(buf) != want {
		t.Fatal("slot of abc")
	}
	copy(buf, "xyz") // the caller reuses its buffer: the memo kept its own copy
	if got := m.slot(buf); got != KeySlot([]byte("xyz")) {
		t.Fatalf("slot of xyz after reuse: %d, want %d", got, KeySlot([]byte("xyz")))
	}
	if got := m.slot([]byte("abc")); got != want {
		t.Fatalf("slot of abc again: %d, want %d", got, want)
	}
}

// TestTxSlotsAcrossLocks: a pooled Tx's memo carries nothing wrong into the
// next Lock: keys of the first Tx, looked up and written under a second Tx
// of other keys, land in (and are read from) their own shards.
func TestTxSlotsAcrossLocks(t *testing.T) {
	s := mustNew(t, Config{Shards: 16, ActiveExpireHz: -1})
	defer s.Close()
	for i := range 200 {
		a, b := []byte("a"+strconv.Itoa(i)), []byte("{b}"+strconv.Itoa(i))
		tx := s.Lock(a)
		tx.SetString(0, a, a, 0)
		tx.Unlock()
		tx = s.Lock(b, a)
		if e, ok := tx.LookupRead(0, a); !ok || string(e.Str()) != string(a) {
			t.Fatalf("%s: %v %q", a, ok, e.Str())
		}
		tx.SetString(0, b, b, 0)
		tx.Unlock()
	}
	checkInvariants(t, s)
	for i := range 200 {
		b := []byte("{b}" + strconv.Itoa(i))
		if v, ok, err := s.GetAt(s.clock.NowMs(), 0, b, nil); !ok || err != nil || string(v) != string(b) {
			t.Fatalf("%s: %v %v %q", b, ok, err, v)
		}
	}
}
