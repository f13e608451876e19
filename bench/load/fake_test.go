package load

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cached/cached/internal/freeport"
	"github.com/cached/cached/protocol"
)

// fakeServer is a tiny RESP server for tests: handle returns the reply
// bytes for one command, or nil to send nothing.
type fakeServer struct {
	ln     net.Listener
	handle func(conn *fakeConn, args [][]byte) []byte
	wg     sync.WaitGroup
	mu     sync.Mutex // protects conns
	conns  []net.Conn
}

// fakeConn is per-connection state a handler may use.
type fakeConn struct {
	asking bool
	close  bool // set by a handler: close the connection without replying to this command (see closeClean)
	stop   bool // set by a handler: also stop listening (later dials are refused)
	kill   bool // set by a handler: stop listening and close every connection (the node died)
}

func startFake(t *testing.T, handle func(*fakeConn, [][]byte) []byte) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, handle: handle}
	f.wg.Go(f.accept)
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

func (f *fakeServer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(c) })
	}
}

func (f *fakeServer) serve(c net.Conn) {
	defer c.Close()
	r := protocol.NewReader(c)
	st := &fakeConn{}
	var out []byte
	for {
		v, err := r.ReadValue()
		if err != nil {
			return
		}
		args := make([][]byte, len(v.Elems))
		for i, e := range v.Elems {
			args[i] = e.Str
		}
		out = append(out, f.handle(st, args)...)
		if st.stop || st.kill {
			f.ln.Close()
		}
		if st.kill {
			f.mu.Lock()
			for _, other := range f.conns {
				other.Close()
			}
			f.mu.Unlock()
		}
		if st.stop || st.kill {
			return
		}
		if st.close {
			closeClean(c, out)
			return
		}
		if r.Buffered() == 0 && len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

// closeClean writes the replies still pending, then closes the connection
// without losing them: it half-closes (the client reads them, then EOF) and
// discards what the client still sends until the client closes too. A plain
// Close with unread input would send a reset that can destroy replies
// already written, so the number of replies a client receives would depend
// on timing.
func closeClean(c net.Conn, pending []byte) {
	if len(pending) > 0 {
		if _, err := c.Write(pending); err != nil {
			return
		}
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	}
}

// kvStore is a trivial SET/GET store for fake servers.
type kvStore struct {
	mu sync.Mutex // protects m
	m  map[string]string
}

func (s *kvStore) do(args [][]byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	switch strings.ToUpper(string(args[0])) {
	case "SET":
		s.m[string(args[1])] = string(args[2])
		return []byte("+OK\r\n")
	case "GET":
		v, ok := s.m[string(args[1])]
		if !ok {
			return protocol.AppendNullBulk(nil)
		}
		return protocol.AppendBulkString(nil, v)
	case "PING":
		return []byte("+PONG\r\n")
	}
	return protocol.AppendError(nil, "ERR unknown command")
}

// startRedis starts /usr/bin/redis-server on a free port and returns its
// address; the process is killed when the test ends.
func startRedis(t testing.TB, extra ...string) string {
	t.Helper()
	bin := "/usr/bin/redis-server"
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("redis-server"); lerr == nil {
			bin = p
		} else {
			t.Fatalf("redis-server is required for this test (apt-get install redis-server; .ci/run installs it): %v", err)
		}
	}
	port := freePort(t)
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitReady(t, addr)
	return addr
}

// waitReady polls addr with PING until it answers, within 10 s.
func waitReady(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := protocol.Dial(addr, time.Second)
		if err == nil {
			_, err = c.DoStrings("PING") // any reply, even NOAUTH, means ready
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s not ready: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// do runs one command against addr.
func do(t *testing.T, addr string, args ...string) protocol.Value {
	t.Helper()
	c, err := protocol.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.DoStrings(args...)
	if err == nil {
		err = v.Err()
	}
	if err != nil && !errors.As(err, new(protocol.ReplyError)) {
		t.Fatal(err)
	}
	return v
}
