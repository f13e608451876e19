package server

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testBlockRelease releases the functions X-BLOCK schedules (a test
// installs a fresh channel).
var testBlockRelease atomic.Pointer[chan struct{}]

// sessionTestCommands are X-DETACH and X-BLOCK, in the tables of servers
// started by startSessionServer only (the README test checks the others).
var sessionTestCommands = []spec{
	// X-DETACH detaches the connection and replies +OK.
	{name: "x-detach", arity: 1, flags: "fast", group: "connection", since: "0.0.0",
		summary: "Test only: detaches the connection onto a session.", complexity: "O(1)",
		fn: func(c *client, _ [][]byte) { c.detach(); c.OK() }},
	// X-BLOCK arg replies arg once testBlockRelease is closed (or
	// nothing if the client goes first), from a runBlocked function.
	{name: "x-block", arity: 2, flags: "fast", group: "connection", since: "0.0.0",
		summary: "Test only: blocks on the session executor.", complexity: "O(1)",
		fn: func(c *client, args [][]byte) {
			ss := c.detach()
			arg := append([]byte(nil), args[1]...)
			var release chan struct{}
			if p := testBlockRelease.Load(); p != nil {
				release = *p
			}
			ss.runBlocked(func() {
				select {
				case <-release:
					c.Bulk(arg)
				case <-ss.gone():
				}
			})
		}},
}

// startSessionServer is startServer with the session test commands.
func startSessionServer(t *testing.T) *Server {
	t.Helper()
	testCommands = sessionTestCommands // tests run one at a time
	defer func() { testCommands = nil }()
	return startServer(t, nil)
}

// dialRaw opens a plain TCP connection to s, closed when the test ends.
func dialRaw(t *testing.T, s *Server) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

func sendRaw(t *testing.T, nc net.Conn, data string) {
	t.Helper()
	if _, err := nc.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

// expectRaw reads exactly len(want) bytes and compares them.
func expectRaw(t *testing.T, nc net.Conn, want string) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	n, err := io.ReadFull(nc, got)
	if err != nil {
		t.Fatalf("read: %v after %q, want %q", err, got[:n], want)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// expectEOF reads until the server closes the connection.
func expectEOF(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open: %v", err)
		}
		return
	}
}

func clientCount(s *Server) func() bool {
	return func() bool { return s.clients.count() == 0 }
}

func TestSessionPipelineInOrder(t *testing.T) {
	s := startSessionServer(t)
	nc := dialRaw(t, s)
	// Replies of commands before the detaching one, in the same batch,
	// come first; the commands pipelined after it run on the session.
	sendRaw(t, nc, "PING\r\nX-DETACH\r\nECHO a\r\nSET k v\r\nGET k\r\nX-DETACH\r\n")
	expectRaw(t, nc, "+PONG\r\n+OK\r\n$1\r\na\r\n+OK\r\n$1\r\nv\r\n+OK\r\n")
	var cmds, want strings.Builder
	for i := 1; i <= 300; i++ {
		cmds.WriteString("INCR n\r\n")
		want.WriteString(":" + strconv.Itoa(i) + "\r\n")
	}
	sendRaw(t, nc, cmds.String())
	expectRaw(t, nc, want.String())
	// Errors and multi-bulk requests with binary arguments.
	sendRaw(t, nc, "*3\r\n$3\r\nSET\r\n$2\r\nb\x00\r\n$3\r\n\r\n\x01\r\n*2\r\n$3\r\nGET\r\n$2\r\nb\x00\r\nNOPE\r\n")
	expectRaw(t, nc, "+OK\r\n$3\r\n\r\n\x01\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n")
	if !s.clients.list()[0].detached.Load() {
		t.Fatal("client not detached")
	}
}

func TestSessionQuitAndReset(t *testing.T) {
	s := startSessionServer(t)
	nc := dialRaw(t, s)
	sendRaw(t, nc, "X-DETACH\r\nPING\r\nRESET\r\nQUIT\r\nPING\r\n")
	expectRaw(t, nc, "+OK\r\n+PONG\r\n+RESET\r\n+OK\r\n")
	expectEOF(t, nc)
	waitUntil(t, clientCount(s), func() string { return "client still registered" })
}

func TestSessionClientKill(t *testing.T) {
	s := startSessionServer(t)
	rc := newClient(t, s, nil)
	nc := dialRaw(t, s)
	sendRaw(t, nc, "X-DETACH\r\nCLIENT ID\r\n")
	expectRaw(t, nc, "+OK\r\n")
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	n, err := nc.Read(buf)
	if err != nil || buf[0] != ':' {
		t.Fatalf("CLIENT ID: %q %v", buf[:n], err)
	}
	id := strings.TrimSpace(string(buf[1:n]))
	if got := mustDo(t, rc, "CLIENT", "KILL", "ID", id); got != int64(1) {
		t.Fatalf("CLIENT KILL = %v", got)
	}
	expectEOF(t, nc)
	waitUntil(t, func() bool { return s.clients.count() == 1 }, func() string { return "killed client still registered" })
}

func TestSessionKillSelf(t *testing.T) {
	s := startSessionServer(t)
	nc := dialRaw(t, s)
	sendRaw(t, nc, "X-DETACH\r\nCLIENT KILL SKIPME no\r\nPING\r\n")
	expectRaw(t, nc, "+OK\r\n:1\r\n")
	expectEOF(t, nc)
	waitUntil(t, clientCount(s), func() string { return "client still registered" })
}

func TestSessionRunBlocked(t *testing.T) {
	s := startSessionServer(t)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "PING")
	release := make(chan struct{})
	testBlockRelease.Store(&release)
	gone := dialRaw(t, s)
	sendRaw(t, gone, "X-BLOCK z\r\n")
	nc := dialRaw(t, s)
	sendRaw(t, nc, "X-BLOCK a\r\nPING\r\n")
	waitUntil(t, func() bool { return s.clients.count() == 3 }, func() string { return "clients" })
	// A blocked client that disconnects leaves: the reader sees it.
	_ = gone.Close()
	waitUntil(t, func() bool { return s.clients.count() == 2 }, func() string { return "gone client still registered" })
	// The other one is still blocked: nothing to read yet, other clients run.
	mustDo(t, rc, "SET", "x", "1")
	close(release)
	expectRaw(t, nc, "$1\r\na\r\n+PONG\r\n")
}

