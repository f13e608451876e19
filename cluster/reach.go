package cluster

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// Direct reach: the majority rule counts a member only if this node heard
// from it lately, not only because memberlist still lists it alive.
//
// memberlist declares a peer dead only after its suspicion timeout, which
// grows with the cluster and which a node cut off from everyone cannot
// shorten (nobody confirms its suspicions): with 5 nodes a lone cut node
// saw its peers alive for 5–7 s, while the majority re-planned its slots
// after ~1.3 s and the cut node went on serving them. So every node sends
// every live peer a heartbeat (a user message carrying its ID) every probe
// interval, and a member counts for the majority only while its last
// heartbeat (or memberlist's report that it is alive) is at most
// reachWindow old; a cut node then stops after that window plus
// cluster-node-timeout (at most ~3.5 s; 3.09 s measured with 5 nodes) whatever the cluster's size. A heartbeat
// has no deadline: one that arrives late on a loaded machine still counts
// when it arrives, where a ping with a timeout would have failed.
//
// A heartbeat also tells the receiver that a member it had re-planned away
// is back in reach: the receiver pushes it the current table
// (catchUpLocked), so a cut that healed before the member noticed it ends
// within a heartbeat round (docs/cluster.md, "A cut shorter than the
// isolated node's detection").

// beatMagic opens a heartbeat message: beatMagic + the sender's node ID.
// Nodes of older builds ignore it (receive drops unknown messages).
const beatMagic = 'H'

// reachRounds is how many probe intervals may pass without a heartbeat
// before a member stops counting (3 s with the default 200 ms): lost
// packets and a slow moment on a loaded machine must not take the majority
// away. In-process 5-node tests under -race on the 2-core machine at load
// 20-28 showed gaps of up to 1.9 s between two heartbeats of a live peer
// (its sender or the receiving handler waited for a CPU); 1 s made such
// nodes flap, 2 s still did now and then.
const reachRounds = 15

// heardLocked reports whether member id sent a heartbeat (or was reported
// alive) within the reach window before now. n.mu must be held.
func (n *Node) heardLocked(id string, now time.Time) bool {
	t, ok := n.heard[id]
	return ok && now.Sub(t) < n.reachWindow
}

// receiveBeat stamps a heartbeat from member id. A member that counts
// again after its window ran out wakes the loop: the majority (and so the
// state and whether to plan) may have changed with no memberlist event.
func (n *Node) receiveBeat(id string) {
	now := time.Now()
	var push []byte
	var to *memberlist.Node
	n.mu.Lock()
	if _, ok := n.seen[id]; ok {
		back := !n.heardLocked(id, now)
		n.heard[id] = now
		if back {
			n.dirty = true
			n.wake()
		}
	}
	if push, to = n.catchUpLocked(id, now); push != nil {
		n.log.Info("cluster: pushing the slot table to a member back in reach that is not in it", "member", id,
			"version", n.table.Load().version)
	}
	n.mu.Unlock()
	if push != nil {
		n.pushTableTo(push, []*memberlist.Node{to})
	}
}

// catchUpEvery bounds how often a member outside the table that keeps
// sending heartbeats gets the table pushed (catchUpLocked).
const catchUpEvery = time.Second

// catchUpLocked decides whether a heartbeat from member id calls for our
// table to be pushed to it at once, and returns the encoded table and
// where to send it (nil if not). It does for a member that our table does
// not include although it was in an earlier one (n.known has its address):
// a member the majority re-planned away while it was cut off, and whose
// cut healed before its own heartbeat window ran out. Such a node never
// noticed the cut; it still routes by its old table, serving slots the
// majority gave to others, until a newer table reaches it, and memberlist
// gossip retransmits a table only for a few rounds after it is planned
// (after a 2 s cut of one node of 5, it kept its old table 43-1354 ms
// after the heal). Its first heartbeat after the heal, one probe interval
// at most, now brings it the table in one reliable send; the member then
// adopts it (it is newer) and drops the slots. At most once per
// catchUpEvery per member, and only for members not in the table, so a
// joining node (not known yet) and the members of the table cost nothing.
// n.mu must be held.
func (n *Node) catchUpLocked(id string, now time.Time) ([]byte, *memberlist.Node) {
	t := n.table.Load()
	if id == n.id || t.version == 0 || t.IndexOf(id) >= 0 || n.bannedLocked(id) {
		return nil, nil
	}
	addr := n.known[id]
	if m, ok := n.seen[id]; ok {
		addr = m.GossipAddr
	}
	if addr == "" || now.Sub(n.caughtUp[id]) < catchUpEvery {
		return nil, nil
	}
	to := gossipNode(id, addr)
	if to == nil {
		return nil, nil
	}
	if len(n.caughtUp) >= maxKnown {
		clear(n.caughtUp)
	}
	n.caughtUp[id] = now
	n.catchUps.Add(1)
	return *n.enc.Load(), to
}

// beatLoop sends a heartbeat to every live peer every probe interval until
// the node stops.
func (n *Node) beatLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(n.probeEvery)
	defer tick.Stop()
	msg := append([]byte{beatMagic}, n.id...)
	var to []memberlist.Address
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		// Addresses from our own view: memberlist's Members() hands out
		// nodes its handlers go on writing.
		to = to[:0]
		n.mu.Lock()
		for id, m := range n.seen {
			if id != n.id {
				to = append(to, memberlist.Address{Addr: m.GossipAddr, Name: id})
			}
		}
		n.mu.Unlock()
		for _, a := range to {
			_ = n.ml.SendToAddress(a, msg) // UDP; a lost one is what the window allows for
		}
	}
}
