package server

import (
	"bufio"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/script"
)

// benchScript is the benchmark's script: INCR and EXPIRE of one key.
const benchScript = "redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return 1"

// BenchmarkEvalSHA runs EVALSHA of benchScript over one connection,
// pipelined 16 deep, on random keys (compare: redis-benchmark -P 16
// EVALSHA sha 1 key:__rand_int__ 100 against redis-server).
func BenchmarkEvalSHA(b *testing.B) {
	s := startServer(b, nil)
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	sha := []byte(script.SHA1Hex([]byte(benchScript)))
	if _, err := s.scripts.Load([]byte(benchScript)); err != nil {
		b.Fatal(err)
	}
	const depth = 16
	var batch []byte
	for i := 0; i < depth; i++ {
		batch = protocol.AppendCommand(batch, []byte("EVALSHA"), sha, []byte("1"),
			[]byte("key:"+strconv.Itoa(i*7919%1000)), []byte("100"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += depth {
		if _, err := nc.Write(batch); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < depth; i++ {
			line, err := r.ReadSlice('\n')
			if err != nil || string(line) != ":1\r\n" {
				b.Fatalf("reply %q %v", line, err)
			}
		}
	}
}
