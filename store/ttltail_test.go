package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTTLTailModel runs random writes that move items (values of every
// size class, some large; replaced, grown, with and without a TTL, the TTL
// set, kept, changed and removed) against a model: every key keeps its
// value and its expiry, whose position lives at the end of the item.
func TestTTLTailModel(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Clock: clk})
	defer s.Close()
	type want struct {
		val []byte
		exp int64
	}
	model := map[string]*want{}
	rng := rand.New(rand.NewPCG(3, 4))
	size := func() int {
		switch rng.IntN(20) {
		case 0:
			return largeMin - 8 + rng.IntN(16) // around the large threshold
		case 1:
			return 1 + rng.IntN(3*largeMin)
		}
		return rng.IntN(300)
	}
	exp := func() int64 { return clk.NowMs() + 1_000_000 + rng.Int64N(1000) }
	for step := range 4000 {
		k := []byte(fmt.Sprintf("k%d", rng.IntN(40)))
		m := model[string(k)]
		tx := s.Lock(k)
		switch op := rng.IntN(6); {
		case op == 0: // SET, a TTL or none
			v := bytes.Repeat([]byte{byte(step)}, size())
			e := int64(0)
			if rng.IntN(2) == 0 {
				e = exp()
			}
			tx.SetString(0, k, v, e)
			model[string(k)] = &want{v, e}
		case op == 1 && m != nil: // SET KEEPTTL
			v := bytes.Repeat([]byte{byte(step)}, size())
			tx.SetString(0, k, v, KeepTTL)
			m.val = v
		case op == 2 && m != nil: // grow (APPEND, SETRANGE)
			n := len(m.val) + 1 + rng.IntN(2000)
			if rng.IntN(10) == 0 {
				n += largeMin
			}
			g, _ := tx.GrowString(0, k, n)
			g[n-1] = byte(step)
			m.val = append(m.val, make([]byte, n-len(m.val))...)
			m.val[n-1] = byte(step)
		case op == 3 && m != nil: // EXPIRE
			m.exp = exp()
			tx.SetExpire(0, k, m.exp)
		case op == 4 && m != nil: // PERSIST
			tx.Persist(0, k)
			m.exp = 0
		case op == 5 && m != nil:
			tx.Delete(0, k)
			delete(model, string(k))
		}
		tx.Unlock()
		if step%50 == 0 {
			checkInvariants(t, s)
			for key, w := range model {
				tx := s.Lock([]byte(key))
				e, ok := tx.Peek(0, []byte(key))
				if !ok || !bytes.Equal(e.Str(), w.val) || e.ExpireAt() != w.exp {
					tx.Unlock()
					t.Fatalf("step %d: %s: ok %v, %d bytes (want %d), expiry %d (want %d)", step, key, ok, len(e.Str()), len(w.val), e.ExpireAt(), w.exp)
				}
				tx.Unlock()
			}
		}
	}
	checkInvariants(t, s)
}

// TestTTLCostsItsTail: a key with a TTL has room for the position at the end
// of its item: a value that fills its class moves to the next on EXPIRE,
// and MEMORY USAGE counts it.
func TestTTLCostsItsTail(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	k := []byte("k")
	v := make([]byte, 52-1-1-1) // kv of 51 bytes and the item's header: a class of its own
	tx := s.Lock(k)
	defer tx.Unlock()
	tx.SetString(0, k, v, 0)
	e, _ := tx.Peek(0, k)
	if got, want := e.MemoryUsage(), recordCost+52; got != want {
		t.Fatalf("without TTL: %d, want %d", got, want)
	}
	exp := s.Now() + 10_000 // once: the wall clock moves between calls (-race is slow)
	tx.SetExpire(0, k, exp)
	e, _ = tx.Peek(0, k)
	if got, want := e.MemoryUsage(), recordCost+int64(allocSize(51+4))+ttlCost; got != want {
		t.Fatalf("with a TTL: %d, want %d", got, want)
	}
	if !bytes.Equal(e.Str(), v) || e.ExpireAt() != exp {
		t.Fatal("value or expiry lost moving the item")
	}
}

// TestItemLengthAgainstModel replaces, grows, expires and persists a few
// keys with values whose items leave from 0 to thousands of bytes unused
// (the item then keeps the length in its header byte, or stashed before
// its TTL position), checking every value and TTL against a model and the
// shard's invariants as it goes.
func TestItemLengthAgainstModel(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	keys := [][]byte{[]byte("a"), []byte("bb"), []byte("key:000000000042")}
	vals := map[string][]byte{}
	exps := map[string]int64{}
	size := func() int {
		switch rng.IntN(3) {
		case 0:
			return rng.IntN(80)
		case 1:
			return rng.IntN(6000)
		}
		return rng.IntN(largeMin + 4000)
	}
	for step := range 3000 {
		k := keys[rng.IntN(len(keys))]
		tx := s.Lock(k)
		switch op := rng.IntN(5); {
		case op <= 1:
			v := make([]byte, size())
			for i := range v {
				v[i] = byte(rng.Uint32())
			}
			tx.SetString(0, k, v, KeepTTL)
			if _, ok := vals[string(k)]; !ok {
				exps[string(k)] = 0
			}
			vals[string(k)] = v
		case op == 2:
			if old, ok := vals[string(k)]; ok {
				n := len(old) + rng.IntN(3000)
				v, ok := tx.GrowString(0, k, n)
				if !ok || len(v) != n {
					t.Fatalf("step %d: GrowString(%d) = %d, %v", step, n, len(v), ok)
				}
				vals[string(k)] = append(old, make([]byte, n-len(old))...)
			}
		case op == 3:
			if _, ok := vals[string(k)]; ok {
				exp := s.Now() + 1_000_000 + int64(rng.IntN(1000))
				tx.SetExpire(0, k, exp)
				exps[string(k)] = exp
			}
		default:
			if _, ok := vals[string(k)]; ok {
				tx.Persist(0, k)
				exps[string(k)] = 0
			}
		}
		for _, k := range keys {
			want, ok := vals[string(k)]
			e, found := tx.Peek(0, k)
			if found != ok || ok && (!bytes.Equal(e.Str(), want) || e.ExpireAt() != exps[string(k)]) {
				t.Fatalf("step %d: key %q: found %v (want %v), value or TTL differs", step, k, found, ok)
			}
		}
		tx.Unlock()
		if step%100 == 0 {
			checkInvariants(t, s)
		}
	}
	checkInvariants(t, s)
}
