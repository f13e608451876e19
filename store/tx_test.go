package store

import (
	"testing"
)

func TestTxLookups(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1})
	defer s.Close()
	k := []byte("k")
	s.Set(0, k, []byte("v"), clk.NowMs()+100_000, 0, "set")
	clk.Advance(3000)
	tests := []struct {
		name         string
		look         func(tx *Tx) (Entry, bool)
		hits, misses uint64
		touched      bool
		db           int
		wantOK       bool
	}{
		{"read", func(tx *Tx) (Entry, bool) { return tx.LookupRead(0, k) }, 1, 0, true, 0, true},
		{"write", func(tx *Tx) (Entry, bool) { return tx.LookupWrite(0, k) }, 0, 0, true, 0, true},
		{"peek", func(tx *Tx) (Entry, bool) { return tx.Peek(0, k) }, 0, 0, false, 0, true},
		{"read miss", func(tx *Tx) (Entry, bool) { return tx.LookupRead(1, k) }, 0, 1, false, 1, false},
		{"write miss", func(tx *Tx) (Entry, bool) { return tx.LookupWrite(1, k) }, 0, 0, false, 1, false},
	}
	for _, tt := range tests {
		s.ResetStats()
		s.Set(0, k, []byte("v"), KeepTTL, 0, "set")
		clk.Advance(2000) // idle 2 s
		tx := s.Lock(k)
		e, ok := tt.look(tx)
		if ok != tt.wantOK {
			t.Fatalf("%s: ok = %v", tt.name, ok)
		}
		if ok {
			if e.Type() != TypeString || string(e.Str()) != "v" || e.Object() != nil {
				t.Fatalf("%s: entry %v %q", tt.name, e.Type(), e.Str())
			}
			if e.ExpireAt() == 0 {
				t.Fatalf("%s: no TTL", tt.name)
			}
		}
		tx.Unlock()
		st := s.Stats()
		if st.Hits != tt.hits || st.Misses != tt.misses {
			t.Fatalf("%s: stats %+v", tt.name, st)
		}
		tx = s.Lock(k)
		e, _ = tx.Peek(0, k)
		idle := e.IdleMs()
		tx.Unlock()
		if tt.touched != (idle == 0) {
			t.Fatalf("%s: idle %d ms after lookup", tt.name, idle)
		}
		clk.Advance(-2000)
	}
	clk.Advance(1_000_000)
	tx := s.Lock(k)
	if _, ok := tx.Peek(0, k); ok {
		t.Fatal("expired key seen by Peek")
	}
	tx.Unlock()
	if s.Stats().Expired != 1 || s.DBSize(0) != 0 {
		t.Fatalf("expired %d dbsize %d", s.Stats().Expired, s.DBSize(0))
	}
}

func TestEntryEncodingAndMemory(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1})
	defer s.Close()
	long := make([]byte, 45)
	tests := []struct {
		val  []byte
		want string
	}{
		{[]byte("12345"), "int"},
		{[]byte("-9223372036854775808"), "int"},
		{[]byte("9223372036854775808"), "embstr"},
		{[]byte("012"), "embstr"},
		{[]byte("+1"), "embstr"},
		{[]byte(""), "embstr"},
		{long[:44], "embstr"},
		{long, "raw"},
	}
	k := []byte("key")
	for _, tt := range tests {
		s.Set(0, k, tt.val, 0, 0, "set")
		tx := s.Lock(k)
		e, _ := tx.Peek(0, k)
		if e.Encoding() != tt.want {
			t.Errorf("Encoding(%q) = %q, want %q", tt.val, e.Encoding(), tt.want)
		}
		if want := recordCost + int64(allocSize(uint64(1+3+len(tt.val)))); e.MemoryUsage() != want {
			t.Errorf("MemoryUsage = %d, want %d", e.MemoryUsage(), want)
		}
		tx.Unlock()
	}
	tx := s.Lock(k)
	tx.SetObject(0, k, TypeList, &fakeObj{}, 1000, 0)
	e, _ := tx.Peek(0, k)
	if e.Encoding() != "listpack" || e.Type() != TypeList || e.Str() != nil {
		t.Fatalf("object entry: %q %v", e.Encoding(), e.Type())
	}
	if e.MemoryUsage() < 1000 {
		t.Fatalf("object MemoryUsage %d", e.MemoryUsage())
	}
	before := s.UsedMemory()
	e.Resize(3000)
	tx.Unlock()
	if got := s.UsedMemory() - before; got != 2000 {
		t.Fatalf("Resize changed UsedMemory by %d", got)
	}
	checkInvariants(t, s)
}

