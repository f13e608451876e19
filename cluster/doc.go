// Package cluster owns cluster membership, node identity and the slot
// ownership table of a cached cluster.
//
// Membership runs on hashicorp/memberlist (SWIM gossip): every node carries
// its 40-hex ID and announced RESP address in memberlist node meta. The
// cluster agrees on one [Table], an immutable snapshot mapping each of the
// [NumSlots] Redis Cluster slots to a preference list (primary first, then
// replicas on other nodes). The coordinator (the lowest live ID) computes the
// next table from the current one with [Plan] when members change: each node
// keeps a few contiguous ranges, roles stay balanced, and a join or leave
// moves about 1/N of the slots. Tables carry a version; they travel by
// gossip and every node adopts the newest. [BuildTable] is the bootstrap
// split used when there is no previous table.
//
// # Usage
//
//	n, err := cluster.New(cluster.Config{AnnounceHost: "10.0.0.5", AnnouncePort: 6379, Join: seeds})
//	if err != nil { ... }
//	defer n.Close()
//	n.Subscribe(func(t *cluster.Table) { /* react to a new table */ })
//	owner := n.Table().Owner(slot) // hot path: an atomic load
//
// # Partitions
//
// A node serves its slots only in [StateOK]: joined (if it has seeds),
// a member of its table, and seeing a majority of the table's members
// (Config.NodeTimeout of grace). Only a coordinator that sees (and, to drop
// members, pings) a majority plans, so a minority partition stops and the
// majority takes its slots. [Node.OnSlotsLost] reports the slots a node
// lost, so the caller drops their data. After a partition the join loop
// re-joins the members of past tables and the newer table wins. See
// docs/cluster.md "Partitions".
//
// # Staged moves
//
// This package moves no data itself (cluster/repl does). With
// Config.StageMoves (and replicas), a slot changes primary only once its new
// primary holds it: the coordinator publishes staged tables in which such a
// slot keeps its primary and names the new one its incoming member
// ([Table.Incoming], [Table.Holders]); the owner replicates held slots and
// reports which are live ([Node.ReportHeld]); the coordinator flips ready
// slots (the new primary's copy and the target row's replicas live) in
// batches. A replica that a new row drops keeps its copy as the
// slot's retained member ([Table.Retained]) until the row's new replicas
// report theirs live. [Node.BeginLeave] plans a leaving node out the same
// way before it closes. See docs/cluster.md "Moving slots without a miss".
// Without staging, a slot that changes owner starts empty on its new owner.
package cluster
