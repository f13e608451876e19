package repl

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cached/cached/protocol"
)

// BenchmarkSnapshotFrames is the replica's frame handling of slot
// snapshots without the network or a store: SNAP, 20 KEY frames (32-byte
// payloads) and SNAPEND for each of 500 slots, read from memory with the
// replica's frame reader and handled into a counting Applier.
func BenchmarkSnapshotFrames(b *testing.B) {
	const slots, perSlot = 500, 20
	var in []byte
	payload := bytes.Repeat([]byte("p"), 33)
	for s := range slots {
		in = appendFrame(in, fSnap, uint64(s))
		for k := range perSlot {
			in = appendKey(in, s, 0, fmt.Appendf(nil, "{t%d}:key:%08d", s, k), nil, payload, 0)
		}
		in = appendFrame(in, fSnapEnd, uint64(s), 1, 0)
	}
	ap := &countingApplier{}
	keys := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r := &Replica{cfg: ReplicaConfig{Addr: "x"}.withDefaults(), ap: ap,
			want: make([]bool, NumSlots), applied: make([]atomic.Uint64, NumSlots), hist: make([]atomic.Uint64, NumSlots),
			state: make([]atomic.Uint32, NumSlots), sealed: make([]atomic.Uint64, NumSlots), marked: make([]atomic.Uint64, NumSlots),
			loadErr: make([]bool, NumSlots)}
		for s := range slots {
			r.want[s] = true
			r.state[s].Store(slotWaiting)
		}
		fr := &frameReader{r: protocol.NewReaderSize(bytes.NewReader(in), 32<<10), maxArgs: 1<<20 + recFields, maxBytes: 1 << 30, pooled: []string{fRec, fKey}} // as session
		fr.r.MaxBulk = 512 << 20
		for range slots * (perSlot + 2) {
			args, err := fr.read()
			if err != nil {
				b.Fatal(err)
			}
			if err := r.handle(args); err != nil {
				b.Fatal(err)
			}
			if len(r.unit) == 0 {
				fr.pool.reset()
			}
		}
		keys += slots * perSlot
	}
	if got := ap.keys.Load(); got != int64(keys) || ap.loaded.Load() != int64(b.N*slots) {
		b.Fatalf("restored %d keys and loaded %d slots, want %d and %d", got, ap.loaded.Load(), keys, b.N*slots)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(keys), "ns/key")
}
