package server

import (
	"strings"
	"testing"
)

// clientInfoFields returns the named fields of a CLIENT INFO reply.
func clientInfoFields(raw string, names ...string) string {
	var out []string
	for _, f := range strings.Fields(respValue(raw).(string)) {
		for _, n := range names {
			if strings.HasPrefix(f, n+"=") {
				out = append(out, f)
			}
		}
	}
	return strings.Join(out, " ")
}

// TestResetVsRedis sets each piece of connection state, runs RESET and
// checks that cached and redis-server 7 agree on what is left: MULTI,
// WATCH, SELECT, the protocol, the name, NO-EVICT, subscriptions, CLIENT
// REPLY and authentication.
func TestResetVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	other := dialVsRedisPair(t, p.addr, p.sock, false)
	p.same(t, "FLUSHALL")
	info := func() {
		t.Helper()
		o, r := p.both(t, "CLIENT", "INFO")
		fields := []string{"flags", "db", "sub", "psub", "ssub", "multi", "name", "resp"}
		// U is redis-server's unix-socket flag (cached is reached over TCP).
		rf := strings.Replace(strings.Replace(clientInfoFields(r, fields...), "flags=U ", "flags=N ", 1), "flags=U", "flags=", 1)
		if of := clientInfoFields(o, fields...); of != rf {
			t.Errorf("CLIENT INFO after RESET: cached %q, redis %q", of, rf)
		}
	}
	for _, seq := range [][]string{
		{"MULTI", "SET k v", "RESET", "EXEC", "EXISTS k"},
		{"WATCH w", "RESET", "SET w 1", "MULTI", "PING", "EXEC"},
		{"SELECT 3", "SET in3 x", "RESET", "EXISTS in3", "SELECT 3", "EXISTS in3", "SELECT 0"},
		{"CLIENT NO-EVICT off"},
		{"CLIENT SETNAME n1", "RESET", "CLIENT GETNAME"},
		{"CLIENT NO-EVICT on", "RESET"}, // redis-server 7.0 keeps NO-EVICT (7.2 clears it)
		{"CLIENT NO-EVICT off"},
		{"CLIENT REPLY OFF", "SET r 1", "RESET", "GET r"},
		{"MULTI", "WATCH x", "RESET", "MULTI", "EXEC"},
	} {
		p.sameBatch(t, cmds(seq...)...)
		info()
	}
	p.both(t, "HELLO", "3") // its reply holds the client id
	p.sameBatch(t, cmds("RESET", "HGETALL none", "ZSCORE none m")...)
	info()
	// Subscriptions end silently; nothing is delivered afterwards.
	p.sameBatch(t, cmds("SUBSCRIBE a b", "PSUBSCRIBE p*", "SSUBSCRIBE s", "RESET")...)
	info()
	other.same(t, "PUBLISH", "a", "x")
	other.same(t, "PUBLISH", "pq", "x")
	other.same(t, "SPUBLISH", "s", "x")
	p.sameBatch(t, cmds("PING after")...)
	other.same(t, "PUBSUB", "NUMSUB", "a", "b")
	other.same(t, "PUBSUB", "NUMPAT")
	// In RESP3 too, with the subscriptions' pushes before RESET.
	p.both(t, "HELLO", "3")
	p.sameBatch(t, cmds("SUBSCRIBE c", "RESET")...)
	other.same(t, "PUBLISH", "c", "y")
	p.sameBatch(t, cmds("PING after3")...)
	info()
}

// TestResetAuthVsRedis checks that RESET logs the connection out when a
// password is required, as redis-server 7 does.
func TestResetAuthVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	p.same(t, "CONFIG", "SET", "requirepass", "pw")
	p.sameBatch(t, cmds("AUTH pw", "SET a 1", "RESET", "GET a", "AUTH pw", "GET a")...)
	p.sameBatch(t, append(cmds("RESET", "CLIENT SETNAME x", "AUTH nope", "AUTH pw"),
		[]string{"CONFIG", "SET", "requirepass", ""}, []string{"GET", "a"})...)
	// requirepass is off again: RESET keeps the connection usable.
	p.sameBatch(t, cmds("RESET", "GET a")...)
}
