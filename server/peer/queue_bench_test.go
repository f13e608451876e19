package peer

import "testing"

// BenchmarkQueueLocks is Queue's own cost, without a socket: parallel
// callers (as the event loops) queue GETs on one connection, which each
// caller empties every 64 requests as a writer and a reader would. It
// measures the locking per queued request.
func BenchmarkQueueLocks(b *testing.B) {
	pc := &Conn{kick: make(chan struct{}, 1), avail: make(chan struct{}, 1),
		space: make(chan struct{}, 1), dead: make(chan struct{})}
	args := [][]byte{[]byte("GET"), []byte("key:000000012345")}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		calls := make([]*Call, 64)
		for i := range calls {
			calls[i] = &Call{}
		}
		i := 0
		for pb.Next() {
			if err := pc.Queue(calls[i%64], args); err != nil {
				b.Error(err)
				return
			}
			if i++; i%64 == 0 {
				pc.qmu.Lock()
				pc.calls = pc.calls[:0]
				pc.qmu.Unlock()
				pc.bmu.Lock()
				pc.out = pc.out[:0]
				pc.bmu.Unlock()
			}
		}
	})
}
