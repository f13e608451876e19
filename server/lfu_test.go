package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

// TestMaxmemoryLFUKeepsFrequentKeys: under allkeys-lfu and volatile-lfu the
// keys read often survive a flood of keys written once; volatile-lfu
// evicts only keys with a TTL.
func TestMaxmemoryLFUKeepsFrequentKeys(t *testing.T) {
	for _, policy := range []string{"allkeys-lfu", "volatile-lfu"} {
		t.Run(policy, func(t *testing.T) {
			s := startServer(t, func(c *config.Config) { c.MaxMemory = 1 << 20; c.MaxMemoryPolicy = policy })
			rc := newClient(t, s, nil)
			val := strings.Repeat("v", 1000)
			for i := range 20 {
				mustDo(t, rc, "SET", fmt.Sprintf("hot:%d", i), "x", "EX", "3600")
				mustDo(t, rc, "SET", fmt.Sprintf("keep:%d", i), "x") // no TTL
			}
			for range 50 {
				for i := range 20 {
					mustDo(t, rc, "GET", fmt.Sprintf("hot:%d", i))
				}
			}
			for i := range 3000 {
				mustDo(t, rc, "SET", fmt.Sprintf("cold:%d", i), val, "EX", "3600")
			}
			if used := s.store.UsedMemory(); used > 1<<20+4096 {
				t.Fatalf("used memory %d over the limit", used)
			}
			if n := mustDo(t, rc, "DBSIZE").(int64); n > 1500 {
				t.Fatalf("DBSIZE %d: too few evictions", n)
			}
			for i := range 20 {
				if v, err := do(t, rc, "GET", fmt.Sprintf("hot:%d", i)); v != "x" {
					t.Fatalf("hot:%d evicted (%v)", i, err)
				}
				if policy == "volatile-lfu" {
					if v, err := do(t, rc, "GET", fmt.Sprintf("keep:%d", i)); v != "x" {
						t.Fatalf("keep:%d without TTL evicted (%v)", i, err)
					}
				}
			}
			if f := mustDo(t, rc, "OBJECT", "FREQ", "hot:0").(int64); f <= 5 {
				t.Fatalf("OBJECT FREQ hot:0 = %d after 50+ reads", f)
			}
		})
	}
}
