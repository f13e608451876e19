package store

import (
	"errors"
	"testing"
	"time"

	"github.com/cached/cached/internal/keyslot"
)

func TestKeySlot(t *testing.T) {
	if got := keyslot.CRC16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16 = %#x, want 0x31c3", got)
	}
	tests := []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"{somekey}.x", 11058},
		{"a{somekey}b{other}", 11058},
		{"foo{}{bar}", int(keyslot.CRC16([]byte("foo{}{bar}")) & (Slots - 1))},
		{"foo{bar}{zap}", int(keyslot.CRC16([]byte("bar")) & (Slots - 1))},
		{"{}", int(keyslot.CRC16([]byte("{}")) & (Slots - 1))},
		{"{user1000}.following", KeySlot([]byte("user1000"))},
		{"no-close{brace", int(keyslot.CRC16([]byte("no-close{brace")) & (Slots - 1))},
		{"", 0},
	}
	for _, tt := range tests {
		if got := KeySlot([]byte(tt.key)); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in   string
		want Policy
		err  bool
	}{
		{"noeviction", NoEviction, false},
		{"ALLKEYS-LRU", AllKeysLRU, false},
		{"volatile-lru", VolatileLRU, false},
		{"allkeys-random", AllKeysRandom, false},
		{"volatile-random", VolatileRandom, false},
		{"Volatile-TTL", VolatileTTL, false},
		{"allkeys-lfu", AllKeysLFU, false},
		{"Volatile-LFU", VolatileLFU, false},
		{"lfu", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePolicy(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("ParsePolicy(%q) = %v, %v", tt.in, got, err)
		}
		if !tt.err && got.String() != toLower(tt.in) {
			t.Errorf("String() = %q", got.String())
		}
		if tt.err && !errors.Is(err, ErrUnsupportedPolicy) {
			t.Errorf("err = %v", err)
		}
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestTypeString(t *testing.T) {
	want := map[Type]string{TypeNone: "none", TypeString: "string", TypeList: "list", TypeHash: "hash",
		TypeSet: "set", TypeZSet: "zset", Type(99): "none"}
	for ty, w := range want {
		if ty.String() != w {
			t.Errorf("%d.String() = %q, want %q", ty, ty.String(), w)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{ActiveExpireHz: -1}, true},
		{"shards 3", Config{Shards: 3}, false},
		{"shards -2", Config{Shards: -2}, false},
		{"dbs 257", Config{Databases: 257}, false},
		{"negative maxmemory", Config{MaxMemory: -1}, false},
		{"bad policy", Config{Policy: 42}, false},
		{"one shard one db", Config{Shards: 1, Databases: 1, ActiveExpireHz: -1}, true},
	}
	for _, tt := range tests {
		s, err := New(tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if err != nil && !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: err %v is not ErrBadConfig", tt.name, err)
		}
		if s != nil {
			s.Close()
		}
	}
	s := mustNew(t, Config{ActiveExpireHz: -1})
	defer s.Close()
	if s.Databases() != 16 || len(s.shards) < 16 || len(s.shards)&(len(s.shards)-1) != 0 {
		t.Fatalf("defaults: dbs %d shards %d", s.Databases(), len(s.shards))
	}
}

func TestGetSet(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1})
	defer s.Close()
	now := clk.NowMs()
	steps := []struct {
		op      string // set, get, adv
		db      int
		key     string
		val     string
		exp     int64
		wantOK  bool
		wantErr error
	}{
		{op: "get", key: "a"},
		{op: "set", key: "a", val: "1"},
		{op: "get", key: "a", val: "1", wantOK: true},
		{op: "get", db: 1, key: "a"},
		{op: "set", db: 1, key: "a", val: "other db"},
		{op: "get", db: 1, key: "a", val: "other db", wantOK: true},
		{op: "get", key: "a", val: "1", wantOK: true},
		{op: "set", key: "a", val: "a much longer value that needs a new allocation", exp: now + 1000},
		{op: "get", key: "a", val: "a much longer value that needs a new allocation", wantOK: true},
		{op: "set", key: "a", val: "short", exp: KeepTTL},
		{op: "adv", exp: 999},
		{op: "get", key: "a", val: "short", wantOK: true},
		{op: "adv", exp: 1},
		{op: "get", key: "a"},
		{op: "set", key: "", val: ""},
		{op: "get", key: "", val: "", wantOK: true},
		{op: "set", key: "k", val: "v", exp: KeepTTL},
		{op: "get", key: "k", val: "v", wantOK: true},
	}
	for n, st := range steps {
		switch st.op {
		case "set":
			s.Set(st.db, []byte(st.key), []byte(st.val), st.exp, 0, "set")
		case "adv":
			clk.Advance(st.exp)
		case "get":
			got, ok, err := s.Get(st.db, []byte(st.key), []byte("prefix:"))
			if ok != st.wantOK || !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d: Get(%q) ok=%v err=%v", n, st.key, ok, err)
			}
			if ok && string(got) != "prefix:"+st.val {
				t.Fatalf("step %d: Get(%q) = %q", n, st.key, got)
			}
		}
		checkInvariants(t, s)
	}
	stats := s.Stats()
	if stats.Hits != 7 || stats.Misses != 3 || stats.Expired != 1 {
		t.Fatalf("stats = %+v", stats)
	}
	s.ResetStats()
	if s.Stats() != (Stats{}) {
		t.Fatalf("after reset: %+v", s.Stats())
	}
	tx := s.Lock([]byte("h"))
	tx.SetObject(0, []byte("h"), TypeHash, &fakeObj{n: 1}, 100, 0)
	tx.Unlock()
	if _, ok, err := s.Get(0, []byte("h"), nil); !ok || !errors.Is(err, ErrWrongType) {
		t.Fatalf("Get(hash) ok=%v err=%v", ok, err)
	}
}

