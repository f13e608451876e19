package server

import (
	"runtime"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// This file holds what cluster mode does about partitions: a node that is
// not in StateOK (still joining, or cut off from the majority of its
// table) answers CLUSTERDOWN for keyed commands, and a node drops its keys
// of every slot it loses, so that a slot that comes back never serves a
// stale copy. See docs/cluster.md "Partitions".

// down reports whether the node must not serve keys: no node yet, or its
// state is not ok (cluster.Node.State). A node that handed its slots over
// before leaving (not-member) is not down: it answers MOVED to the new
// owners until it stops.
func (cs *clusterState) down() bool { return cs.downAt(store.Mono()) }

// downAt is down by the clock reading now (a store.Mono reading, the
// cluster node's clock: cluster.Node.StateAt).
func (cs *clusterState) downAt(now int64) bool {
	n := cs.node.Load()
	if n == nil {
		return true
	}
	st := n.StateAt(now)
	return st != cluster.StateOK && (st != cluster.StateNotMember || !n.Leaving())
}

// stateName is the node's cluster.State name ("starting" before the node
// exists).
func (cs *clusterState) stateName() string {
	if n := cs.node.Load(); n != nil {
		return n.State().String()
	}
	return "starting"
}

// allowedWhenDown reports whether cmd is served even when the node is down:
// the shard-channel commands, as Redis's cluster-allow-pubsubshard-when-down
// (default yes) does.
func (cs *clusterState) allowedWhenDown(cmd *command) bool {
	switch cmd.name {
	case "spublish", "ssubscribe", "sunsubscribe":
		return true
	}
	return false
}

// dropLostSlots deletes every key of the given slots (the node lost them
// in a new table), logs and counts them. It runs on the cluster node's
// subscriber goroutine after the routing view has moved on, so no new write
// reaches those slots here (a command already past routing may still land;
// see docs/cluster.md). Each slot is flushed through its own key list
// (store.FlushSlot), so the cost is the keys dropped, not the store's size
// (walking the store per batch stalled the node's goroutine for seconds
// with a million keys, and the node counted itself paused). The drop is
// paced (dropPacer): 75,000 keys took 290 ms of CPU in one go and delayed
// every request of the node and of its neighbours on the machine. Nothing
// serves the slots meanwhile: routing moved on before the drop (with
// replication, the slots given up were also fenced: replState.sealSlots),
// and no table is applied while it runs (both run on the cluster loop).
func (cs *clusterState) dropLostSlots(lost []cluster.SlotRange) {
	st := cs.s.store
	nslots, dropped := 0, 0
	pace := newDropPacer()
	for _, r := range lost {
		for s := r.Start; s <= r.End; s++ {
			if st.ReplicaSlot(s) { // now a replica's copy: its snapshot replaces it
				continue
			}
			nslots++
			n := st.FlushSlot(s) // under the slot's shard lock, released here
			dropped += n
			if n > 0 {
				pace.step()
			}
		}
	}
	cs.lostKeys.Add(uint64(dropped))
	cs.s.log.Info("cluster: dropped the keys of lost slots", "slots", nslots, "ranges", len(lost), "keys", dropped)
}

// LostSlotKeys returns how many keys the node has dropped because their
// slots moved to another node (0 outside cluster mode).
func (s *Server) LostSlotKeys() uint64 {
	if s.cl == nil {
		return 0
	}
	return s.cl.lostKeys.Load()
}

// Pacing of long slot drops (dropPacer).
const (
	// dropWork is how long a drop runs before it rests.
	dropWork = 4 * time.Millisecond
	// dropRest is the rest after each dropWork: the drop takes at most a
	// quarter longer. It runs on the cluster loop, which must stay far from
	// the pause detector's 2 s (cluster: minPauseAfter) and apply the next
	// table soon.
	dropRest = time.Millisecond
	// dropRestMax bounds the rests of one drop: a drop of millions of keys
	// (seconds, more under -race) must not come near the pause detector
	// because of them.
	dropRestMax = 100 * time.Millisecond
)

// dropPacer spreads a drop of many slots: after each slot with keys the
// goroutine yields to the runnable ones (requests wait at most one slot's
// drop for this P, not the scheduler's 10 ms time slice), and after each
// dropWork of dropping it sleeps dropRest, leaving the CPU to other
// processes (the other nodes of a shared machine). The rests, as slept
// (a busy machine oversleeps), stay within a quarter of the work and
// about dropRestMax in all.
type dropPacer struct {
	now            func() time.Time
	sleep          func(time.Duration)
	yield          func()
	since          time.Time     // start of the current work period
	worked, rested time.Duration // in all
}

func newDropPacer() *dropPacer {
	return &dropPacer{now: time.Now, sleep: time.Sleep, yield: runtime.Gosched, since: time.Now()}
}

// step is called after each slot dropped.
func (p *dropPacer) step() {
	now := p.now()
	d := now.Sub(p.since)
	if d < dropWork {
		p.yield()
		return
	}
	p.worked += d
	if p.rested*4 >= p.worked || p.rested >= dropRestMax { // an oversleep is paid back first
		p.since = now
		p.yield()
		return
	}
	p.sleep(dropRest)
	p.since = p.now()
	p.rested += p.since.Sub(now)
}