func TestTxWrites(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Shards: 4})
	defer s.Close()
	now := clk.NowMs()
	a, b := []byte("a"), []byte("b")
	type want struct {
		key string
		db  int
		val string // "" = absent, "obj:N" for objects
		exp int64
	}
	tests := []struct {
		name  string
		setup func(tx *Tx)
		op    func(tx *Tx) bool
		ret   bool
		after []want
	}{
		{"delete present", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.Delete(0, a) }, true,
			[]want{{key: "a"}}},
		{"delete absent", nil, func(tx *Tx) bool { return tx.Delete(0, a) }, false, []want{{key: "a"}}},
		{"expire set", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.SetExpire(0, a, now+100) }, true,
			[]want{{key: "a", val: "1", exp: now + 100}}},
		{"expire past deletes", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.SetExpire(0, a, now) }, true,
			[]want{{key: "a"}}},
		{"expire zero persists", func(tx *Tx) { tx.SetString(0, a, []byte("1"), now+5) }, func(tx *Tx) bool { return tx.SetExpire(0, a, 0) }, true,
			[]want{{key: "a", val: "1"}}},
		{"expire absent", nil, func(tx *Tx) bool { return tx.SetExpire(0, a, now+100) }, false, []want{{key: "a"}}},
		{"persist", func(tx *Tx) { tx.SetString(0, a, []byte("1"), now+5) }, func(tx *Tx) bool { return tx.Persist(0, a) }, true,
			[]want{{key: "a", val: "1"}}},
		{"persist no ttl", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.Persist(0, a) }, false,
			[]want{{key: "a", val: "1"}}},
		{"rename string keeps ttl", func(tx *Tx) { tx.SetString(0, a, []byte("1"), now+7); tx.SetString(0, b, []byte("old"), 0) },
			func(tx *Tx) bool { return tx.Rename(0, a, 0, b) }, true,
			[]want{{key: "a"}, {key: "b", val: "1", exp: now + 7}}},
		{"rename missing", nil, func(tx *Tx) bool { return tx.Rename(0, a, 0, b) }, false, []want{{key: "a"}, {key: "b"}}},
		{"rename to self", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.Rename(0, a, 0, a) }, true,
			[]want{{key: "a", val: "1"}}},
		{"move across dbs", func(tx *Tx) { tx.SetString(0, a, []byte("1"), 0) }, func(tx *Tx) bool { return tx.Rename(0, a, 3, a) }, true,
			[]want{{key: "a"}, {key: "a", db: 3, val: "1"}}},
		{"rename object", func(tx *Tx) { tx.SetObject(0, a, TypeSet, &fakeObj{n: 5}, 10, 0) }, func(tx *Tx) bool { return tx.Rename(0, a, 0, b) }, true,
			[]want{{key: "a"}, {key: "b", val: "obj:5"}}},
		{"copy string", func(tx *Tx) { tx.SetString(0, a, []byte("xyz"), now+9) }, func(tx *Tx) bool { return tx.Copy(0, a, 2, b) }, true,
			[]want{{key: "a", val: "xyz", exp: now + 9}, {key: "b", db: 2, val: "xyz", exp: now + 9}}},
		{"copy object deep", func(tx *Tx) { tx.SetObject(0, a, TypeZSet, &fakeObj{n: 3}, 10, 0) }, func(tx *Tx) bool { return tx.Copy(0, a, 0, b) }, true,
			[]want{{key: "a", val: "obj:3"}, {key: "b", val: "obj:3"}}},
		{"copy non-cloner", func(tx *Tx) { tx.SetObject(0, a, TypeZSet, 42, 10, 0) }, func(tx *Tx) bool { return tx.Copy(0, a, 0, b) }, false,
			[]want{{key: "b"}}},
		{"string over object", func(tx *Tx) { tx.SetObject(0, a, TypeHash, &fakeObj{}, 10, now+50) },
			func(tx *Tx) bool { tx.SetString(0, a, []byte("s"), KeepTTL); return true }, true,
			[]want{{key: "a", val: "s", exp: now + 50}}},
	}
	for _, tt := range tests {
		s.FlushAll()
		tx := s.Lock(a, b)
		if tt.setup != nil {
			tt.setup(tx)
		}
		if got := tt.op(tx); got != tt.ret {
			t.Errorf("%s: returned %v", tt.name, got)
		}
		for _, w := range tt.after {
			e, ok := tx.Peek(w.db, []byte(w.key))
			got := ""
			if ok && e.Type() == TypeString {
				got = string(e.Str())
			} else if ok {
				got = "obj:" + itoa(e.Object().(*fakeObj).n)
			}
			if got != w.val || (ok && e.ExpireAt() != w.exp) {
				t.Errorf("%s: db %d %q = %q exp %d, want %q exp %d", tt.name, w.db, w.key, got, e.ExpireAt(), w.val, w.exp)
			}
		}
		tx.Unlock()
		checkInvariants(t, s)
	}
	// Copy must not share the object.
	s.FlushAll()
	tx := s.Lock(a, b)
	o := &fakeObj{n: 1}
	tx.SetObject(0, a, TypeList, o, 10, 0)
	tx.Copy(0, a, 0, b)
	o.n = 2
	e, _ := tx.Peek(0, b)
	if e.Object().(*fakeObj).n != 1 {
		t.Fatal("Copy shared the object")
	}
	if tx.Now() != clk.NowMs() {
		t.Fatal("Tx.Now differs from the clock")
	}
	tx.Unlock()
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestLockOutsideKeysPanics(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 64})
	defer s.Close()
	a := []byte("a")
	var other []byte
	for i := 0; other == nil; i++ {
		k := []byte{'k', byte(i)}
		if hashKey(k)&s.mask != hashKey(a)&s.mask {
			other = k
		}
	}
	tx := s.Lock(a)
	defer tx.Unlock()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a key outside the Tx")
		}
	}()
	tx.SetString(0, other, nil, 0)
}

