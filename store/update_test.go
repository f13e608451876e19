package store

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// recLog is an Observer that keeps each committed Record's changes, then
// its effects, as text.
type recLog struct {
	mu  sync.Mutex
	got []string
}

func (l *recLog) Commit(r *Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range r.Changes() {
		l.got = append(l.got, fmt.Sprintf("change %d %s %s", ch.Kind, ch.Key, ch.Event))
	}
	for i := range r.NumEffects() {
		var args []string
		for _, a := range r.Effect(i).Args {
			if len(a) > 20 {
				a = fmt.Appendf(nil, "<%d %c>", len(a), a[0]) // a long value: its length
			}
			args = append(args, string(a))
		}
		l.got = append(l.got, "effect "+strings.Join(args, " "))
	}
}

func (l *recLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.got, "; ")
	l.got = nil
	return s
}

// TestUpdateString runs the read-modify-write of a string key through both
// of its paths, the store's (UpdateStringAt) and a Tx's: what fn is given,
// what is stored, the TTL kept, the notes and the effect, a declined fn,
// an expired key, a collection, a value that outgrows or aliases the old
// one, and a fenced slot.
func TestUpdateString(t *testing.T) {
	paths := map[string]func(s *Store, key []byte, fn StringUpdate) (bool, error){
		"store": func(s *Store, key []byte, fn StringUpdate) (bool, error) {
			return s.UpdateStringAt(s.clock.NowMs(), 0, key, fn, 7, "incrby")
		},
		"tx": func(s *Store, key []byte, fn StringUpdate) (bool, error) {
			tx := s.Lock(key)
			defer tx.Unlock()
			return tx.UpdateString(0, key, fn, 7, "incrby")
		},
	}
	for name, update := range paths {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			log := &recLog{}
			s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Clock: clk, Observer: log})
			defer s.Close()
			s.SetRecordEffects(true)
			k := []byte("counter")
			w := fmt.Sprintf("change %d counter incrby; ", ChangeWrite) // a write's note
			// run calls update with an fn that records what it was given
			// and returns val (decline when val is nil).
			run := func(val []byte) (given string, wrote bool, err error) {
				given = "not called"
				wrote, err = update(s, k, func(old []byte, found bool) ([]byte, bool) {
					given = fmt.Sprintf("%q %v", old, found)
					return val, val != nil
				})
				return given, wrote, err
			}
			value := func() (string, int64) {
				tx := s.Lock(k)
				defer tx.Unlock()
				e, ok := tx.Peek(0, k)
				if !ok {
					return "<missing>", 0
				}
				return string(e.Str()), e.ExpireAt()
			}
			check := func(step, given, wantGiven string, wrote, wantWrote bool, err, wantErr error, wantVal string, wantExp int64, wantLog string) {
				t.Helper()
				if given != wantGiven || wrote != wantWrote || err != wantErr {
					t.Errorf("%s: fn given %s, wrote %v, err %v; want %s, %v, %v", step, given, wrote, err, wantGiven, wantWrote, wantErr)
				}
				if v, exp := value(); v != wantVal || exp != wantExp {
					t.Errorf("%s: value %q expiring %d, want %q expiring %d", step, v, exp, wantVal, wantExp)
				}
				if got := log.take(); got != wantLog {
					t.Errorf("%s: committed %q, want %q", step, got, wantLog)
				}
			}

			given, wrote, err := run([]byte("1"))
			check("missing", given, `"" false`, wrote, true, err, nil, "1", 0,
				w+"effect SET counter 1 KEEPTTL")

			exp := clk.NowMs() + 10_000
			tx := s.Lock(k)
			tx.SetExpire(0, k, exp)
			tx.Unlock()
			log.take()
			given, wrote, err = run([]byte("2"))
			check("with a TTL", given, `"1" true`, wrote, true, err, nil, "2", exp,
				w+"effect SET counter 2 KEEPTTL")

			given, wrote, err = run(nil)
			check("declined", given, `"2" true`, wrote, false, err, nil, "2", exp, "")

			long := bytes.Repeat([]byte("x"), 3000)
			given, wrote, err = run(long)
			check("outgrown", given, `"2" true`, wrote, true, err, nil, string(long), exp,
				w+"effect SET counter <3000 x> KEEPTTL")

			// fn returns the old value's own bytes, cut short: the effect
			// and the stored value both get them.
			wrote, err = update(s, k, func(old []byte, _ bool) ([]byte, bool) { return old[:5], true })
			check("aliased", "-", "-", wrote, true, err, nil, "xxxxx", exp,
				w+"effect SET counter xxxxx KEEPTTL")

			clk.Advance(10_001)
			given, wrote, err = run([]byte("9"))
			check("expired", given, `"" false`, wrote, true, err, nil, "9", 0,
				fmt.Sprintf("change %d counter ; %seffect DEL counter; effect SET counter 9 KEEPTTL", ChangeExpired, w))

			tx = s.Lock(k)
			tx.SetObject(0, k, TypeHash, cloneable{}, 8, 0)
			tx.Unlock()
			log.take()
			given, wrote, err = run([]byte("3"))
			if given != "not called" || wrote || err != ErrWrongType {
				t.Errorf("a hash: fn %s, wrote %v, err %v; want not called, false, ErrWrongType", given, wrote, err)
			}
			if got := log.take(); got != "" {
				t.Errorf("a hash: committed %q", got)
			}
		})
	}

	t.Run("fenced", func(t *testing.T) {
		s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
		defer s.Close()
		k := []byte("counter")
		s.Set(0, k, []byte("1"), 0, 0, "set")
		s.FenceSlot(KeySlot(k), true)
		called := false
		wrote, err := s.UpdateStringAt(s.clock.NowMs(), 0, k, func([]byte, bool) ([]byte, bool) {
			called = true
			return []byte("2"), true
		}, 0, "incrby")
		if called || wrote || err != ErrFenced {
			t.Fatalf("fenced: called %v, wrote %v, err %v", called, wrote, err)
		}
		if v, _, _ := s.Get(0, k, nil); string(v) != "1" {
			t.Fatalf("fenced: value %q, want 1", v)
		}
	})
}
