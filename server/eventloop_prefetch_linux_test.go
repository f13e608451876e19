//go:build linux

package server

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
)

// readReply reads one RESP2 reply (arrays whole) as its raw text.
func readReply(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line := readLine(t, r)
	out := line + "\r\n"
	switch line[0] {
	case '$':
		if n, _ := strconv.Atoi(line[1:]); n >= 0 {
			out += readLine(t, r) + "\r\n"
		}
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range n {
			out += readReply(t, r)
		}
	}
	return out
}

// loopWarmed is the keys the loops of s warmed so far.
func loopWarmed(s *Server) uint64 {
	var n uint64
	for i := range s.loopBatches {
		n += s.loopBatches[i].warmed.Load()
	}
	return n
}

// TestEventLoopPrefetch: over real connections on the event loops, with
// warming forced on whatever the store's size, pipelines of mixed commands
// from three connections at once (each its own keys, a SELECT in the
// middle, the last request sent once the rest is answered) get the same replies as
// with prefetch-batch-max-size 0, the warm path ran (its key count, in
// INFO too), and with 0 it does not run.
func TestEventLoopPrefetch(t *testing.T) {
	from := prefetchFromBytes
	prefetchFromBytes = 0
	t.Cleanup(func() { prefetchFromBytes = from }) // also if the start fails
	s := startLoopServer(t, func(c *config.Config) { c.PrefetchBatchMaxSize = 16 })
	prefetchFromBytes = from
	if s.prefetchFrom != 0 {
		t.Fatalf("prefetchFrom %d, want the knob's 0", s.prefetchFrom)
	}
	script := func(prefix string) string {
		var b strings.Builder
		for i := range 60 {
			k := prefix + strconv.Itoa(i%20)
			b.WriteString(keysRESP("SET", k, strings.Repeat("x", i)))
			b.WriteString(keysRESP("GET", k))
			b.WriteString(keysRESP("INCR", "n:"+k))
			b.WriteString(keysRESP("RPUSH", "l:"+k, k))
			if i == 30 {
				b.WriteString(keysRESP("SELECT", "5"))
			}
			if i == 45 {
				b.WriteString(keysRESP("SELECT", "0"))
			}
		}
		b.WriteString(keysRESP("MGET", prefix+"1", prefix+"2"))
		b.WriteString(keysRESP("LRANGE", "l:"+prefix+"3", "0", "-1"))
		return b.String()
	}
	const requests = 60*4 + 2 + 2
	run := func() [3]string {
		admin := dialLoop(t, s)
		send(t, admin.nc, "FLUSHALL\r\n")
		expectLines(t, admin.r, "+OK")
		var conns [3]*loopClient
		for i := range conns {
			conns[i] = dialLoop(t, s)
		}
		// Each pipeline but its last request in one write, all three
		// before any reply is read; the last request once the others are
		// answered, so that it comes cut from the rest.
		var tails [3]string
		for i, lc := range conns {
			data := script("c" + strconv.Itoa(i) + ":")
			send(t, lc.nc, data[:len(data)-5])
			tails[i] = data[len(data)-5:]
		}
		var out [3]string
		for i, lc := range conns {
			var b strings.Builder
			for range requests - 1 {
				b.WriteString(readReply(t, lc.r))
			}
			send(t, lc.nc, tails[i])
			b.WriteString(readReply(t, lc.r))
			out[i] = b.String()
		}
		return out
	}
	// With warming: run until the warm path has run (a pipeline normally
	// arrives in one read; the poll covers a machine that splits it).
	var on [3]string
	deadline := time.Now().Add(10 * time.Second)
	for loopWarmed(s) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the event loops warmed no key")
		}
		on = run()
	}
	c := newClient(t, s, nil)
	info := infoFields(c.Info(context.Background(), "stats").Val())
	if n, _ := strconv.ParseUint(info["loop_prefetch_keys"], 10, 64); n == 0 {
		t.Fatalf("INFO loop_prefetch_keys %q, want > 0", info["loop_prefetch_keys"])
	}
	if n, _ := strconv.ParseUint(info["loop_wakeup_requests"], 10, 64); n < requests {
		t.Fatalf("INFO loop_wakeup_requests %q, want at least %d", info["loop_wakeup_requests"], requests)
	}
	if err := c.ConfigSet(context.Background(), "prefetch-batch-max-size", "0").Err(); err != nil {
		t.Fatal(err)
	}
	warmed := loopWarmed(s)
	off := run()
	if got := loopWarmed(s); got != warmed {
		t.Fatalf("prefetch-batch-max-size 0: the loops warmed %d more keys", got-warmed)
	}
	for i := range on {
		if on[i] != off[i] {
			t.Fatalf("connection %d: replies with warming differ from those without:\n%q\n%q", i, on[i], off[i])
		}
	}
	if !strings.HasSuffix(on[0], "*2\r\n$4\r\nc0:3\r\n$4\r\nc0:3\r\n") { // LRANGE l:c0:3: i = 3 and 23 in db 0 (43 in db 5)
		t.Fatalf("unexpected replies: %q", on[0][len(on[0])-200:])
	}
}
