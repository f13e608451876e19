package server

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// blockScenario: clients block one after another (each is blocked before
// the next one sends), then another connection runs then; every blocked
// client still waiting afterwards is released with CLIENT UNBLOCK. The
// replies of all of them, of then, and the keys afterwards are compared
// with redis-server's byte for byte. All keys share the hash tag {t}, so a
// cluster node serves them too.
type blockScenario struct {
	block [][]string
	then  [][]string
	keys  []string
}

// blockScenarios covers repeated keys in every blocking command, a key
// waited on by several clients, and several keys filled by one EXEC (a
// client is served from the key filled first, as Redis serves its ready
// keys in order).
var blockScenarios = []blockScenario{
	{[][]string{{"BLPOP", "{t}a", "{t}b", "{t}b", "{t}a", "0"}}, [][]string{{"LPUSH", "{t}a", "x"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BLPOP", "{t}a", "{t}b", "{t}b", "{t}a", "0"}}, [][]string{{"LPUSH", "{t}b", "x", "y"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BLPOP", "{t}k", "{t}k", "0"}}, [][]string{{"LPUSH", "{t}k", "x"}}, []string{"{t}k"}},
	{[][]string{{"BRPOP", "{t}k", "{t}k", "0"}, {"BRPOP", "{t}k", "0"}}, [][]string{{"RPUSH", "{t}k", "x", "y", "z"}}, []string{"{t}k"}},
	{[][]string{{"BZPOPMIN", "{t}z", "{t}z", "0"}}, [][]string{{"ZADD", "{t}z", "1", "a", "2", "b"}}, []string{"{t}z"}},
	{[][]string{{"BZPOPMAX", "{t}z", "{t}y", "{t}z", "0"}, {"BZPOPMIN", "{t}y", "{t}z", "{t}y", "0"}}, [][]string{{"ZADD", "{t}z", "1", "a", "2", "b", "3", "c"}}, []string{"{t}z", "{t}y"}},
	{[][]string{{"BLMPOP", "0", "3", "{t}a", "{t}b", "{t}a", "LEFT", "COUNT", "2"}}, [][]string{{"RPUSH", "{t}a", "1", "2", "3"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BLMPOP", "0", "2", "{t}a", "{t}a", "RIGHT"}, {"BLMPOP", "0", "1", "{t}a", "LEFT", "COUNT", "5"}}, [][]string{{"RPUSH", "{t}a", "1", "2", "3"}}, []string{"{t}a"}},
	{[][]string{{"BZMPOP", "0", "2", "{t}z", "{t}z", "MAX", "COUNT", "5"}}, [][]string{{"ZADD", "{t}z", "1", "a", "2", "b"}}, []string{"{t}z"}},
	{[][]string{{"BZMPOP", "0", "3", "{t}y", "{t}z", "{t}y", "MIN"}, {"BZMPOP", "0", "1", "{t}z", "MIN", "COUNT", "2"}}, [][]string{{"ZADD", "{t}z", "1", "a", "2", "b", "3", "c"}}, []string{"{t}z", "{t}y"}},
	{[][]string{{"BLMOVE", "{t}k", "{t}k", "LEFT", "RIGHT", "0"}}, [][]string{{"RPUSH", "{t}k", "a", "b"}}, []string{"{t}k"}},
	{[][]string{{"BLMOVE", "{t}k", "{t}k", "RIGHT", "LEFT", "0"}, {"BLPOP", "{t}k", "0"}}, [][]string{{"RPUSH", "{t}k", "a", "b", "c"}}, []string{"{t}k"}},
	{[][]string{{"BRPOPLPUSH", "{t}k", "{t}k", "0"}, {"BRPOPLPUSH", "{t}k", "{t}d", "0"}}, [][]string{{"RPUSH", "{t}k", "a", "b"}}, []string{"{t}k", "{t}d"}},
	{[][]string{{"BLMOVE", "{t}k", "{t}d", "LEFT", "LEFT", "0"}, {"BLPOP", "{t}k", "0"}}, [][]string{{"SET", "{t}d", "s"}, {"RPUSH", "{t}k", "a", "b"}}, []string{"{t}k", "{t}d"}},
	// One EXEC fills several keys: served from the key filled first.
	{[][]string{{"BLPOP", "{t}a", "{t}b", "0"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}b", "x"}, {"RPUSH", "{t}a", "y"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BLPOP", "{t}a", "{t}b", "{t}b", "{t}a", "0"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}b", "x"}, {"RPUSH", "{t}a", "y"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BRPOP", "{t}a", "{t}b", "0"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}b", "x"}, {"RPUSH", "{t}a", "y"}, {"RPUSH", "{t}b", "z"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BZPOPMIN", "{t}y", "{t}z", "0"}}, [][]string{{"MULTI"}, {"ZADD", "{t}z", "1", "a"}, {"ZADD", "{t}y", "2", "b"}, {"EXEC"}}, []string{"{t}z", "{t}y"}},
	{[][]string{{"BLMPOP", "0", "2", "{t}a", "{t}b", "RIGHT", "COUNT", "2"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}b", "1"}, {"RPUSH", "{t}a", "2", "3"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	{[][]string{{"BZMPOP", "0", "2", "{t}y", "{t}z", "MAX", "COUNT", "2"}}, [][]string{{"MULTI"}, {"ZADD", "{t}z", "1", "a"}, {"ZADD", "{t}y", "2", "b", "3", "c"}, {"EXEC"}}, []string{"{t}z", "{t}y"}},
	// Each key goes first to the client blocked first on it.
	{[][]string{{"BLPOP", "{t}a", "0"}, {"BLPOP", "{t}b", "{t}a", "0"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}a", "x"}, {"RPUSH", "{t}b", "y"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	// A client behind another on a key waits for it across keys: the
	// second is served from a, left x2 by the first, not from b.
	{[][]string{{"BLPOP", "{t}a", "0"}, {"BLPOP", "{t}b", "{t}a", "0"}}, [][]string{{"MULTI"}, {"RPUSH", "{t}a", "x1", "x2"}, {"RPUSH", "{t}b", "y"}, {"EXEC"}}, []string{"{t}a", "{t}b"}},
	// A served BRPOPLPUSH fills a key a client behind it also waits on:
	// that client is served from the key signalled first (the one pushed
	// to by then), not from the one the BRPOPLPUSH filled (found by
	// TestScenarioVsRedis, seed 8018087076982933048).
	{[][]string{{"BRPOPLPUSH", "{t}d", "{t}a", "0"}, {"BLMPOP", "0", "3", "{t}e", "{t}d", "{t}a", "RIGHT"}}, [][]string{{"LPUSH", "{t}d", "v", "187"}}, []string{"{t}d", "{t}a"}},
	// A string written with a TTL already passed onto a key a client
	// waits on: the client's look leaves it to expiry, so DBSIZE still
	// counts it, as Redis's (TestScenarioVsRedis, seed
	// 9699844784898649750; the look deleted it).
	{[][]string{{"BRPOP", "{t}a", "{t}c", "0"}}, [][]string{{"SET", "{t}c", "749", "PXAT", "99999999999"}, {"DBSIZE"}}, []string{"{t}a"}},
	// A list client and a sorted set client blocked on one key.
	{[][]string{{"BZPOPMIN", "{t}k", "0"}, {"BLPOP", "{t}k", "{t}k", "0"}}, [][]string{{"RPUSH", "{t}k", "a"}}, []string{"{t}k"}},
	// Still blocked at the end: released by CLIENT UNBLOCK.
	{[][]string{{"BLPOP", "{t}a", "{t}a", "0"}, {"BZMPOP", "0", "2", "{t}z", "{t}z", "MIN"}}, [][]string{{"SET", "{t}a", "s"}, {"ZADD", "{t}a", "1", "m"}}, []string{"{t}a"}},
}

// TestBlockingRepeatedKeysVsRedis plays blockScenarios on redis-server,
// on cached and on a cached cluster node, in RESP2 and RESP3. Before the
// fix a repeated key killed the process (index out of range in
// readyFirst).
func TestBlockingRepeatedKeysVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	cs := startClusterNode(t, "", nil)
	targets := []struct {
		name string
		dial func() *listRaw
	}{
		{"redis", func() *listRaw { return listDialRaw(t, "unix", sock) }},
		{"cached", func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) }},
		{"cached-cluster", func() *listRaw { return listDialRaw(t, "tcp", cs.Addr()) }},
	}
	for _, resp := range []string{"2", "3"} {
		for i, sc := range blockScenarios {
			var want []string
			stillBlocked := -1
			for _, tg := range targets {
				got, blocked := playBlockScenario(t, tg.dial, resp, sc, stillBlocked)
				if tg.name == "redis" {
					want, stillBlocked = got, blocked
					continue
				}
				if !slicesEqualStr(want, got) {
					t.Fatalf("RESP%s scenario %d %q then %q on %s:\n redis:  %q\n %s: %q",
						resp, i, sc.block, sc.then, tg.name, want, tg.name, got)
				}
			}
		}
	}
}

// playBlockScenario runs sc on fresh connections from dial and returns
// every reply in order and the number of clients still blocked after then.
// settle >= 0 makes it wait until exactly that many are (cached serves
// woken clients on their own goroutines).
func playBlockScenario(t *testing.T, dial func() *listRaw, resp string, sc blockScenario, settle int) ([]string, int) {
	other := dial()
	other.do(t, "FLUSHALL")
	// A key written already expired stays until a look or the active
	// expiry finds it: off, so that DBSIZE does not race the cycle.
	other.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	var out []string
	var blocked []*listRaw
	var ids []string
	for i, cmd := range sc.block {
		c := dial()
		c.do(t, "HELLO", resp)
		ids = append(ids, strings.TrimSpace(strings.TrimPrefix(c.do(t, "CLIENT", "ID"), ":")))
		blkSend(t, c, cmd)
		listBlockedIn(t, other, i+1)
		blocked = append(blocked, c)
	}
	for _, cmd := range sc.then {
		out = append(out, other.do(t, cmd...))
	}
	if settle >= 0 {
		blkWaitBlocked(t, other, settle)
	}
	n := blkBlockedCount(t, other)
	for i, c := range blocked {
		out = append(out, other.do(t, "CLIENT", "UNBLOCK", ids[i]))
		out = append(out, blkRead(t, c))
	}
	for _, k := range sc.keys {
		typ := other.do(t, "TYPE", k)
		out = append(out, typ)
		switch typ {
		case "+list\r\n":
			out = append(out, other.do(t, "LRANGE", k, "0", "-1"))
		case "+zset\r\n":
			out = append(out, other.do(t, "ZRANGE", k, "0", "-1", "WITHSCORES"))
		case "+string\r\n":
			out = append(out, other.do(t, "GET", k))
		}
	}
	return out, n
}

func blkSend(t *testing.T, c *listRaw, args []string) {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := c.nc.Write(protocol.AppendCommand(nil, bs...)); err != nil {
		t.Fatal(err)
	}
}

func blkRead(t *testing.T, c *listRaw) string {
	t.Helper()
	var out bytes.Buffer
	if err := listReadReply(c.r, &out); err != nil {
		t.Fatalf("reading a blocked client's reply: %v (read so far %q)", err, out.String())
	}
	return out.String()
}

// blkBlockedCount reads blocked_clients from INFO clients.
func blkBlockedCount(t *testing.T, c *listRaw) int {
	t.Helper()
	info := c.do(t, "INFO", "clients")
	i := strings.Index(info, "blocked_clients:")
	if i < 0 {
		t.Fatalf("no blocked_clients in %q", info)
	}
	rest := info[i+len("blocked_clients:"):]
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, '\r')])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitBlockedCount polls until exactly n clients are blocked.
func blkWaitBlocked(t *testing.T, c *listRaw, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := blkBlockedCount(t, c)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clients blocked, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond) // polling the server state
	}
}