func TestSessionCloseServer(t *testing.T) {
	s := startSessionServer(t)
	var conns []net.Conn
	for i := 0; i < 4; i++ {
		nc := dialRaw(t, s)
		sendRaw(t, nc, "X-DETACH\r\n")
		expectRaw(t, nc, "+OK\r\n")
		conns = append(conns, nc)
	}
	blocked := dialRaw(t, s)
	sendRaw(t, blocked, "X-DETACH\r\nX-BLOCK q\r\n")
	expectRaw(t, blocked, "+OK\r\n")
	conns = append(conns, blocked)
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done: // Close waits for s.wg: every session goroutine has ended
	case <-time.After(20 * time.Second):
		t.Fatal("Server.Close did not return with detached clients")
	}
	for _, nc := range conns {
		expectEOF(t, nc)
	}
	if n := s.clients.count(); n != 0 {
		t.Fatalf("%d clients registered after Close", n)
	}
}

func TestSessionOutputLimitNormal(t *testing.T) {
	s := startSessionServer(t)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "client-output-buffer-limit", "normal 1000 0 0")
	if got := mustDo(t, rc, "CONFIG", "GET", "client-output-buffer-limit"); !strings.Contains(toString(got), "normal 1000 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60") {
		t.Fatalf("CONFIG GET = %v", got)
	}
	nc := dialRaw(t, s)
	sendRaw(t, nc, "X-DETACH\r\n")
	expectRaw(t, nc, "+OK\r\n")
	sendRaw(t, nc, "ECHO "+strings.Repeat("x", 900)+"\r\n") // under the limit
	expectRaw(t, nc, "$900\r\n"+strings.Repeat("x", 900)+"\r\n")
	sendRaw(t, nc, "ECHO "+strings.Repeat("x", 2000)+"\r\n")
	expectEOF(t, nc)
	waitUntil(t, func() bool { return s.clients.count() == 1 }, func() string { return "client over its limit still registered" })
	if s.outLimitDrops.Load() != 1 {
		t.Fatalf("limitDrops = %d", s.outLimitDrops.Load())
	}
}

// toString flattens a CONFIG GET reply (a map in RESP3) for a Contains check.
func toString(v any) string {
	switch x := v.(type) {
	case map[any]any:
		var b strings.Builder
		for k, val := range x {
			b.WriteString(toString(k) + " " + toString(val) + " ")
		}
		return b.String()
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(toString(e) + " ")
		}
		return b.String()
	case string:
		return x
	}
	return ""
}

func TestOutputLimitsConfigSetErrors(t *testing.T) {
	s := startSessionServer(t)
	rc := newClient(t, s, nil)
	wantErr(t, rc, "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.",
		"CONFIG", "SET", "client-output-buffer-limit", "normal 1")
	wantErr(t, rc, "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.",
		"CONFIG", "SET", "client-output-buffer-limit", "master 1 1 1")
	wantErr(t, rc, "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.",
		"CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 1 x")
	mustDo(t, rc, "CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0")
	if l := s.outputLimit(classPubSub); l.Hard != 1<<20 || l.Soft != 0 {
		t.Fatalf("pubsub limit = %+v", l)
	}
}

// TestSessionIdleTimeout: the idle timeout closes an idle detached client
// but spares subscribed and blocked ones, as Redis.
func TestSessionIdleTimeout(t *testing.T) {
	s := startSessionServer(t)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "timeout", "1")
	idle := dialRaw(t, s)
	sendRaw(t, idle, "X-DETACH\r\n")
	expectRaw(t, idle, "+OK\r\n")
	sub := dialRaw(t, s)
	sendRaw(t, sub, "SUBSCRIBE c\r\n")
	expectRaw(t, sub, "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n")
	release := make(chan struct{})
	testBlockRelease.Store(&release)
	blocked := dialRaw(t, s)
	sendRaw(t, blocked, "X-BLOCK b\r\n")
	expectEOF(t, idle) // after about a second
	// Let another timeout period pass for the others: the subscriber still
	// answers after it, and so does the blocked client once released.
	deadline := time.Now().Add(1500 * time.Millisecond)
	waitUntil(t, func() bool { return time.Now().After(deadline) }, func() string { return "time" })
	sendRaw(t, sub, "PING\r\n")
	expectRaw(t, sub, "*2\r\n$4\r\npong\r\n$0\r\n\r\n")
	close(release)
	expectRaw(t, blocked, "$1\r\nb\r\n")
}
