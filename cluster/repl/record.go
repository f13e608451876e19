package repl

import (
	"errors"
	"time"
)

// NumSlots is the number of Redis Cluster slots a stream can carry.
const NumSlots = 16384

// Record is one write effect of one slot: a deterministic command (for
// example SET k v PXAT 123) stamped with the slot it belongs to and the
// slot's sequence number. Sequence numbers are gapless and increasing per
// slot, starting at 1.
type Record struct {
	Slot int      // 0..NumSlots-1
	Seq  uint64   // per-slot sequence number, the first effect of a slot is 1
	DB   int      // database the command runs in
	Args [][]byte // the command and its arguments
}

// Snapshotter is the primary's view of the store: it copies one slot.
//
// Snapshot calls emit once for every key of slot, exactly as of sequence
// number seq, which it returns: the keys hold precisely the effects of slot
// with Seq <= seq. payload is the key's value in an encoding the replica's
// Applier.Restore reads (opaque here; the server's is rdb's snapshot
// payload) and pexpireAt its absolute expiry in Unix milliseconds, 0 for
// none.
// The payload is head followed by body: a Snapshotter can pass bytes it
// holds under its lock (a large value) as body, and emit copies them once,
// where building the payload first would copy them twice.
//
// Or it lends body: with release non-nil, body stays valid and unchanged
// after emit returns, until release is called (a large value the store
// shares copy-on-write). emit then does not copy it: the link writes the
// key's frame after Snapshot returns, straight from body, and calls
// release once it is written or the link gave up; release is called
// exactly once even when emit returns an error. Lent keys reach the
// replica after the slot's other keys (their order within a snapshot does
// not matter). emit does not retain key or head, nor body unless lent.
//
// emit buffers up to Config.SnapshotBuffer bytes of keys not lent (256
// MiB by default), which the link writes after Snapshot returns; past
// that it blocks while the rate limit or the network makes it wait, so a
// Snapshot that holds locks writers need while calling emit stalls them
// only for slots larger than that buffer (copy the slot's keys first to
// avoid it). An error from emit must be returned by Snapshot, which then stops.
// Snapshot is called from the link's goroutine, one slot at a time per
// link, and concurrently for different links.
type Snapshotter interface {
	Snapshot(slot int, emit func(db int, key, head, body []byte, pexpireAt int64, release func()) error) (seq uint64, err error)
}

// Owner may be implemented by a Snapshotter: Owns reports whether this
// node is the slot's primary, whose stream numbers the slot. A replica may
// ask for a slot before this node owns it (it applied the table first, or
// the slot is being handed over to this node), so a link waits up to
// OwnWait for the node to own a slot before it snapshots it (then it fails
// with ErrNotOwner, and the replica asks again after a reconnect), and
// before its handshake decides for a slot presented at a position the
// backlog cannot continue yet: when a slot is handed over with a seal, a
// replica that stays in its row follows it from the new primary at the
// old primary's sealed position, which the new primary adopts (Adopt)
// only once it owns the slot.
type Owner interface {
	Owns(slot int) bool
}

// OwnWait is how long a link waits for its Snapshotter to own a slot
// (Owner).
const OwnWait = time.Second

// ErrNotOwner fails a snapshot of a slot the Snapshotter did not own
// within OwnWait.
var ErrNotOwner = errors.New("repl: not the slot's primary")

// Members may be implemented by a Snapshotter: Member reports whether the
// replica named id is a member of the cluster as this node knows it. A
// handshake that presents positions (a copy it holds) from a replica that
// is not is refused with ErrNotMember: the process at the primary's
// address is of another cluster (a node started there without seeds
// forms one of its own, primary of every slot), and its snapshots would
// replace the replica's copies with its empty slots. The replica keeps
// its positions and dials again.
type Members interface {
	Member(id string) bool
}

// ErrNotMember refuses a handshake from a replica that is not a member of
// the Snapshotter's cluster (Members).
var ErrNotMember = errors.New("repl: the replica is not a member of this node's cluster")

// Applier is the replica's view of the store. A Replica calls it from its
// one goroutine, never concurrently for one Replica (several Replicas, one
// per primary, may share an Applier for disjoint slot sets).
//
// Apply applies one unit (one command, one EXEC, one expiry) in order; the
// records are those of the unit for the slots this replica holds, each
// Seq exactly one past the last applied or loaded for its slot. Apply
// must not keep the records' Args once it returns (the next frames reuse
// their memory), as a command handler keeps no client argument.
//
// A full sync of a slot is FlushSlot (drop every key of the slot), then
// Restore for every key, then SnapshotLoaded with the snapshot's sequence
// number, after which the slot's next record has Seq seq+1. A store that may
// later become primary for the slot continues its sequence from there.
// Restore must not keep key or payload: the next frame overwrites them.
//
// An error from any method makes the replica drop the slot's state and ask
// the primary for a new full sync of it.
type Applier interface {
	Apply(unit []Record) error
	FlushSlot(slot int) error
	Restore(slot, db int, key, payload []byte, pexpireAt int64) error
	SnapshotLoaded(slot int, seq uint64) error
}

// Errors.
var (
	// ErrClosed is returned by Primary and Replica methods called after Close.
	ErrClosed = errors.New("repl: closed")
	// ErrBehind ends a link whose replica fell behind the backlog: the
	// records it still needs were overwritten. The replica reconnects and
	// gets a snapshot of the slots it can no longer resume.
	ErrBehind = errors.New("repl: replica fell behind the backlog")
	// ErrAuth is returned to a replica whose handshake carries the wrong
	// secret (the primary closes the connection).
	ErrAuth = errors.New("repl: authentication failed")
	// ErrFrame is returned when a peer sends a frame this package does not
	// understand or that exceeds a limit; the connection is closed.
	ErrFrame = errors.New("repl: bad frame")
)