// fakeObj is a collection object for tests.
type fakeObj struct{ n int }

func (o *fakeObj) Clone() any       { c := *o; return &c }
func (o *fakeObj) Encoding() string { return "listpack" }

func TestKeyAndValueSizes(t *testing.T) {
	s := mustNew(t, Config{Shards: 2, ActiveExpireHz: -1})
	defer s.Close()
	sizes := []int{0, 1, 127, 128, 300, 16383, 16384, 70000}
	for _, ks := range sizes {
		for _, vs := range sizes {
			k := make([]byte, ks)
			for i := range k {
				k[i] = byte(i*7 + ks)
			}
			v := make([]byte, vs)
			for i := range v {
				v[i] = byte(i + vs)
			}
			s.Set(1, k, v, 0, 0, "set")
			got, ok, err := s.Get(1, k, nil)
			if !ok || err != nil || string(got) != string(v) {
				t.Fatalf("key %d value %d: ok %v err %v equal %v", ks, vs, ok, err, string(got) == string(v))
			}
			var seen bool
			s.Scan(1, 0, 1000, func(key []byte, _ Type) bool {
				seen = seen || string(key) == string(k)
				return true
			})
			if !seen {
				t.Fatalf("key of %d bytes not scanned", ks)
			}
		}
	}
	if s.DBSize(1) != int64(len(sizes)) {
		t.Fatalf("dbsize %d", s.DBSize(1))
	}
	checkInvariants(t, s)
}

// TestClassOfTable checks classOf's lookup table against the search for
// every size up to largeMin.
func TestClassOfTable(t *testing.T) {
	for n := uint32(0); n <= largeMin; n++ {
		if got, want := classOf(n), searchClassOf(n); got != want {
			t.Fatalf("classOf(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestMonoClock: MonoMs follows the wall clock and never goes back between
// readings (the wall clock is not stepped during the test).
func TestMonoClock(t *testing.T) {
	prev := int64(0)
	for range 1000 {
		before := time.Now().UnixMilli()
		ms := MonoMs(Mono())
		after := time.Now().UnixMilli()
		if ms < before-1 || ms > after+1 {
			t.Fatalf("MonoMs %d outside wall clock [%d, %d]", ms, before, after)
		}
		if ms < prev {
			t.Fatalf("MonoMs went back: %d after %d", ms, prev)
		}
		prev = ms
	}
	if got := (WallClock{}).NowMs(); got < prev {
		t.Fatalf("WallClock %d before %d", got, prev)
	}
}

// TestTypeOfLeavesExpired: TypeOf answers for a live key, hides one whose
// TTL has passed without deleting it (DBSize still counts it, as Redis's
// DBSIZE counts a key no one has touched since it expired), and a lookup
// then deletes it.
func TestTypeOfLeavesExpired(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1})
	defer s.Close()
	k := []byte("k")
	s.Set(0, k, []byte("v"), clk.NowMs()+10, 0, "set")
	tx := s.Lock(k)
	typ, ok := tx.TypeOf(0, k)
	tx.Unlock()
	if !ok || typ != TypeString {
		t.Fatalf("live key: TypeOf = %v %v, want string", typ, ok)
	}
	clk.Advance(10)
	tx = s.Lock(k)
	_, ok = tx.TypeOf(0, k)
	tx.Unlock()
	if ok {
		t.Fatal("expired key: TypeOf found it")
	}
	if n := s.DBSize(0); n != 1 {
		t.Fatalf("DBSize after TypeOf of an expired key: %d, want 1 (not deleted)", n)
	}
	tx = s.Lock(k)
	_, ok = tx.Peek(0, k)
	tx.Unlock()
	if n := s.DBSize(0); ok || n != 0 {
		t.Fatalf("after Peek: found %v, DBSize %d, want deleted", ok, n)
	}
}
