package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// clientField returns the integer field name of a CLIENT LIST/INFO line.
func clientField(t *testing.T, line, name string) int64 {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s in %q: %v", name, line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", name, line)
	return 0
}

// clientLine returns the CLIENT LIST line of the client with the given id.
func clientLine(t *testing.T, c *listRaw, id int64) string {
	t.Helper()
	for _, l := range strings.Split(respValue(c.do(t, "CLIENT", "LIST")).(string), "\n") {
		if strings.HasPrefix(l, "id="+strconv.FormatInt(id, 10)+" ") {
			return l
		}
	}
	t.Fatalf("client %d not listed", id)
	return ""
}

func rawLen(args ...string) int64 {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return int64(len(protocol.AppendCommand(nil, bs...)))
}

// TestClientListBuffers checks the buffer fields of CLIENT LIST/INFO:
// qbuf (the commands read and not yet run), argv-mem (the running
// command's arguments), multi-mem (the queued MULTI commands), omem (a
// session's unsent output) and tot-mem (their sum).
func TestClientListBuffers(t *testing.T) {
	s := startServer(t, nil)
	a, b := listDialRaw(t, "tcp", s.Addr()), listDialRaw(t, "tcp", s.Addr())
	idA := respValue(a.do(t, "CLIENT", "ID"))
	id, _ := strconv.ParseInt(strings.TrimPrefix(idA.(string), ":"), 10, 64)

	self := respValue(a.do(t, "CLIENT", "INFO")).(string)
	if q, want := clientField(t, self, "qbuf"), rawLen("CLIENT", "INFO"); q != want {
		t.Errorf("qbuf %d, want %d (CLIENT INFO itself)", q, want)
	}
	if got := clientField(t, self, "argv-mem"); got != int64(len("CLIENTINFO")) {
		t.Errorf("argv-mem %d, want 10 (as redis-server)", got)
	}
	idle := clientLine(t, b, id)
	for _, f := range []string{"qbuf", "argv-mem", "multi-mem", "omem", "tot-mem"} {
		if v := clientField(t, idle, f); v != 0 {
			t.Errorf("idle client: %s=%d, want 0", f, v)
		}
	}

	a.do(t, "MULTI")
	a.do(t, "SET", "k", "value")
	a.do(t, "RPUSH", "l", "a", "b", "c")
	line := clientLine(t, b, id)
	want := queuedSize([][]byte{[]byte("SET"), []byte("k"), []byte("value")}) +
		queuedSize([][]byte{[]byte("RPUSH"), []byte("l"), []byte("a"), []byte("b"), []byte("c")})
	if got := clientField(t, line, "multi-mem"); got != want || want < 20 {
		t.Errorf("multi-mem %d, want %d", got, want)
	}
	if got := clientField(t, line, "tot-mem"); got != want {
		t.Errorf("tot-mem %d, want %d", got, want)
	}
	a.do(t, "EXEC")
	if got := clientField(t, clientLine(t, b, id), "multi-mem"); got != 0 {
		t.Errorf("multi-mem after EXEC %d", got)
	}
}

// TestClientListOutputMemory fills a subscriber's output queue (it does not
// read) and checks that CLIENT LIST reports it in omem and tot-mem.
func TestClientListOutputMemory(t *testing.T) {
	s := startServer(t, nil)
	sub, b := listDialRaw(t, "tcp", s.Addr()), listDialRaw(t, "tcp", s.Addr())
	id, _ := strconv.ParseInt(strings.TrimPrefix(respValue(sub.do(t, "CLIENT", "ID")).(string), ":"), 10, 64)
	sub.do(t, "SUBSCRIBE", "ch")
	msg := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.do(t, "PUBLISH", "ch", msg)
		line := clientLine(t, b, id)
		if om := clientField(t, line, "omem"); om > 0 {
			if tot := clientField(t, line, "tot-mem"); tot < om {
				t.Fatalf("tot-mem %d < omem %d", tot, om)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("omem stayed 0: %s", line)
		}
	}
}