// TestBlockingTimeoutTextVsRedis: out-of-range timeouts answer as
// redis-server 7.0.15 does (its float-to-integer conversion makes a huge
// timeout "negative").
func TestBlockingTimeoutTextVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	cmds := [][]string{}
	for _, tmo := range []string{"1e300", "inf", "1e16", "9.3e15", "-1e300", "nan", "-1", "abc"} {
		cmds = append(cmds,
			[]string{"BZPOPMIN", "z", tmo}, []string{"BZPOPMAX", "z", "y", tmo}, []string{"BLPOP", "l", tmo},
			[]string{"BRPOP", "l", tmo}, []string{"BLMOVE", "l", "d", "LEFT", "LEFT", tmo}, []string{"BRPOPLPUSH", "l", "d", tmo},
			[]string{"BLMPOP", tmo, "1", "l", "LEFT"}, []string{"BZMPOP", tmo, "1", "z", "MIN"})
	}
	for _, cmd := range cmds {
		var got [2]string
		for j, c := range []*listRaw{listDialRaw(t, "unix", sock), listDialRaw(t, "tcp", s.Addr())} {
			got[j] = c.do(t, cmd...)
		}
		if got[0] != got[1] {
			t.Fatalf("%q:\n redis:  %q\n cached: %q", cmd, got[0], got[1])
		}
	}
	// A timeout too large for a Go duration but accepted by Redis blocks.
	c := listDialRaw(t, "tcp", s.Addr())
	probe := listDialRaw(t, "tcp", s.Addr())
	blkSend(t, c, []string{"BLPOP", "big", "9e15"})
	listBlockedIn(t, probe, 1)
	probe.do(t, "RPUSH", "big", "v")
	if got, want := blkRead(t, c), "*2\r\n$3\r\nbig\r\n$1\r\nv\r\n"; got != want {
		t.Fatalf("BLPOP with timeout 9e15 = %q, want %q", got, want)
	}
}
