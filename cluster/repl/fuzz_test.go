package repl

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"

	"github.com/cached/cached/protocol"
)

// fuzzSeeds are valid frames of both directions.
func fuzzSeeds() [][]byte {
	return [][]byte{
		appendFrame(nil, "OK", 7, 0, 1, 3),
		append(appendFrame(nil, fSnap, 3), appendKey(nil, 3, 0, []byte("k"), nil, []byte("v"), -1)...),
		appendFrame(nil, fSnapEnd, 3, 5, 0),
		rec(1, 3, 6, true, "SET", "a", "b"),
		appendFrame(nil, fUnitEnd),
		appendFrame(nil, fPos, 9, 100),
		appendFrame(nil, fGetAck),
		appendFrame(nil, fSeal, 3, 6),
		appendFrame(nil, fMark, 4, 3, 4),
		appendFrame(nil, fAck, 1, 2, 3),
		appendFrame(nil, fResync, 3),
		appendCommand(nil, [][]byte{[]byte(fSync), nil, []byte("id"), []byte("3"), []byte("0"), []byte("0")}),
	}
}

// sink returns a connection whose writes are discarded.
func sink(t testing.TB) net.Conn {
	a, b := net.Pipe()
	go io.Copy(io.Discard, b)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a
}

// FuzzReplicaFrames feeds arbitrary bytes from a "primary" to a replica's
// frame handling: it may refuse them, never panic, and whatever it applies
// keeps every slot's sequence.
func FuzzReplicaFrames(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add(bytes.Join(fuzzSeeds()[1:7], nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ap := newFakeApplier()
		r := &Replica{cfg: ReplicaConfig{Addr: "x"}.withDefaults(), ap: ap,
			want: make([]bool, NumSlots), applied: make([]atomic.Uint64, NumSlots), hist: make([]atomic.Uint64, NumSlots),
			state: make([]atomic.Uint32, NumSlots), sealed: make([]atomic.Uint64, NumSlots), marked: make([]atomic.Uint64, NumSlots),
			loadErr: make([]bool, NumSlots)}
		r.want[3], r.want[4] = true, true
		r.state[3].Store(slotWaiting)
		r.state[4].Store(slotWaiting)
		r.w = connWriter{conn: sink(t)}
		fr := &frameReader{r: protocol.NewReader(bytes.NewReader(data)), maxArgs: 1 << 10, maxBytes: 1 << 16, pooled: []string{fRec, fKey}}
		fr.r.MaxBulk = 1 << 16
		for range 64 {
			args, err := fr.read()
			if err != nil {
				return
			}
			if err := r.handle(args); err != nil {
				return
			}
			if len(r.unit) == 0 { // as session: the arena's frames are no longer held
				fr.pool.reset()
			}
		}
		if bad := ap.violations(); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}

// FuzzPrimaryFrames feeds arbitrary bytes from a "replica" to a link's
// handshake and acknowledgement handling: no panic.
func FuzzPrimaryFrames(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := NewPrimary(Config{}, newFakeStore())
		if err != nil {
			t.Fatal(err)
		}
		p.Append([]Record{*setRec(3, 1, "a", "b")})
		l := newLink(p, sink(t))
		fr := &frameReader{r: protocol.NewReader(bytes.NewReader(data)), maxArgs: 3*NumSlots + 3, maxBytes: 2 << 20}
		fr.r.MaxBulk = 1 << 10
		args, err := fr.read()
		if err != nil || l.handshake(args) != nil {
			return
		}
		for range 64 {
			args, err := fr.read()
			if err != nil || l.handleFrame(args) != nil {
				return
			}
		}
	})
}
