//go:build linux

package eventloop

import (
	"bufio"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// prepHost is a testHost that is Preparing: it counts Prepared calls and
// the prepared connections it found at each.
type prepHost struct {
	testHost
	calls    atomic.Int64
	prepared atomic.Int64 // handlers prepared and not yet served, summed over the calls
	pending  atomic.Int64 // handlers prepared and not yet served, now
}

func (h *prepHost) Prepared(loop int) {
	h.calls.Add(1)
	h.prepared.Add(h.pending.Load())
}

// prepHandler is a lineHandler that is a Preparer: Prepare reads, and the
// Serve(true) that follows takes what it read.
type prepHandler struct {
	*lineHandler
	host       *prepHost
	prepped    bool
	prepErr    error
	unprepared atomic.Int64 // Serve(true) calls not preceded by Prepare
}

func (h *prepHandler) Prepare() {
	var b [4096]byte
	n, err := h.k.Read(b[:])
	h.buf = append(h.buf, b[:n]...)
	h.prepped, h.prepErr = true, err
	h.host.pending.Add(1)
}

func (h *prepHandler) Serve(read bool) (Next, error) {
	if !read {
		return h.lineHandler.Serve(false)
	}
	if !h.prepped {
		h.unprepared.Add(1)
		return h.lineHandler.Serve(true)
	}
	h.prepped = false
	h.host.pending.Add(-1)
	switch err := h.prepErr; {
	case err == ErrWouldBlock:
		return Wait, nil
	case err != nil:
		return Close, err
	}
	return h.lineHandler.Serve(false)
}

// TestPrepareBeforeServe: with a Preparer handler and a Preparing host,
// every read of a ready connection is Prepare's, before any connection
// of the wake-up is served, and Prepared sees them all pending; the
// replies are as without it, and a connection's end (EOF read by
// Prepare) still closes it.
func TestPrepareBeforeServe(t *testing.T) {
	host := &prepHost{}
	set, err := Start(1, host)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var hs []*prepHandler
	var ncs []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		h := &prepHandler{lineHandler: &lineHandler{release: make(chan struct{}), resumed: make(chan struct{}, 8),
			closed: make(chan error, 1), handed: make(chan []byte, 1), wg: nil}, host: host}
		k, err := set.Adopt(sc.(*net.TCPConn), h)
		if err != nil {
			t.Fatal(err)
		}
		h.k = k
		k.Start()
		hs = append(hs, h)
		ncs = append(ncs, nc)
	}
	for round := range 50 {
		for _, nc := range ncs {
			if _, err := nc.Write([]byte("PING\nPING\n")); err != nil {
				t.Fatal(err)
			}
		}
		for i, nc := range ncs {
			r := bufio.NewReader(nc)
			for range 2 {
				line, err := r.ReadString('\n')
				if err != nil || line != "PONG\n" {
					t.Fatalf("round %d, connection %d: %q %v", round, i, line, err)
				}
			}
			if r.Buffered() > 0 {
				t.Fatalf("round %d, connection %d: more than two replies", round, i)
			}
		}
	}
	for i, h := range hs {
		if n := h.unprepared.Load(); n != 0 {
			t.Fatalf("connection %d: %d reads not prepared", i, n)
		}
	}
	if host.calls.Load() == 0 || host.prepared.Load() < host.calls.Load() {
		t.Fatalf("Prepared called %d times, seeing %d prepared connections", host.calls.Load(), host.prepared.Load())
	}
	_ = ncs[0].Close()
	select {
	case <-hs[0].closed:
	case <-time.After(30 * time.Second):
		t.Fatal("a connection whose end Prepare read was not closed")
	}
}
