package server

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/rdb"
)

// BenchmarkReplicaApply is one replication link's apply rate: a scripted
// primary on loopback TCP sends b.N frames, and a Replica applies them
// into a node's store through the server's applier. The values are 32
// bytes (redis-benchmark -d 32) and the keys of one hash-tag slot (as
// redis-benchmark --cluster writes them), so of one shard, as a hot
// slot's are.
//
//   - records: b.N records (SET, over 1,000,000 keys) after an empty
//     snapshot of the slot: what one link sustains for a primary's hot
//     slot (docs/performance.md "Replicas cut for a moment's lag");
//   - snapshot: a snapshot of the slot with b.N keys, as a joining node
//     loads one.
//
// cpu-ns/frame is the process's CPU time over the frames (the scripted
// primary's writes included), what the rate costs. BenchmarkReplApply
// measures the applier alone, without the connection and its frames.
//
//	go test -run '^$' -bench ReplicaApply -benchtime 2000000x ./server/
func BenchmarkReplicaApply(b *testing.B) {
	const tag = "{bench}"
	slot := store.KeySlot([]byte(tag))
	sl := []byte(strconv.Itoa(slot))
	val := []byte("0123456789abcdef0123456789abcdef")
	b.Run("records", func(b *testing.B) {
		stream := append(respRequest("SNAP", string(sl)), respRequest("SNAPEND", string(sl), "0", "1")...)
		var key []byte
		for i := 1; i <= b.N; i++ {
			key = fmt.Appendf(key[:0], "%s:key:%06d", tag, i%1000000)
			stream = appendFrameBytes(stream, []byte("REC"), strconv.AppendInt(nil, int64(i+1), 10), []byte("0"), sl,
				strconv.AppendInt(nil, int64(i), 10), []byte("0"), []byte("0"), []byte("SET"), key, val)
		}
		benchReplicaStream(b, slot, stream, uint64(b.N), fmt.Appendf(nil, "%s:key:%06d", tag, b.N%1000000), val)
	})
	b.Run("snapshot", func(b *testing.B) {
		payload, err := rdb.AppendSnapshot(nil, store.TypeString, val, nil)
		if err != nil {
			b.Fatal(err)
		}
		stream := respRequest("SNAP", string(sl))
		var key []byte
		for i := 1; i <= b.N; i++ {
			key = fmt.Appendf(key[:0], "%s:key:%08d", tag, i)
			stream = appendFrameBytes(stream, []byte("KEY"), sl, []byte("0"), key, payload, []byte("0"))
		}
		stream = append(stream, respRequest("SNAPEND", string(sl), "5", "1")...)
		benchReplicaStream(b, slot, stream, 5, fmt.Appendf(nil, "%s:key:%08d", tag, b.N), val)
	})
}

// benchReplicaStream has a Replica of slot, in a new node, read frames
// from a scripted primary (the handshake's answer, then frames, then
// silence) until the slot is live at seq, and checks that key holds val.
func benchReplicaStream(b *testing.B, slot int, frames []byte, seq uint64, key, val []byte) {
	s := startServer(b, nil)
	s.store.SetReplicaSlot(slot, true)
	stream := respRequest("OK", "7", "0", "1", strconv.Itoa(slot)) // primary 7: none resumed, slot in full
	stream = append(stream, frames...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	served, hold := make(chan error, 1), make(chan struct{})
	defer close(hold)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		go io.Copy(io.Discard, c) // REPLSYNC, then acknowledgements
		_, err = c.Write(stream)
		served <- err
		<-hold // the connection stays open until the benchmark ends
	}()

	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	r, err := repl.NewReplica(repl.ReplicaConfig{Addr: ln.Addr().String(), ID: "bench", Slots: []int{slot}}, newApplier(s))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if got, live := r.Applied(slot); live && got == seq {
			break
		}
		if time.Now().After(deadline) {
			got, live := r.Applied(slot)
			b.Fatalf("at %d of %d (live %v) after 5 minutes", got, seq, live)
		}
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if err := <-served; err != nil {
		b.Fatal(err)
	}
	if got, ok, _ := s.store.Get(0, key, nil); !ok || string(got) != string(val) {
		b.Fatalf("key %s = %q, %v at the end", key, got, ok)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "frames/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/frame")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// appendFrameBytes appends a RESP array of the byte strings.
func appendFrameBytes(dst []byte, args ...[]byte) []byte {
	dst = protocol.AppendArray(dst, len(args))
	for _, a := range args {
		dst = protocol.AppendBulk(dst, a)
	}
	return dst
}
