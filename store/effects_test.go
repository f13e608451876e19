package store

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestEffects(t *testing.T) {
	var fx Effects
	if fx.Len() != 0 {
		t.Fatal("zero Effects not empty")
	}
	arg := []byte("v1")
	fx.Add([]byte("SET"), []byte("k"), arg)
	arg[0] = 'X' // Add copied
	fx.Add([]byte("DEL"))
	fx.Add([]byte("PEXPIREAT"), []byte(""), []byte("123"))
	tests := []struct {
		i    int
		want string
	}{{0, "[SET k v1]"}, {1, "[DEL]"}, {2, "[PEXPIREAT  123]"}}
	for _, tt := range tests {
		if got := fmt.Sprintf("%s", fx.At(tt.i)); got != tt.want {
			t.Errorf("At(%d) = %s, want %s", tt.i, got, tt.want)
		}
	}
	a := fx.At(0)
	_ = fx.At(1)
	if string(a[0]) != "SET" {
		t.Fatal("At overwrote an earlier result")
	}
	a[1] = append(a[1], 'z') // capped: must not clobber the next argument
	if string(fx.At(0)[2]) != "v1" {
		t.Fatal("append to an argument clobbered the next one")
	}
	fx.Reset()
	if fx.Len() != 0 {
		t.Fatal("Reset kept commands")
	}
	fx.Add([]byte("PERSIST"), []byte("q"))
	if fx.Len() != 1 || fmt.Sprintf("%s", fx.At(0)) != "[PERSIST q]" {
		t.Fatalf("after reset: %s", fx.At(0))
	}
}

// applyEffect is a tiny test-only applier of effect commands on a store.
func applyEffect(t *testing.T, s *Store, db int, args [][]byte) {
	t.Helper()
	key := args[1]
	tx := s.Lock(key)
	defer tx.Unlock()
	switch cmd := string(args[0]); {
	case cmd == "SET" && len(args) == 3:
		tx.SetString(db, key, args[2], 0)
	case cmd == "SET" && len(args) == 5 && string(args[3]) == "PXAT":
		at, _ := strconv.ParseInt(string(args[4]), 10, 64)
		tx.SetString(db, key, args[2], at)
	case cmd == "DEL":
		tx.Delete(db, key)
	case cmd == "PEXPIREAT":
		at, _ := strconv.ParseInt(string(args[2]), 10, 64)
		tx.SetExpire(db, key, at)
	case cmd == "PERSIST":
		tx.Persist(db, key)
	default:
		t.Fatalf("unknown effect %q", args)
	}
}

// effectLog is an Observer that keeps every committed effect, copied, and
// checks that each slot's sequence numbers are gapless and increasing.
type effectLog struct {
	mu   sync.Mutex
	t    *testing.T
	seq  map[int]uint64
	cmds [][][]byte
	dbs  []int
}

func newEffectLog(t *testing.T) *effectLog { return &effectLog{t: t, seq: map[int]uint64{}} }

func (l *effectLog) Commit(r *Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range r.NumEffects() {
		e := r.Effect(i)
		if e.Seq != l.seq[e.Slot]+1 {
			l.t.Errorf("slot %d: seq %d after %d", e.Slot, e.Seq, l.seq[e.Slot])
		}
		l.seq[e.Slot] = e.Seq
		cmd := make([][]byte, len(e.Args))
		for j, a := range e.Args {
			cmd[j] = append([]byte(nil), a...)
		}
		l.cmds = append(l.cmds, cmd)
		l.dbs = append(l.dbs, e.DB)
	}
}

func (l *effectLog) take() ([][][]byte, []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, d := l.cmds, l.dbs
	l.cmds, l.dbs = nil, nil
	return c, d
}

