package server

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/hash"
)

// snapBenchCase is a store shape for the snapshot benchmarks: slots slots
// of perSlot keys each, strings of 32 bytes or hashes of 4 fields.
type snapBenchCase struct {
	name           string
	slots, perSlot int
	hash           bool
}

// A join moves ≈ keys/16384·(moved share) keys per slot: 20 is a 300,000
// key cluster, 2,000 a big slot.
var snapBenchCases = []snapBenchCase{
	{"string32/20perslot", 500, 20, false},
	{"string32/2000perslot", 5, 2000, false},
	{"hash4x16/20perslot", 500, 20, true},
}

// snapBenchKey returns the i-th key of slot-tag t (all keys of one tag
// share a slot).
func snapBenchKey(t, i int) []byte { return fmt.Appendf(nil, "{t%d}:key:%08d", t, i) }

// fillSnapBench stores the case's keys in st and returns the slots used.
func fillSnapBench(b *testing.B, st *store.Store, c snapBenchCase) []int {
	b.Helper()
	val := make([]byte, 32)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	var slots []int
	seen := map[int]bool{}
	for t := 0; len(slots) < c.slots; t++ {
		s := store.KeySlot(snapBenchKey(t, 0))
		if seen[s] {
			continue
		}
		seen[s] = true
		slots = append(slots, s)
		for i := range c.perSlot {
			k := snapBenchKey(t, i)
			tx := st.Lock(k)
			if c.hash {
				h := hash.New()
				for f := range 4 {
					if _, err := h.Set(fmt.Appendf(nil, "field%d", f), val[:16]); err != nil {
						b.Fatal(err)
					}
				}
				tx.SetObject(0, k, store.TypeHash, h, h.Size(), 0)
			} else {
				tx.SetString(0, k, val, 0)
			}
			tx.Unlock()
		}
	}
	return slots
}

// snapKey is one emitted snapshot key.
type snapKey struct {
	slot    int
	key     []byte
	payload []byte
	exp     int64
}

// BenchmarkReplSnapshot is the primary's side of a slot snapshot without
// the network: the store walk, the payload encoding and a KEY frame per key
// appended to a buffer that is dropped every 4 MiB (as a link's).
func BenchmarkReplSnapshot(b *testing.B) {
	for _, c := range snapBenchCases {
		b.Run(c.name, func(b *testing.B) {
			s := startServer(b, nil)
			slots := fillSnapBench(b, s.store, c)
			sn := snapshotter{st: s.store, owned: func(int) bool { return true }}
			var buf []byte
			keys := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, slot := range slots {
					_, err := sn.Snapshot(slot, func(db int, key, head, body []byte, pexpireAt int64, release func()) error {
						if release != nil { // a lent value: the link writes it from the store's buffer
							body = nil
							release()
						}
						buf = appendKeyFrame(buf, slot, db, key, head, body, pexpireAt)
						keys++
						if len(buf) >= 4<<20 {
							buf = buf[:0]
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			if keys != b.N*c.slots*c.perSlot {
				b.Fatalf("emitted %d keys, want %d", keys, b.N*c.slots*c.perSlot)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(keys), "ns/key")
		})
	}
}

// appendKeyFrame appends a frame shaped as repl's KEY frame.
func appendKeyFrame(dst []byte, slot, db int, key, head, body []byte, exp int64) []byte {
	dst = protocol.AppendArray(dst, 6)
	dst = protocol.AppendBulkString(dst, "KEY")
	var d [20]byte
	dst = protocol.AppendBulk(dst, strconv.AppendInt(d[:0], int64(slot), 10))
	dst = protocol.AppendBulk(dst, strconv.AppendInt(d[:0], int64(db), 10))
	dst = protocol.AppendBulk(dst, key)
	dst = protocol.AppendBulk2(dst, head, body)
	return protocol.AppendBulk(dst, strconv.AppendInt(d[:0], exp, 10))
}

// BenchmarkReplRestore is the replica's side of a slot snapshot without
// the network: per slot FlushSlot, Restore of every key (decode and store)
// and SnapshotLoaded, into a server whose slots are marked as a replica's.
func BenchmarkReplRestore(b *testing.B) {
	for _, c := range snapBenchCases {
		b.Run(c.name, func(b *testing.B) {
			src := startServer(b, nil)
			slots := fillSnapBench(b, src.store, c)
			sn := snapshotter{st: src.store, owned: func(int) bool { return true }}
			var in []snapKey
			for _, slot := range slots {
				_, err := sn.Snapshot(slot, func(db int, key, head, body []byte, pexpireAt int64, release func()) error {
					in = append(in, snapKey{slot, append([]byte(nil), key...), append(append([]byte(nil), head...), body...), pexpireAt})
					if release != nil {
						release()
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			dst := startServer(b, nil)
			for _, slot := range slots {
				dst.store.SetReplicaSlot(slot, true)
			}
			a := newApplier(dst)
			keys := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i := 0; i < len(in); {
					slot := in[i].slot
					if err := a.FlushSlot(slot); err != nil {
						b.Fatal(err)
					}
					for ; i < len(in) && in[i].slot == slot; i++ {
						k := &in[i]
						if err := a.Restore(k.slot, 0, k.key, k.payload, k.exp); err != nil {
							b.Fatal(err)
						}
						keys++
					}
					if err := a.SnapshotLoaded(slot, 0); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			if n := dst.store.DBSize(0); n != int64(len(in)) {
				b.Fatalf("replica holds %d keys, want %d", n, len(in))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(keys), "ns/key")
		})
	}
}

// BenchmarkSnapshotLargeValue is the part of a slot snapshot that runs
// under the slot's shard lock when the slot holds one 64 MiB string, with
// an emit shaped as the link's: a lent body is kept for after the lock (and
// released), any other is appended to the write buffer as a KEY frame.
// ns/op is the lock hold; B/op the bytes allocated for it.
func BenchmarkSnapshotLargeValue(b *testing.B) {
	s := startServer(b, nil)
	key := []byte("{big}value")
	slot := store.KeySlot(key)
	s.store.Set(0, key, make([]byte, 64<<20), 0, 0, "")
	sn := snapshotter{st: s.store, owned: func(int) bool { return true }}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var release func()
		_, err := sn.Snapshot(slot, func(db int, key, head, body []byte, pexpireAt int64, rel func()) error {
			if rel != nil {
				release = rel
				return nil
			}
			buf = appendKeyFrame(buf[:0], slot, db, key, head, body, pexpireAt)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if release != nil {
			release()
		}
		if cap(buf) > 1<<20 {
			buf = nil // as the link's write buffer after a huge frame
		}
	}
}
