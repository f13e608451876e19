package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBlockFIFOAfterTypeChange: two clients wait on a key that becomes a
// string, a hash, then a list; the first to block gets the element, even
// when the key was passed on to the second while it held another type.
// (The race it guards showed about once in a thousand runs under load:
// go test -race -count=2500 -run TestBlockFIFOAfterTypeChange ./server/.)
func TestBlockFIFOAfterTypeChange(t *testing.T) {
	s := startServer(t, nil)
	dial := func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) }
	p, c, d := dial(), dial(), dial()
	p.do(t, "FLUSHALL")
	c.send(t, "BLPOP", "tk", "0")
	waitUntil(t, func() bool { return blockedClients(t, p) == "1" }, func() string { return "1 blocked" })
	d.send(t, "BLPOP", "tk", "0")
	waitUntil(t, func() bool { return blockedClients(t, p) == "2" }, func() string { return "2 blocked" })
	p.do(t, "SET", "tk", "str")
	p.do(t, "APPEND", "tk", "more")
	p.do(t, "DEL", "tk")
	p.do(t, "HSET", "tk", "f", "v")
	blockedClients(t, p)
	p.do(t, "DEL", "tk")
	p.do(t, "RPUSH", "tk", "e1")
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out bytes.Buffer
	if err := listReadReply(c.r, &out); err != nil {
		r := &s.blocks
		r.mu.Lock()
		var st string
		for k, l := range r.keys {
			st += fmt.Sprintf("%v:", k)
			for _, b := range l {
				st += fmt.Sprintf(" id%d ready=%v wakepending=%d", b.c.id, b.ready, len(b.wake))
			}
		}
		r.mu.Unlock()
		t.Fatalf("first client not served: %v; registry %s; n=%d; type=%s; list=%s", err, st, r.n.Load(), p.do(t, "TYPE", "tk"), p.do(t, "LRANGE", "tk", "0", "-1"))
	}
}

// TestBlockServedFromKeyFilledFirstVsRedis: a client blocked on k1 k2 is
// served from the key a transaction filled first (k2), as redis-server.
func TestBlockServedFromKeyFilledFirstVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	run := func(dial func() *listRaw) []string {
		p, c := dial(), dial()
		p.do(t, "FLUSHALL")
		var out []string
		for _, cmd := range [][]string{
			{"BLPOP", "k1", "k2", "0"},
			{"BZPOPMIN", "z1", "z2", "0"},
			{"BLMPOP", "0", "2", "m1", "m2", "LEFT"},
		} {
			c.send(t, cmd...)
			waitUntil(t, func() bool { return blockedClients(t, p) == "1" }, func() string { return "1 blocked" })
			second, first := cmd[2], cmd[1]
			if cmd[0] == "BLMPOP" {
				second, first = cmd[4], cmd[3]
			}
			p.do(t, "MULTI")
			if cmd[0] == "BZPOPMIN" {
				p.do(t, "ZADD", second, "1", "b")
				p.do(t, "ZADD", first, "1", "a")
			} else {
				p.do(t, "RPUSH", second, "b")
				p.do(t, "RPUSH", first, "a")
			}
			p.do(t, "EXEC")
			out = append(out, c.read(t))
		}
		return out
	}
	want := run(func() *listRaw { return listDialRaw(t, "unix", sock) })
	got := run(func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) })
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cached %q\nredis  %q", got, want)
	}
	if !strings.Contains(want[0], "k2") {
		t.Fatalf("redis served %q, not from k2: the test no longer shows the order", want[0])
	}
}