// TestEffectsReplay runs random writes on a primary that records its
// effects (the writer states each effect; expiry and eviction record DEL
// themselves), replays the stream on a replica, and checks both hold the
// same data.
func TestEffectsReplay(t *testing.T) {
	clk := newFakeClock()
	log := newEffectLog(t)
	primary := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Clock: clk, Observer: log, Policy: AllKeysLRU})
	defer primary.Close()
	primary.SetRecordEffects(true)
	replica := mustNew(t, Config{Shards: 8, ActiveExpireHz: -1, Clock: clk})
	defer replica.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 5000 {
		k := []byte(fmt.Sprint("k", r.IntN(300)))
		switch op := r.IntN(10); {
		case op < 4: // SET k v [EX]
			v := []byte(fmt.Sprint("v", n))
			if r.IntN(3) == 0 {
				at := clk.NowMs() + int64(r.IntN(50))
				primary.Set(0, k, v, at, 0, "set", []byte("SET"), k, v, []byte("PXAT"), []byte(strconv.FormatInt(at, 10)))
			} else {
				primary.Set(0, k, v, 0, 0, "set", []byte("SET"), k, v)
			}
		case op < 6: // DEL
			tx := primary.Lock(k)
			if tx.Delete(0, k) {
				tx.Propagate(0, []byte("DEL"), k)
			}
			tx.Unlock()
		case op < 7: // PEXPIRE (relative) -> PEXPIREAT, or DEL when in the past
			tx := primary.Lock(k)
			at := tx.Now() + int64(r.IntN(40)) - 5
			if tx.SetExpire(0, k, at) {
				if at <= tx.Now() {
					tx.Propagate(0, []byte("DEL"), k)
				} else {
					tx.Propagate(0, []byte("PEXPIREAT"), k, []byte(strconv.FormatInt(at, 10)))
				}
			}
			tx.Unlock()
		case op < 8: // PERSIST
			tx := primary.Lock(k)
			if tx.Persist(0, k) {
				tx.Propagate(0, []byte("PERSIST"), k)
			}
			tx.Unlock()
		case op < 9: // GET (lazy expiry may emit DEL)
			primary.Get(0, k, nil)
		default:
			clk.Advance(int64(r.IntN(10)))
			primary.RunExpireCycle()
			if r.IntN(20) == 0 {
				primary.SetMaxMemory(primary.UsedMemory() * 9 / 10)
				if err := primary.FreeMemory(); err != nil {
					t.Fatal(err)
				}
				primary.SetMaxMemory(0)
			}
		}
		cmds, dbs := log.take()
		for i, cmd := range cmds {
			applyEffect(t, replica, dbs[i], cmd)
		}
	}
	if primary.Stats().Expired == 0 || primary.Stats().Evicted == 0 {
		t.Fatalf("test did not exercise expiry and eviction: %+v", primary.Stats())
	}
	compareStores(t, primary, replica, 0)
}

func compareStores(t *testing.T, a, b *Store, db int) {
	t.Helper()
	dump := func(s *Store) map[string]string {
		m := map[string]string{}
		tx := s.LockAll()
		defer tx.Unlock()
		for _, sh := range s.shards {
			for i := uint32(1); i < sh.nrec; i++ {
				if r := sh.rec(i); r.typ() != TypeNone && s.logical(sh.dbOf(i)) == db {
					m[string(sh.key(r))] = fmt.Sprintf("%s@%d", sh.val(r), sh.expireAt(i))
				}
			}
		}
		return m
	}
	da, dbm := dump(a), dump(b)
	if len(da) != len(dbm) {
		t.Fatalf("primary has %d keys, replica %d", len(da), len(dbm))
	}
	for k, v := range da {
		if dbm[k] != v {
			t.Fatalf("key %s: primary %q replica %q", k, v, dbm[k])
		}
	}
}

// observerFunc is an Observer from a function.
type observerFunc func(r *Record)

func (f observerFunc) Commit(r *Record) { f(r) }

// TestReportNew: with SetReportNew(true), ChangeNew is noted once per
// key a write creates (string, object, copy destination), never for a
// replaced key; with it off, nothing.
func TestReportNew(t *testing.T) {
	var got []string
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Observer: observerFunc(func(r *Record) {
		for _, ch := range r.Changes() {
			if ch.Kind == ChangeNew {
				got = append(got, string(ch.Key))
			}
		}
	})})
	s.Set(0, []byte("off"), []byte("v"), 0, 0, "set")
	s.SetReportNew(true)
	s.Set(0, []byte("a"), []byte("1"), 0, 0, "set")
	s.Set(0, []byte("a"), []byte("2"), 0, 0, "set")
	tx := s.Lock([]byte("h"), []byte("h2"))
	tx.SetObject(0, []byte("h"), TypeHash, cloneable{}, 8, 0)
	tx.Copy(0, []byte("h"), 0, []byte("h2"))
	tx.Unlock()
	want := []string{"a", "h", "h2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("EventNew keys %q, want %q", got, want)
	}
}

type cloneable struct{}

func (cloneable) Clone() any { return cloneable{} }
