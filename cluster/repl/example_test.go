package repl_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cached/cached/cluster/repl"
)

// kv is a one-slot store: the primary's Snapshotter and the replica's Applier.
type kv struct {
	mu   sync.Mutex
	seq  uint64
	data map[string]string
}

func (s *kv) Snapshot(slot int, emit func(db int, key, head, body []byte, pexpireAt int64, release func()) error) (uint64, error) {
	s.mu.Lock()
	seq, copyOf := s.seq, make(map[string]string, len(s.data))
	for k, v := range s.data {
		copyOf[k] = v
	}
	s.mu.Unlock()
	for k, v := range copyOf {
		if err := emit(0, []byte(k), nil, []byte(v), 0, nil); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

func (s *kv) Apply(unit []repl.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range unit {
		s.data[string(r.Args[1])] = string(r.Args[2])
		s.seq = r.Seq
	}
	return nil
}

func (s *kv) FlushSlot(int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = map[string]string{}
	return nil
}

func (s *kv) Restore(_, _ int, key, payload []byte, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[string(key)] = string(payload)
	return nil
}

func (s *kv) SnapshotLoaded(_ int, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = seq
	return nil
}

func (s *kv) get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[k]
}

// Example replicates one slot and waits for the replica to acknowledge a
// write, as WAIT 1 does.
func Example() {
	primary := &kv{data: map[string]string{"old": "1"}, seq: 1}
	p, _ := repl.NewPrimary(repl.Config{}, primary)
	defer p.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go p.Serve(ln)

	replica := &kv{data: map[string]string{}}
	r, _ := repl.NewReplica(repl.ReplicaConfig{Addr: ln.Addr().String(), Slots: []int{42}}, replica)
	defer r.Close()

	// A write: the store bumps the slot's sequence and appends under its lock.
	var tok repl.Token
	primary.mu.Lock()
	primary.seq++
	primary.data["new"] = "2"
	tok.Note(42, p.Append([]repl.Record{{Slot: 42, Seq: primary.seq, Args: [][]byte{[]byte("SET"), []byte("new"), []byte("2")}}}))
	primary.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("acknowledged by", p.Wait(ctx, tok, 1))
	fmt.Println(replica.get("old"), replica.get("new"))
	// Output:
	// acknowledged by 1
	// 1 2
}
