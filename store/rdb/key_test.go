package rdb

import (
	"slices"
	"strconv"
	"testing"

	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/list"
	"github.com/cached/cached/store/set"
	"github.com/cached/cached/store/zset"
)

type clock struct{ ms int64 }

func (c *clock) NowMs() int64 { return c.ms }

func newStore(t *testing.T, c *clock) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Clock, cfg.ActiveExpireHz = c, -1
	s, err := store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestRecordsShipKeys dumps keys of every type with and without TTL from
// one store into records, applies them to another store and compares key
// by key: type, contents, expiry, database.
func TestRecordsShipKeys(t *testing.T) {
	c := &clock{ms: 1_700_000_000_000}
	src, dst := newStore(t, c), newStore(t, c)
	keys := [][]byte{[]byte("s"), []byte("l"), []byte("h"), []byte("z"), []byte("set"), []byte("ttl"), []byte("past")}
	tx := src.Lock(append(keys, []byte("missing"))...)
	tx.SetString(3, keys[0], []byte("value"), 0)
	l := list.New()
	h := hash.New()
	z := zset.New(0, 0)
	st := set.New()
	for i := range 300 {
		l.PushBack(strconv.AppendInt(nil, int64(i), 10))
		_, _ = h.Set(strconv.AppendInt(nil, int64(i), 10), []byte("v"))
		z.Set(strconv.AppendInt(nil, int64(i), 10), float64(i)/2)
		_, _ = st.Add(strconv.AppendInt(nil, int64(i*7), 10))
	}
	tx.SetObject(0, keys[1], store.TypeList, l, l.Size(), 0)
	tx.SetObject(0, keys[2], store.TypeHash, h, h.Size(), 0)
	tx.SetObject(0, keys[3], store.TypeZSet, z, z.Size(), c.ms+5000)
	tx.SetObject(0, keys[4], store.TypeSet, st, st.Size(), 0)
	tx.SetString(0, keys[5], []byte("12345"), c.ms+60000)
	tx.SetString(0, keys[6], []byte("soon gone"), c.ms+10)
	var stream []byte
	for _, k := range keys {
		for _, db := range []int{0, 3} {
			var ok bool
			var err error
			if stream, ok, err = AppendRecord(stream, tx, db, k); err != nil {
				t.Fatal(err)
			} else if ok != ((db == 3) == (string(k) == "s")) {
				t.Fatalf("%s db %d: ok %v", k, db, ok)
			}
		}
	}
	if _, ok, _ := AppendRecord(nil, tx, 0, []byte("missing")); ok {
		t.Fatal("record of a missing key")
	}
	tx.Unlock()

	c.ms += 100 // "past" expires in flight: applying it stores nothing
	for len(stream) > 0 {
		r, rest, err := ParseRecord(stream)
		if err != nil {
			t.Fatal(err)
		}
		stream = rest
		dtx := dst.Lock(r.Key)
		stored, err := r.Apply(dtx)
		dtx.Unlock()
		if err != nil || stored != (string(r.Key) != "past") {
			t.Fatalf("apply %s: %v %v", r.Key, stored, err)
		}
	}
	stx, dtx := src.Lock(keys...), dst.Lock(keys...)
	defer stx.Unlock()
	defer dtx.Unlock()
	for _, k := range keys {
		for _, db := range []int{0, 3} {
			se, sok := stx.Peek(db, k)
			de, dok := dtx.Peek(db, k)
			if sok != dok {
				t.Fatalf("%s db %d: present %v, want %v", k, db, dok, sok)
			}
			if !sok {
				continue
			}
			sv := Value{Type: se.Type(), Str: se.Str()}
			dv := Value{Type: de.Type(), Str: de.Str()}
			if o := se.Object(); o != nil {
				sv.Obj, dv.Obj = o.(store.Value), de.Object().(store.Value)
			}
			if se.Type() != de.Type() || !slices.Equal(canon(sv), canon(dv)) || se.ExpireAt() != de.ExpireAt() {
				t.Fatalf("%s db %d differs", k, db)
			}
		}
	}
	if _, _, err := ParseRecord([]byte{0, 200}); err == nil {
		t.Fatal("truncated record parsed")
	}
}

func TestSetIdle(t *testing.T) {
	c := &clock{ms: 1_700_000_000_000}
	s := newStore(t, c)
	tx := s.Lock([]byte("k"), []byte("nokey"))
	defer tx.Unlock()
	tx.SetString(0, []byte("k"), []byte("v"), 0)
	if !tx.SetIdle(0, []byte("k"), 30_000) {
		t.Fatal("SetIdle of an existing key")
	}
	e, _ := tx.Peek(0, []byte("k"))
	if got := e.IdleMs(); got != 30_000 {
		t.Fatalf("idle %d ms, want 30000", got)
	}
	if tx.SetIdle(0, []byte("nokey"), 1) {
		t.Fatal("SetIdle of a missing key")
	}
}
