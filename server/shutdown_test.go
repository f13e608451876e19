package server

import (
	"runtime"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
)

// TestCloseLeavesNoGoroutines starts a node, drives it with several
// clients (some left connected, one mid-command), closes it and checks that
// every goroutine it started has ended.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := config.DefaultConfig()
	cfg.Port, cfg.Bind, cfg.LogLevel = 0, []string{"127.0.0.1"}, "warning"
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		nc, r := rawConn(t, s)
		send(t, nc, "SET k v\r\n")
		if got := readLine(t, r); got != "+OK" {
			t.Fatalf("got %q", got)
		}
	}
	nc, _ := rawConn(t, s)
	send(t, nc, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc") // left mid-command
	waitClients(t, s, 4)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
