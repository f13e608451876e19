package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
)

// rawConn dials s and returns the connection and a reader over it.
func rawConn(t testing.TB, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc, bufio.NewReader(nc)
}

func send(t testing.TB, nc net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(nc, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readLine(t testing.TB, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// expectClosed asserts the server closes the connection (EOF or reset).
func expectClosed(t testing.TB, r *bufio.Reader) {
	t.Helper()
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("connection still open, read %q", line)
	}
}

// waitClients polls until the server has n clients, or fails.
func waitClients(t testing.TB, s *Server, n int) {
	t.Helper()
	waitUntil(t, func() bool { return s.clients.count() == n },
		func() string { return fmt.Sprintf("clients = %d, want %d", s.clients.count(), n) })
}

func TestProtocolErrorsCloseConnection(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.ProtoMaxBulkLen = 1 << 20 })
	cases := []struct{ name, in, want string }{
		{"garbage multibulk", "*abc\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"huge multibulk", "*2000000\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"negative bulk", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk over proto-max-bulk-len", "*1\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length"},
		{"absurd bulk", "*1\r\n$99999999999999999999\r\n", "-ERR Protocol error: invalid bulk length"},
		{"missing dollar", "*1\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'P'"},
		{"inline too big", strings.Repeat("a", 70*1024), "-ERR Protocol error: too big inline request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, r := rawConn(t, s)
			send(t, nc, tc.in)
			if got := readLine(t, r); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			expectClosed(t, r)
		})
	}
	// The server still serves.
	nc, r := rawConn(t, s)
	send(t, nc, "PING\r\n")
	if got := readLine(t, r); got != "+PONG" {
		t.Fatalf("PING after errors: %q", got)
	}
}

func TestProtocolPipelineBeforeErrorIsAnswered(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	send(t, nc, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n*x\r\n")
	for _, want := range []string{"+OK", "+PONG", "-ERR Protocol error: invalid multibulk length"} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	expectClosed(t, r)
}

func TestInlineAndEmptyRequests(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	send(t, nc, "*0\r\n*-1\r\nSET greeting \"hello world\"\r\n\r\nGET greeting\r\nPING\r\n")
	for _, want := range []string{"+OK", "$11", "hello world", "+PONG"} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestUnknownCommandAndArity(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	send(t, nc, "FOO bar baz\r\nGET\r\nPING a b\r\nCLIENT NOPE\r\n")
	for _, want := range []string{
		"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ",
		"-ERR wrong number of arguments for 'get' command",
		"-ERR wrong number of arguments for 'ping' command",
		"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.",
	} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestDisconnectMidCommandLeavesNoTrace(t *testing.T) {
	s := startServer(t, nil)
	nc, _ := rawConn(t, s)
	send(t, nc, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
	waitClients(t, s, 1)
	_ = nc.Close()
	waitClients(t, s, 0)
	rc := newClient(t, s, nil)
	if n := mustDo(t, rc, "DBSIZE"); n != int64(0) {
		t.Fatalf("DBSIZE = %v after a cut request", n)
	}
}

func TestMaxClients(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxClients = 2 })
	a, ra := rawConn(t, s)
	b, rb := rawConn(t, s)
	for _, p := range []struct {
		nc net.Conn
		r  *bufio.Reader
	}{{a, ra}, {b, rb}} {
		send(t, p.nc, "PING\r\n")
		if got := readLine(t, p.r); got != "+PONG" {
			t.Fatalf("got %q", got)
		}
	}
	_, rc := rawConn(t, s)
	if got := readLine(t, rc); got != "-ERR max number of clients reached" {
		t.Fatalf("third client got %q", got)
	}
	expectClosed(t, rc)
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Timeout = 1 })
	_, r := rawConn(t, s)
	start := time.Now()
	expectClosed(t, r)
	if time.Since(start) > 15*time.Second {
		t.Fatal("idle client was not closed")
	}
}

func TestQueryBufferLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.ClientQueryBufferLimit = 1 << 20 })
	nc, r := rawConn(t, s)
	send(t, nc, "*2\r\n$4\r\nECHO\r\n$3000000\r\n")
	chunk := strings.Repeat("x", 64*1024)
	for i := 0; i < 40; i++ {
		if _, err := io.WriteString(nc, chunk); err != nil {
			break // closed by the server: what we want
		}
	}
	expectClosed(t, r)
}

func TestAuth(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RequirePass = "sekret" })
	nc, r := rawConn(t, s)
	send(t, nc, "GET k\r\nAUTH wrong\r\nAUTH default sekret\r\nPING\r\n")
	for _, want := range []string{
		"-NOAUTH Authentication required.",
		"-WRONGPASS invalid username-password pair or user is disabled.",
		"+OK",
		"+PONG",
	} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestOptionalBindAddressIsSkipped(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is not on this machine: listening on it fails,
	// and the '-' prefix makes that a warning, as in redis.conf.
	s := startServer(t, func(c *config.Config) { c.Bind = []string{"127.0.0.1", "-192.0.2.1"} })
	nc, r := rawConn(t, s)
	send(t, nc, "PING\r\n")
	if got := readLine(t, r); got != "+PONG" {
		t.Fatalf("got %q", got)
	}
	cfg := config.DefaultConfig()
	cfg.Port, cfg.Bind, cfg.LogLevel = 0, []string{"192.0.2.1"}, "nothing"
	if s2, err := Start(cfg); err == nil {
		s2.Close()
		t.Fatal("a required bind address that cannot be used did not fail start-up")
	}
}
