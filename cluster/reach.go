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
	n.mu.Lock()
	if _, ok := n.seen[id]; ok {
		back := !n.heardLocked(id, now)
		n.heard[id] = now
		if back {
			n.dirty = true
			n.wake()
		}
	}
	n.mu.Unlock()
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
