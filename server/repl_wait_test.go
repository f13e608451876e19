package server

import (
	"testing"
	"time"
)

// TestWaitWithoutReplicasVsRedis: without replication WAIT (and ROLE) answer as
// redis-server 7 with no replica: 0 at once for numreplicas 0 and inside
// MULTI, else 0 only once the timeout has passed.
func TestWaitWithoutReplicasVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	p.same(t, "SET", "k", "v")
	p.same(t, "ROLE") // master, offset 0 (no backlog without replicas), no replicas
	p.same(t, "WAIT", "0", "0")
	p.same(t, "WAIT", "-1", "0")
	p.same(t, "MULTI")
	p.same(t, "WAIT", "3", "0")
	p.same(t, "EXEC")
	for _, c := range []*listRaw{p.ours, p.theirs} {
		start := time.Now()
		if got := c.do(t, "WAIT", "1", "150"); got != ":0\r\n" {
			t.Fatalf("WAIT 1 150 = %q, want :0", got)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("WAIT 1 150 answered after %v, before its timeout", d)
		}
	}
}
