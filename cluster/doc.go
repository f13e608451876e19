// Package cluster owns cluster membership, node identity and the slot
// ownership table of a cached cluster.
//
// Membership runs on hashicorp/memberlist (SWIM gossip): every node carries
// its 40-hex ID and announced RESP address in memberlist node meta. Each node
// turns the set of alive members it sees into a [Table], an immutable
// snapshot mapping each of the [NumSlots] Redis Cluster slots to a
// preference list (primary first, then replicas). The table is a pure
// function of the member set: rendezvous (highest random weight) hashing on
// xxhash of (node ID, slot), so nodes with the same view compute the same
// table, and when one node joins or leaves only the slots it owns or takes
// change owner.
//
// # Usage
//
//	n, err := cluster.New(cluster.Config{AnnounceHost: "10.0.0.5", AnnouncePort: 6379, Join: seeds})
//	if err != nil { ... }
//	defer n.Close()
//	n.Subscribe(func(t *cluster.Table) { /* react to a new table */ })
//	owner := n.Table().Owner(slot) // hot path: an atomic load
//
// This version moves no data: when a slot changes owner the new owner starts
// with no keys for it (cache misses). Replication and handoff come later.
package cluster
