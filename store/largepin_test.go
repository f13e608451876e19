package store

import (
	"bytes"
	"sync"
	"testing"
)

// pinKey pins key's value (db 0) and returns its bytes and the Pin.
func pinKey(t *testing.T, s *Store, key string) ([]byte, Pin) {
	t.Helper()
	tx := s.Lock([]byte(key))
	defer tx.Unlock()
	e, ok := tx.Peek(0, []byte(key))
	if !ok {
		t.Fatalf("%s missing", key)
	}
	b, p, ok := e.PinStr()
	if !ok {
		t.Fatalf("%s: PinStr refused a %d-byte string", key, len(e.Str()))
	}
	return b, p
}

func getKey(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	v, ok, err := s.Get(0, []byte(key), nil)
	if !ok || err != nil {
		t.Fatalf("GET %s: %v %v", key, ok, err)
	}
	return v
}

// pattern returns n bytes that differ from their neighbours.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// TestPinnedValueIsCopiedOnWrite: while a Pin holds a large value, every
// write that changes its bytes (SETBIT, SETRANGE and APPEND through
// GrowString, a SET of the same size, DEL followed by new large values)
// leaves the pinned bytes as they were and gives the key the new ones;
// only in-place changes copy (CopiedOnWrite), MEMORY USAGE does not change
// with the copy, and after Release the same write goes in place again.
func TestPinnedValueIsCopiedOnWrite(t *testing.T) {
	const n = 300 << 10 // above largeMin
	cases := []struct {
		name   string
		slack  bool // the value has room to grow in place (grown once before the pin)
		write  func(tx *Tx, k []byte)
		want   func(old []byte) []byte
		copies int64 // copy-on-write copies the write makes while pinned
	}{
		{"setbit", false, func(tx *Tx, k []byte) {
			w, _ := tx.GrowString(0, k, 1000)
			w[999] ^= 0x80
		}, func(old []byte) []byte { b := bytes.Clone(old); b[999] ^= 0x80; return b }, 1},
		{"setrange", false, func(tx *Tx, k []byte) {
			w, _ := tx.GrowString(0, k, 20)
			copy(w[10:], "XYZ")
		}, func(old []byte) []byte { b := bytes.Clone(old); copy(b[10:], "XYZ"); return b }, 1},
		{"append past the room", false, func(tx *Tx, k []byte) {
			e, _ := tx.Peek(0, k)
			l := len(e.Str())
			w, _ := tx.GrowString(0, k, l+3)
			copy(w[l:], "end")
		}, func(old []byte) []byte { return append(bytes.Clone(old), "end"...) }, 0},
		{"append in the room", true, func(tx *Tx, k []byte) {
			e, _ := tx.Peek(0, k)
			l := len(e.Str())
			w, _ := tx.GrowString(0, k, l+3)
			copy(w[l:], "end")
		}, func(old []byte) []byte { return append(bytes.Clone(old), "end"...) }, 1},
		{"set of the same size", false, func(tx *Tx, k []byte) {
			tx.SetString(0, k, pattern(n, 99), 0)
		}, func([]byte) []byte { return pattern(n, 99) }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
			k := []byte("big")
			s.Set(0, k, pattern(n, 1), 0, 0, "")
			if c.slack {
				tx := s.Lock(k)
				w, _ := tx.GrowString(0, k, n+1)
				w[n] = 7
				tx.Unlock()
			}
			old := bytes.Clone(getKey(t, s, "big"))
			usage := func() int64 {
				tx := s.Lock(k)
				defer tx.Unlock()
				e, _ := tx.Peek(0, k)
				return e.MemoryUsage()
			}
			u0 := usage()
			pinned, pin := pinKey(t, s, "big")
			c0, _ := s.CopiedOnWrite()
			tx := s.Lock(k)
			c.write(tx, k)
			tx.Unlock()
			if !bytes.Equal(pinned, old) {
				t.Fatal("the write changed the pinned bytes")
			}
			want := c.want(old)
			if got := getKey(t, s, "big"); !bytes.Equal(got, want) {
				t.Fatalf("the key holds %d bytes %.16x…, want %d bytes %.16x…", len(got), got, len(want), want)
			}
			c1, _ := s.CopiedOnWrite()
			if c1-c0 != c.copies {
				t.Fatalf("%d copies on write, want %d", c1-c0, c.copies)
			}
			if c.copies > 0 && usage() != u0 {
				t.Fatalf("MEMORY USAGE %d after the copy, %d before", usage(), u0)
			}
			checkInvariants(t, s)
			pin.Release()
			// Unpinned, the same write changes the value in place.
			before := bytes.Clone(getKey(t, s, "big"))
			tx = s.Lock(k)
			c.write(tx, k)
			tx.Unlock()
			if got, want := getKey(t, s, "big"), c.want(before); !bytes.Equal(got, want) {
				t.Fatal("the write after Release is wrong")
			}
			if c2, _ := s.CopiedOnWrite(); c2 != c1 {
				t.Fatalf("a write after Release copied the value (%d copies)", c2-c1)
			}
		})
	}
}

