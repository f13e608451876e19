package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cached/cached/protocol"
)

// batch sends cmds in one write, then CLIENT REPLY ON and PING <end>, and
// returns every reply up to and including PING's: the replies a pipelined
// client receives.
func (c *listRaw) batch(t *testing.T, cmds ...[]string) string {
	t.Helper()
	var out []byte
	for _, cmd := range append(cmds, []string{"CLIENT", "REPLY", "ON"}, []string{"PING", "__end__"}) {
		bs := make([][]byte, len(cmd))
		for i, a := range cmd {
			bs[i] = []byte(a)
		}
		out = protocol.AppendCommand(out, bs...)
	}
	if _, err := c.nc.Write(out); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for !strings.HasSuffix(got.String(), "__end__\r\n") {
		if err := listReadReply(c.r, &got); err != nil {
			t.Fatalf("%q: %v (read %q)", cmds, err, got.String())
		}
	}
	return got.String()
}

// sameBatch runs a pipelined batch on both servers and compares the bytes.
func (p *vsRedisPair) sameBatch(t *testing.T, cmds ...[]string) string {
	t.Helper()
	o, r := p.ours.batch(t, cmds...), p.theirs.batch(t, cmds...)
	if o != r {
		t.Errorf("%q:\n cached %q\n  redis %q", cmds, o, r)
	}
	return o
}

func cmds(lines ...string) [][]string {
	out := make([][]string, len(lines))
	for i, l := range lines {
		out[i] = strings.Fields(l)
	}
	return out
}

// TestClientReplyVsRedis runs pipelined CLIENT REPLY ON/OFF/SKIP sequences
// on cached and redis-server 7 and compares the bytes the client receives,
// in RESP2 and RESP3.
func TestClientReplyVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		p := newVsRedisPair(t, resp3)
		p.same(t, "FLUSHALL")
		for _, seq := range [][]string{
			{"CLIENT REPLY OFF", "SET k 1", "GET k", "INCR k", "CLIENT REPLY ON", "GET k"},
			{"CLIENT REPLY SKIP", "PING a", "PING b"},
			{"CLIENT REPLY SKIP", "NOSUCH x", "PING c"},
			{"CLIENT REPLY SKIP", "GET", "PING d"},
			{"CLIENT REPLY SKIP", "CLIENT REPLY SKIP", "PING 1", "PING 2"},
			{"CLIENT REPLY SKIP", "CLIENT REPLY ON", "PING 3"},
			{"CLIENT REPLY OFF", "CLIENT REPLY SKIP", "PING z", "CLIENT REPLY ON", "PING w"},
			{"CLIENT REPLY OFF", "CLIENT REPLY maybe", "LPUSH l a", "CLIENT REPLY ON"},
			{"CLIENT REPLY maybe", "CLIENT REPLY", "CLIENT REPLY on extra"},
			{"CLIENT REPLY OFF", "MULTI", "INCR n", "EXEC", "CLIENT REPLY ON", "GET n"},
			{"MULTI", "CLIENT REPLY SKIP", "INCR n", "EXEC", "GET n"},
			{"CLIENT REPLY SKIP", "MULTI", "INCR n", "EXEC", "GET n"},
			{"CLIENT REPLY OFF", "RESET", "PING after-reset"},
			{"CLIENT REPLY SKIP", "RESET", "PING after-reset"},
			{"CLIENT REPLY OFF", "CLIENT REPLY OFF", "CLIENT REPLY ON", "CLIENT REPLY ON"},
			{"CLIENT REPLY OFF", "SUBSCRIBE", "PSUBSCRIBE p*", "PUNSUBSCRIBE", "UNSUBSCRIBE"},
			{"CLIENT REPLY SKIP", "SSUBSCRIBE s", "SUNSUBSCRIBE s"},
		} {
			p.sameBatch(t, cmds(seq...)...)
		}
	}
}

// TestClientReplyPushesVsRedis checks that a RESP3 subscriber with CLIENT
// REPLY OFF still receives messages, as redis-server 7.0.15 delivers them,
// while its own commands' replies are dropped.
func TestClientReplyPushesVsRedis(t *testing.T) {
	p := newVsRedisPair(t, true)
	pub := dialVsRedisPair(t, p.addr, p.sock, false)
	p.same(t, "SUBSCRIBE", "ch")
	for _, c := range []*listRaw{p.ours, p.theirs} {
		_, err := c.nc.Write(protocol.AppendCommand(nil, []byte("CLIENT"), []byte("REPLY"), []byte("OFF")))
		if err != nil {
			t.Fatal(err)
		}
	}
	pub.same(t, "PUBLISH", "ch", "m1")
	got := p.sameBatch(t, cmds("PING y")...)
	if !strings.Contains(got, "m1") || strings.Contains(got, "$1\r\ny") {
		t.Fatalf("subscriber with replies off got %q", got)
	}
}
