// Package repl replicates the write effects of a node's slots to replicas:
// a per-slot ordered stream with a bounded backlog, snapshot plus stream
// for a replica that is new to a slot or too far behind, and
// acknowledgements for WAIT. It knows nothing of commands: records are
// opaque argument lists and snapshots opaque DUMP payloads; the store
// reaches it through [Primary.Append], [Snapshotter] and [Applier].
//
// # Model
//
// Every committed write unit (one command, one EXEC, one expiry) arrives at
// [Primary.Append] as records stamped with slot and a per-slot sequence
// number (gapless, from 1). Append encodes each record once, as the frame
// the replicas will receive, into a backlog of Config.BacklogSize and
// numbers it with a global index (1, 2, …, over all slots). It never waits
// for replicas: the backlog keeps what a connected replica was not sent
// yet beyond its size, up to Config.BufferHard (or BufferSoft for
// BufferSoftFor), and a replica that falls further behind is cut when the
// backlog drops what it still needs, and resyncs.
//
// For each slot the ring knows the newest sequence number and the lowest
// one a replica may hold and still continue from the ring ([Primary.LowWater]).
// A replica connects with REPLSYNC, naming per slot the last sequence number
// it applied (0 for none). Slots the ring can continue are streamed from
// there (no gap, no duplicate); the others are queued for snapshots. One
// goroutine per replica link alternates between catching up with the ring
// and sending one slot's snapshot: SNAP (the replica flushes the slot), one
// KEY per key, SNAPEND with the snapshot's sequence number S. Records of a
// slot are skipped while its snapshot is pending and, after it, those with
// Seq <= S; because the link's ring position stands still during the
// snapshot, every record of the slot the snapshot does not hold is still
// ahead of it. Snapshot bytes are rate-limited (Config.SnapshotRate), and
// snapshot work is paced between slots by a [Pacer] that a process's
// links and replicas share (about half of the time at most).
//
// The replica checks each slot's sequence: a record that is not the next
// one is a gap, and it asks for a snapshot of that slot (RESYNC) while the
// others go on; the primary does the same when its ring shows a hole. A
// failed Applier call is handled as a gap.
//
// # Acknowledgements and WAIT
//
// Replicas acknowledge the global index they have applied, every
// ReplicaConfig.AckInterval and when the primary asks (GETACK, sent by
// [Primary.Wait], and by a link whose snapshots in flight reach half of
// Config.SnapshotWindow: the count of snapshots loaded in the answer
// lets it send more). An acknowledgement of index i means: every record of
// the replica's live slots with index <= i is applied. A client's [Token]
// holds the index of its last record and the slots it wrote; a replica
// counts for it when it replicates all those slots, has loaded their
// snapshots, and acknowledged at least the index. [Primary.WaitInOrder]
// counts the acknowledged prefix of a list of replica IDs instead: given
// the order in which replicas would be promoted, an answer k means the
// write survives the loss of the primary and of the first k-1 of them. As
// Redis's WAIT, this says how many copies exist now; it is not consensus.
//
// # Usage
//
//	p, _ := repl.NewPrimary(repl.Config{BacklogSize: 64 << 20}, store)
//	store.OnCommit(func(unit []repl.Record) { idx := p.Append(unit); client.tok.Note(slot, idx) })
//	go p.Serve(ln)                         // or p.Handoff(conn, args) from the RESP port
//	n := p.Wait(ctx, client.tok, numreplicas)
//
//	r, _ := repl.NewReplica(repl.ReplicaConfig{Addr: primary, Slots: slots}, applier)
//	defer r.Close()
//
// # Goroutines
//
// A Primary owns two goroutines per replica link (sender, acknowledgement
// reader) and one per Serve call; a Replica owns one (dial, apply) plus an
// acknowledgement sender while connected. Close stops them all and waits.
package repl
