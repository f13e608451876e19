package cluster

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
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

// vacantSeedEvery is how often the join loop, finding no member missing,
// looks for seeds that no live member holds (vacantSeeds), and
// seedLookupTimeout bounds the name lookups of one such look, all seeds
// together.
const (
	vacantSeedEvery   = 5 * time.Second
	seedLookupTimeout = time.Second
)

// joinLoop first joins the seeds (if any) with back-off (joinBackoffMin
// doubling to joinBackoffMax) until one answers; the node counts as joined
// then. Afterwards it runs forever, until Close: whenever a member of a
// past table (or the seeds, when the node is alone) is missing from the
// live view, it tries to join them again with back-off (rejoinBackoffMin
// doubling to rejoinBackoffMax), so two sides of a healed partition find
// each other even after memberlist has forgotten the dead members; the
// newer table then wins on both sides. With no member missing it joins,
// every vacantSeedEvery, the seed addresses no live member holds: a node
// started there without seeds (a founder that left and was started
// again) founds a cluster of its own and would never dial anyone.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	backoff, resyncBackoff := joinBackoffMin, joinBackoffMin
	var seedsLooked time.Time // the last vacantSeeds
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
			// Cut off, a failed attempt backs off; the loop wakes this one
			// as soon as it sees the majority again (checkHealth).
			if n.resyncOnce() {
				resyncBackoff = joinBackoffMin
			} else {
				resyncBackoff = min(2*resyncBackoff, rejoinBackoffMax)
			}
			retry.Reset(resyncBackoff)
			continue
		}
		targets, restarted := n.rejoinTargets(joined)
		if len(targets) == 0 {
			if joined && time.Since(seedsLooked) >= vacantSeedEvery {
				seedsLooked = time.Now()
				n.joinVacantSeeds()
			}
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
		case err == nil && restarted:
			// Announced again every rejoinBackoffMin until planned out
			// (rejoinTargets).
			n.log.Debug("cluster: restarted node announced itself again", "tried", targets, "reached", c)
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
// missing, the node is alone or it is restarted, at most maxRejoin of
// them, chosen at random; and whether the node is restarted.
//
// A node restarted under its old ID at a new address (node_restart.go)
// is ignored by its peers while they still see the old process alive
// (memberlist keeps a live name's address); once they declare that one
// dead, they take the new address only from the node's own state, which
// a join's push/pull carries. Without joining again it waited for the
// next periodic push/pull (PushPullInterval, 5 s) to be planned out.
func (n *Node) rejoinTargets(joined bool) (targets []string, restarted bool) {
	if !joined {
		return n.seeds, false
	}
	n.mu.Lock()
	restarted = n.restarted
	for id, addr := range n.known {
		if _, live := n.seen[id]; !live && !n.gone[id] && !n.bannedLocked(id) {
			targets = append(targets, addr)
		}
	}
	alone := len(n.seen) <= 1
	n.mu.Unlock()
	if len(targets) > 0 || alone || restarted {
		for _, s := range n.seeds {
			if s != n.self.GossipAddr {
				targets = append(targets, s)
			}
		}
	}
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	return targets[:min(len(targets), maxRejoin)], restarted
}

// joinVacantSeeds joins the seed addresses that no live member holds
// (vacantSeeds), if there are any. It logs at info level only when the
// join brought a member: a seed name may resolve to an address no member
// announces (a proxy, a NAT), which every look then joins again.
func (n *Node) joinVacantSeeds() {
	addrs := n.vacantSeeds()
	if len(addrs) == 0 {
		return
	}
	before := n.numNodes.Load()
	c, err := n.Join(addrs)
	switch {
	case err != nil:
		n.log.Debug("cluster: nothing answers at seed addresses no member holds", "tried", addrs, "err", err)
	case n.numNodes.Load() > before:
		n.log.Info("cluster: joined a node at a seed address no member held", "tried", addrs, "reached", c)
	default:
		n.log.Debug("cluster: seed addresses no member holds reached no new member", "tried", addrs, "reached", c)
	}
}

// vacantSeeds returns the addresses the seeds resolve to that neither
// this node nor any live member holds as its gossip address, at most
// maxRejoin of them. A seed whose name does not resolve is skipped.
func (n *Node) vacantSeeds() []string {
	ctx, cancel := context.WithTimeout(context.Background(), seedLookupTimeout)
	defer cancel()
	var addrs []string
	for _, s := range n.seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			continue
		}
		if net.ParseIP(host) != nil {
			addrs = append(addrs, s)
			continue
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, port))
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	n.mu.Lock()
	held := map[string]bool{n.self.GossipAddr: true}
	for id, m := range n.seen {
		held[m.GossipAddr] = true
		if a := n.known[id]; a != "" {
			held[a] = true
		}
	}
	n.mu.Unlock()
	var vacant []string
	for _, a := range addrs {
		if !held[a] && !slices.Contains(vacant, a) {
			vacant = append(vacant, a)
		}
	}
	return vacant[:min(len(vacant), maxRejoin)]
}

// resyncOnce exchanges state (memberlist push/pull, which carries the slot
// table) with the members of the node's table, one at a time (those in
// the live view first), until a majority of them, this node included, has
// answered; then it clears resync and reports true: the node holds the
// newest table that majority knows, and the slots that table took away are
// marked lost before the loop lets the state turn ok. Members that left
// or are forgotten do not count, as in quorumLocked. A cut-off node's
// attempt fails (its minority peers are no majority) and resync stays.
func (n *Node) resyncOnce() bool {
	t := n.table.Load()
	n.mu.Lock()
	total, reached := 0, 0
	var live, other []string
	for _, m := range t.members {
		switch {
		case m.ID == n.id:
			total++
			reached++
			continue
		case n.gone[m.ID] || n.bannedLocked(m.ID):
			continue
		}
		total++
		addr := m.GossipAddr
		if a := n.known[m.ID]; a != "" {
			addr = a // its latest address
		}
		if _, ok := n.seen[m.ID]; ok {
			live = append(live, addr)
		} else {
			other = append(other, addr)
		}
	}
	n.mu.Unlock()
	shuffle := func(a []string) { rand.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] }) }
	shuffle(live)
	shuffle(other)
	for _, addr := range append(live, other...) {
		if 2*reached > total {
			break
		}
		if _, err := n.Join([]string{addr}); err == nil {
			reached++
		}
	}
	if 2*reached <= total && total > 0 {
		n.log.Debug("cluster: re-sync reached no majority, retrying", "reached", reached, "members", total)
		return false
	}
	n.resync.Store(false)
	n.wake()
	n.log.Info("cluster: re-synced with a majority", "reached", reached, "members", total, "version", n.table.Load().version)
	return true
}