func TestLockAllAndManyKeys(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 16})
	defer s.Close()
	var keys [][]byte
	for i := range 40 {
		keys = append(keys, []byte("key"+string(rune('A'+i))))
	}
	tx := s.Lock(keys...)
	for _, k := range keys {
		tx.SetString(1, k, k, 0)
	}
	tx.Unlock()
	tx = s.LockAll()
	for _, k := range keys {
		if e, ok := tx.Peek(1, k); !ok || string(e.Str()) != string(k) {
			t.Fatalf("%q missing", k)
		}
	}
	tx.Unlock()
	if n := testing.AllocsPerRun(100, func() { s.Lock(keys[:8]...).Unlock() }); n != 0 && !raceEnabled {
		t.Fatalf("Lock of 8 keys allocates %v times", n)
	}
}

func TestGrowString(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	t.Cleanup(s.Close)
	tx := s.Lock([]byte("k"))
	defer tx.Unlock()
	if _, ok := tx.GrowString(0, []byte("k"), 10); ok {
		t.Fatal("GrowString of a missing key succeeded")
	}
	tx.SetObject(0, []byte("obj"), TypeHash, struct{}{}, 10, 0)
	tx.SetString(0, []byte("k"), []byte("abc"), 0)
	used := s.UsedMemory()
	v, ok := tx.GrowString(0, []byte("k"), 2)
	if !ok || string(v) != "abc" {
		t.Fatalf("GrowString shorter: %q %v", v, ok)
	}
	for n := 4; n <= 100000; n += 97 {
		v, ok = tx.GrowString(0, []byte("k"), n)
		if !ok || len(v) != n || string(v[:3]) != "abc" {
			t.Fatalf("GrowString(%d): len %d ok %v", n, len(v), ok)
		}
		for _, b := range v[3:] {
			if b != 0 {
				t.Fatalf("GrowString(%d): growth not zeroed", n)
			}
		}
	}
	e, _ := tx.Peek(0, []byte("k"))
	if len(e.Str()) != 99914 || s.UsedMemory() <= used+99000 {
		t.Fatalf("len %d, used %d (was %d)", len(e.Str()), s.UsedMemory(), used)
	}
	// Shrink the value in place, then grow it again: the slack must read as zeros.
	tx.SetString(0, []byte("k"), []byte("xyz"), KeepTTL)
	tx.SetString(0, []byte("k"), []byte("xy"), KeepTTL)
	v, _ = tx.GrowString(0, []byte("k"), 3)
	if string(v) != "xy\x00" {
		t.Fatalf("regrown value %q, want %q", v, "xy\x00")
	}
}