// TestPinnedBufferNotReused: a pinned value whose key is deleted, or
// expires, keeps its bytes while new large values (of the same size, in
// the same table entries) are written.
func TestPinnedBufferNotReused(t *testing.T) {
	clock := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Clock: clock})
	const n = 200 << 10
	s.Set(0, []byte("a"), pattern(n, 1), 0, 0, "")
	s.Set(0, []byte("b"), pattern(n, 2), clock.NowMs()+10, 0, "")
	pa, pinA := pinKey(t, s, "a")
	pb, pinB := pinKey(t, s, "b")
	tx := s.Lock([]byte("a"))
	tx.Delete(0, []byte("a"))
	tx.Unlock()
	clock.Advance(20)
	if _, ok, _ := s.Get(0, []byte("b"), nil); ok {
		t.Fatal("b did not expire")
	}
	for i := range 8 {
		k := []byte{'c', byte('0' + i)}
		s.Set(0, k, pattern(n, 100+byte(i)), 0, 0, "")
		tx := s.Lock(k)
		w, _ := tx.GrowString(0, k, 1)
		w[0] = 0xff
		tx.Unlock()
	}
	if !bytes.Equal(pa, pattern(n, 1)) || !bytes.Equal(pb, pattern(n, 2)) {
		t.Fatal("a freed pinned buffer was reused")
	}
	if c, _ := s.CopiedOnWrite(); c != 0 {
		t.Fatalf("%d copies on write of unpinned values", c)
	}
	pinA.Release()
	pinB.Release()
	checkInvariants(t, s)
}

// TestPinnedValueConcurrentReader: a reader goroutine reads a pinned value
// without the lock while writers change the key in place (-race checks
// the happens-before edges); the reader sees the pinned bytes, and once it
// released the Pin a writer changes the value in place without copying.
func TestPinnedValueConcurrentReader(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	const n = 256 << 10
	k := []byte("big")
	s.Set(0, k, pattern(n, 1), 0, 0, "")
	pinned, pin := pinKey(t, s, "big")
	tx := s.Lock(k)
	w, _ := tx.GrowString(0, k, n)
	w[0]++ // copies: the reader below has not released its Pin yet
	tx.Unlock()
	read := make(chan bool)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ok := true
		for range 20 {
			ok = ok && bytes.Equal(pinned, pattern(n, 1))
		}
		pin.Release()
		read <- ok
	}()
	writes := 1
	for done := false; !done; writes++ {
		tx := s.Lock(k)
		w, _ := tx.GrowString(0, k, n)
		w[writes%n]++
		tx.Unlock()
		select {
		case ok := <-read:
			if !ok {
				t.Error("the reader saw changed bytes")
			}
			done = true
		default:
		}
	}
	wg.Wait()
	if c, _ := s.CopiedOnWrite(); c != 1 {
		t.Fatalf("%d copies on write, want 1 (the first write while pinned)", c)
	}
	tx = s.Lock(k)
	w, _ = tx.GrowString(0, k, n)
	w[0] = 42
	tx.Unlock()
	if c, _ := s.CopiedOnWrite(); c != 1 {
		t.Fatalf("a write after Release copied (%d copies)", c)
	}
	if getKey(t, s, "big")[0] != 42 {
		t.Fatal("the last write is lost")
	}
}

// TestPinStrSmall: small strings are not pinned (callers copy
// them under the lock).
func TestPinStrSmall(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	s.Set(0, []byte("s"), pattern(largeMin/2, 1), 0, 0, "")
	tx := s.Lock([]byte("s"))
	defer tx.Unlock()
	e, _ := tx.Peek(0, []byte("s"))
	if _, _, ok := e.PinStr(); ok {
		t.Fatal("a small value was pinned")
	}
}

// TestLargeGetCopiesUnlocked: a GET of a value of copyUnlockedFrom bytes or
// more copies it after the shard lock is released, from the pinned buffer,
// so writers of the same key and shard go on meanwhile: every GET still
// returns one whole version, never a mix of two writes (without the pin a
// writer changes the bytes under the copy: the race detector or the check
// catches it).
func TestLargeGetCopiesUnlocked(t *testing.T) {
	const n = copyUnlockedFrom + 4096
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	k := []byte("big")
	s.Set(0, k, bytes.Repeat([]byte{'a'}, n), 0, 0, "")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // overwrites the whole value in place, a new letter each time
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx := s.Lock(k)
			w, _ := tx.GrowString(0, k, n)
			for j := range w {
				w[j] = 'a' + byte(i%26)
			}
			tx.Unlock()
		}
	}()
	for range 40 {
		v := getKey(t, s, "big")
		if len(v) != n || bytes.Count(v, v[:1]) != n {
			close(stop)
			wg.Wait()
			t.Fatalf("GET returned %d bytes mixing writes (first %q, %d of them)", len(v), v[:1], bytes.Count(v, v[:1]))
		}
	}
	close(stop)
	wg.Wait()
}
