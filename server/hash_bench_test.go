package server

import (
	"fmt"
	"testing"
)

// Server-level benchmarks of hash and set writes on one big key each (as
// redis-benchmark's HSET and SADD tests do), through the TCP path.

func BenchmarkServerHSET(b *testing.B) {
	benchPipeline(b, 4, func(i int) []byte {
		f := fmt.Sprintf("element:%d", i%100000)
		return fmt.Appendf(nil, "*4\r\n$4\r\nHSET\r\n$6\r\nmyhash\r\n$%d\r\n%s\r\n$3\r\nxyz\r\n", len(f), f)
	})
}

func BenchmarkServerSADD(b *testing.B) {
	benchPipeline(b, 4, func(i int) []byte {
		m := fmt.Sprintf("element:%d", i%100000)
		return fmt.Appendf(nil, "*3\r\n$4\r\nSADD\r\n$5\r\nmyset\r\n$%d\r\n%s\r\n", len(m), m)
	})
}
