package server

import (
	"bufio"
	"fmt"
	"net"
	"testing"
)

// benchPipeline drives one command over conns connections with pipeline
// depth 16 through the real TCP path: b.N commands in total.
func benchPipeline(b *testing.B, conns int, cmd func(i int) []byte) {
	s := startServer(b, nil)
	const depth = 16
	b.ReportAllocs()
	b.SetParallelism(conns)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Error(err)
			return
		}
		defer nc.Close()
		r := bufio.NewReaderSize(nc, 64*1024)
		var buf []byte
		i := 0
		for more := true; more; {
			buf = buf[:0]
			n := 0
			for ; n < depth; n++ {
				if !pb.Next() {
					more = false
					break
				}
				buf = append(buf, cmd(i)...)
				i++
			}
			if n == 0 {
				break
			}
			if _, err := nc.Write(buf); err != nil {
				b.Error(err)
				return
			}
			for j := 0; j < n; j++ {
				if err := skipReply(r); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}

// skipReply reads one simple, error, integer or bulk reply.
func skipReply(r *bufio.Reader) error {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if line[0] == '$' && line[1] != '-' {
		n := 0
		for _, ch := range line[1 : len(line)-2] {
			n = n*10 + int(ch-'0')
		}
		_, err = r.Discard(n + 2)
	}
	return err
}

func BenchmarkServerSET(b *testing.B) {
	val := make([]byte, 32)
	benchPipeline(b, 4, func(i int) []byte {
		k := fmt.Sprintf("key:%d", i%100000)
		return fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
	})
}

func BenchmarkServerGET(b *testing.B) {
	benchPipeline(b, 4, func(i int) []byte {
		k := fmt.Sprintf("key:%d", i%100)
		return fmt.Appendf(nil, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
	})
}
