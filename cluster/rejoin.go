package cluster

import (
	"math/rand/v2"
	"time"
)

// Back-off bounds of the join loop: joining the seeds at start, and
// re-joining lost members afterwards.
const (
	joinBackoffMin   = 100 * time.Millisecond
	joinBackoffMax   = 5 * time.Second
	rejoinBackoffMin = time.Second
	rejoinBackoffMax = 10 * time.Second
)

// maxKnown bounds how many members' gossip addresses a node remembers for
// re-joining, and maxRejoin how many it contacts per attempt: every attempt
// costs at most maxRejoin dials.
const (
	maxKnown  = 1024
	maxRejoin = 8
)

// joinLoop first joins the seeds (if any) with back-off (joinBackoffMin
// doubling to joinBackoffMax) until one answers; the node counts as joined
// then. Afterwards it runs forever, until Close: whenever a member of a
// past table (or the seeds, when the node is alone) is missing from the
// live view, it tries to join them again with back-off (rejoinBackoffMin
// doubling to rejoinBackoffMax), so two sides of a healed partition find
// each other even after memberlist has forgotten the dead members; the
// newer table then wins on both sides.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	backoff := joinBackoffMin
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-retry.C:
		case <-n.joinKick:
			retry.Stop()
		}
		joined := n.joined.Load()
		if joined && n.resync.Load() {
			n.resyncOnce()
			retry.Reset(joinBackoffMin)
			continue
		}
		targets := n.rejoinTargets(joined)
		if len(targets) == 0 {
			backoff = rejoinBackoffMin
			retry.Reset(rejoinBackoffMin)
			continue
		}
		c, err := n.Join(targets)
		switch {
		case err == nil && !joined:
			n.joined.Store(true)
			n.wake()
			n.log.Info("cluster: joined", "seeds", targets, "reached", c)
			backoff = rejoinBackoffMin
		case err == nil:
			n.log.Info("cluster: re-joined lost members", "tried", targets, "reached", c)
		case !joined:
			n.log.Debug("cluster: join failed, retrying", "seeds", targets, "err", err, "in", backoff)
		default:
			n.log.Debug("cluster: re-join failed, retrying", "tried", targets, "err", err, "in", backoff)
		}
		retry.Reset(backoff)
		limit := joinBackoffMax
		if joined {
			limit = rejoinBackoffMax
		}
		backoff = min(2*backoff, limit)
	}
}

// rejoinTargets returns the addresses to join: the seeds before the node
// has joined; afterwards the gossip addresses of known members missing from
// the live view (neither left nor forgotten), plus the seeds if any is
// missing or the node is alone, at most maxRejoin of them, chosen at random.
func (n *Node) rejoinTargets(joined bool) []string {
	if !joined {
		return n.seeds
	}
	n.mu.Lock()
	var out []string
	for id, addr := range n.known {
		if _, live := n.seen[id]; !live && !n.gone[id] && !n.bannedLocked(id) {
			out = append(out, addr)
		}
	}
	alone := len(n.seen) <= 1
	n.mu.Unlock()
	if len(out) > 0 || alone {
		for _, s := range n.seeds {
			if s != n.self.GossipAddr {
				out = append(out, s)
			}
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(len(out), maxRejoin)]
}

// resyncOnce exchanges state (memberlist push/pull, which carries the slot
// table) with the known members after a pause, and clears resync once one
// answered: the node then holds the newest table they know.
func (n *Node) resyncOnce() {
	n.mu.Lock()
	var addrs []string
	for _, a := range n.known {
		addrs = append(addrs, a)
	}
	n.mu.Unlock()
	addrs = append(addrs, n.seeds...)
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	addrs = addrs[:min(len(addrs), maxRejoin)]
	if len(addrs) == 0 {
		n.resync.Store(false) // nobody to ask: a cluster of one
		n.wake()
		return
	}
	if c, err := n.Join(addrs); err == nil {
		n.resync.Store(false)
		n.wake()
		n.log.Info("cluster: re-synced after a pause", "reached", c)
	}
}
