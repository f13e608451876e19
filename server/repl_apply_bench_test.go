package server

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/store"
)

// applyBenchKeys is the key space of BenchmarkReplApply: large enough
// that the index does not stay in the CPU's caches, as on a loaded node.
const applyBenchKeys = 1 << 20

// BenchmarkReplApply is a replica's apply of replicated SETs (32-byte
// values over applyBenchKeys keys) without the network: units of one
// record, as a primary's plain SETs arrive, handed to the applier as the
// Replica hands them. The "client" case runs the same SETs through the
// request path, 16 to a batch, for comparison: what the primary spent on
// them. ns/op is per record for the replica, per batch of 16 for the
// client, whose ns/cmd is per command.
func BenchmarkReplApply(b *testing.B) {
	val := bytes.Repeat([]byte("v"), 32)
	keys := make([][]byte, applyBenchKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%08d", i)
	}
	fill := func(st *store.Store) {
		for _, k := range keys {
			tx := st.Lock(k)
			tx.SetString(0, k, val, 0)
			tx.Unlock()
		}
	}
	b.Run("replica", func(b *testing.B) {
		s := startServer(b, nil)
		for slot := range repl.NumSlots {
			s.store.SetReplicaSlot(slot, true)
		}
		fill(s.store)
		a := newApplier(s)
		slots := make([]uint16, len(keys)) // as a REC frame carries it: not computed in the loop
		for i, k := range keys {
			slots[i] = uint16(store.KeySlot(k))
		}
		unit := make([]repl.Record, 1)
		args := [][]byte{[]byte("SET"), nil, val}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			n := (i * 7919) % applyBenchKeys // a stride: no two neighbours share a cache line
			i++
			args[1] = keys[n]
			unit[0] = repl.Record{Slot: int(slots[n]), Seq: uint64(i), Args: args}
			if err := a.Apply(unit); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client", func(b *testing.B) {
		s := startServer(b, nil)
		fill(s.store)
		p := newPathConn(b, s)
		const batch = 16
		reqs := make([][]byte, applyBenchKeys/batch) // built before the clock runs
		for n := range reqs {
			for j := range batch {
				reqs[n] = append(reqs[n], respRequest("SET", string(keys[((n*batch+j)*7919)%applyBenchKeys]), string(val))...)
			}
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if err := p.batch(reqs[n%len(reqs)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/cmd")
	})
}
