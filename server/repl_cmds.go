package server

import (
	"context"
	"strings"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// replCommands declares WAIT and the node-to-node REPLSYNC.
func replCommands() []spec {
	return []spec{
		spec{name: "wait", arity: 3, flags: "noscript", group: "connection", since: "3.0.0",
			summary:    "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
			complexity: "O(1)", fn: waitCommand}.withTips("request_policy:all_shards response_policy:agg_min"),
		spec{name: "replsync", arity: -3, flags: "admin noscript stale", group: "cluster", since: "7.0.0",
			summary:    "cached internal: a replica's handshake; the connection becomes its replication stream.",
			complexity: "O(N) where N is the number of slots asked for", fn: replsyncCommand},
		{name: "role", arity: 1, flags: "noscript loading stale fast", acl: "admin dangerous", group: "server", since: "2.8.12",
			summary: "Returns the replication role.", complexity: "O(1)", fn: roleCommand},
	}
}

// noteWrite remembers the slot a write command touched, for WAIT; a
// keyless write over the whole keyspace (FLUSHALL, FLUSHDB) touched every
// slot this node is primary of (repl_flush.go).
func (c *client) noteWrite(cmd *command, args [][]byte) {
	if slot, n := c.commandSlot(cmd, args); n > 0 {
		c.wrote.Note(slot, 0)
	} else if rs := c.s.repl.Load(); cmd.keyspace && rs != nil {
		owned := rs.owned.Load()
		for slot := range store.Slots {
			if owned[slot] {
				c.wrote.Note(slot, 0)
			}
		}
	}
}

// waitCommand is WAIT numreplicas timeout: how many replicas hold every
// write this connection made (to the slots it wrote), counted in each
// slot's failover order (see replState.wait), waiting up to timeout ms (0:
// forever) for numreplicas of them. Inside EXEC it answers at once.
// The index waited for is the newest appended when WAIT runs, which covers
// every earlier write of the connection.
func waitCommand(c *client, args [][]byte) {
	n, ok := protocol.ParseInt(args[1])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	ms, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		c.Err(protocol.ErrTimeoutNeg)
		return
	}
	rs := c.s.repl.Load()
	if rs == nil { // no replication: no replica can acknowledge
		c.s.waitNoReplicas(c, n, ms)
		return
	}
	kept := ownedOnly(c.wrote, rs.owned.Load())
	moved := len(kept.Slots()) != len(c.wrote.Slots())
	c.wrote = kept
	if moved {
		// A write to a slot since given away may have missed the stream
		// (it committed after the seal): no copy of it can be vouched for.
		// This WAIT answers 0; the next ones count the slots still here.
		c.Int(0)
		return
	}
	tok := c.wrote
	if len(tok.Slots()) > 0 {
		tok.Index = rs.p.LastIndex()
	}
	if c.InExecTx() || n <= 0 {
		c.Int(int64(rs.wait(rs.ctx, tok, 0, false)))
		return
	}
	ctx := rs.ctx
	if ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	c.Int(int64(rs.wait(ctx, tok, int(min(n, 1<<20)), true)))
}

// ownedOnly returns tok without the slots this node no longer owns. Their
// writes left with the slot (handed over, or lost with it in a failover):
// this node's replicas cannot acknowledge them any more, and a pooled
// connection that once wrote such a slot would otherwise count 0 replicas
// at every WAIT from then on.
func ownedOnly(tok repl.Token, owned *[store.Slots]bool) repl.Token {
	keep := true
	for _, s := range tok.Slots() {
		keep = keep && owned[s]
	}
	if keep {
		return tok
	}
	var out repl.Token
	for _, s := range tok.Slots() {
		if owned[s] {
			out.Note(s, tok.Index)
		}
	}
	return out
}

// waitNoReplicas is WAIT without replication, as Redis 7 answers when no
// replica is connected: 0 at once for numreplicas <= 0 or inside
// MULTI/EXEC, else 0 after blocking for the whole timeout (0: until the
// server stops). The wait is on the connection's own goroutine.
func (s *Server) waitNoReplicas(c *client, n, ms int64) {
	if n > 0 && !c.InExecTx() {
		var timeout <-chan time.Time
		if ms > 0 {
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-timeout:
		case <-s.stop:
		}
	}
	c.Int(0)
}

// wait counts the copies of tok's writes in failover order: the slots
// are grouped by their replica list (a replica link carries some of a
// primary's slots, not all), a group's count is how many of its replicas,
// from the first in the slot's preference list, acknowledged (a replica
// counts only if every one before it did: Primary.WaitInOrder), and the
// answer is the smallest count of a group. The planner promotes a dead
// primary's slots to their first surviving replica in that list, so an
// answer k means the writes survive the loss of the primary and of up to
// k-1 replicas. A slot staged to an incoming member that this node sends
// it to (its snapshot sent, or its stream resumed: Primary.LiveAt) counts
// 0 until that member acknowledged too: it may take the slot over,
// without this node's seal if this node dies first, and it was marked
// (repl.Primary.SetMarks) as holding what WAIT counted from then on.
// Without block it does not wait.
func (rs *replState) wait(ctx context.Context, tok repl.Token, n int, block bool) int {
	if len(tok.Slots()) == 0 { // no writes: the connected replicas, as Redis
		if !block {
			return rs.p.Acked(tok)
		}
		return rs.p.Wait(ctx, tok, n)
	}
	type group struct {
		tok   repl.Token
		order []string // replica IDs in promotion order
		need  string   // the incoming member that must acknowledge too, or ""
	}
	v := rs.view.Load()
	groups := map[string]*group{}
	var buf []cluster.Member
	for _, slot := range tok.Slots() {
		var key strings.Builder
		buf = v.t.AppendPreference(buf[:0], slot)
		prefs := buf[1:]
		for _, m := range prefs {
			key.WriteString(m.ID)
		}
		need := ""
		if in, ok := v.t.Incoming(slot); ok && rs.p.LiveAt(in.ID, slot) {
			need = in.ID
			key.WriteString("+" + need)
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{order: make([]string, len(prefs)), need: need}
			for i, m := range prefs {
				g.order[i] = m.ID
			}
			groups[key.String()] = g
		}
		g.tok.Note(slot, tok.Index)
	}
	best := -1
	for _, g := range groups {
		var got int
		if block {
			got = rs.p.WaitInOrder(ctx, g.tok, g.order, g.need, n)
		} else {
			got = rs.p.AckedInOrder(g.tok, g.order, g.need)
		}
		if best < 0 || got < best {
			best = got
		}
	}
	return best
}

// replsyncCommand hands a replica's connection to the Primary: the
// connection leaves the RESP loop and carries the replication stream (the
// Primary answers the handshake itself).
func replsyncCommand(c *client, args [][]byte) {
	rs := c.s.repl.Load()
	nc := c.Conn.NetConn()
	if rs == nil || nc == nil || c.multi != nil || c.InExecTx() {
		c.Err("ERR replication is not enabled on this node")
		return
	}
	cp := make([][]byte, len(args))
	for i, a := range args {
		cp[i] = append([]byte(nil), a...)
	}
	cp[0] = []byte("REPLSYNC")
	c.Conn.Detach() // redcon lets go of the connection after this command; nothing is buffered past it
	_ = rs.p.Handoff(nc, cp)
}
