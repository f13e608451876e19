package server

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cached/cached/server/latency"
)

// Commands a hand-over held (docs/cluster.md "Pace and visibility"): a
// command of a slot changing hands waits a few milliseconds rather than
// bounce between the two nodes or get TRYAGAIN. These waits are most of
// what a move adds to clients' tail latency, so each is timed, by kind.

// waitKind is why a command waited for a hand-over.
type waitKind int

const (
	// waitFlip: the slot is being handed to this node and its old
	// primary's seal has not arrived (awaitFlip).
	waitFlip waitKind = iota
	// waitOwnerSealed: the slot's owner in this node's view has sealed it
	// or this node holds a newer table; routed again once the view
	// changes (ownerHandingOver).
	waitOwnerSealed
	// waitNextOwner: the slot is staged to this node, which has not
	// applied the table the owner sent the client here by (awaitNextOwner).
	waitNextOwner
	// waitFenced: the command was admitted before this node handed its
	// slot over and met the fence; it waits for the view that names the
	// new owner (fencedError).
	waitFenced
	numWaitKinds
)

var waitKindNames = [numWaitKinds]string{"flip", "owner_sealed", "next_owner", "fenced"}

// handoverWaits times the commands hand-overs held. The zero value is
// ready; safe for concurrent use.
type handoverWaits struct {
	all     latency.Histogram
	kind    [numWaitKinds]latency.Histogram
	nanos   [numWaitKinds]atomic.Uint64
	holding atomic.Int64 // commands held now: begun, not yet observed
}

// begin notes a command held from now and returns the start for observe.
func (w *handoverWaits) begin() time.Time {
	w.holding.Add(1)
	return time.Now()
}

// observe counts a command of kind k held since start (begin's).
func (w *handoverWaits) observe(k waitKind, start time.Time) {
	w.holding.Add(-1)
	d := time.Since(start)
	w.all.Observe(d)
	w.kind[k].Observe(d)
	w.nanos[k].Add(uint64(max(d, 0)))
}

// total returns the number of commands held and their time in all.
func (w *handoverWaits) total() (n uint64, d time.Duration) {
	for k := range numWaitKinds {
		n += w.kind[k].Total()
		d += time.Duration(w.nanos[k].Load())
	}
	return n, d
}

// waitPercentiles are the percentiles INFO migration gives of the waits.
var waitPercentiles = []float64{50, 99, 99.9}

// appendInfo writes INFO migration's wait fields: how many commands are
// held now, how many were, their time in all, and, once one was, how many
// of each kind (flip=…,owner_sealed=…,next_owner=…,fenced=…) and the
// percentiles of a wait in the latencystats format (p50=…,p99=…,p99.9=…,
// µs).
func (w *handoverWaits) appendInfo(b *strings.Builder) {
	n, d := w.total()
	field(b, "migration_commands_held", w.holding.Load())
	field(b, "migration_command_waits", n)
	field(b, "migration_command_wait_ms", d.Milliseconds())
	if n == 0 {
		return
	}
	kinds := make([]string, numWaitKinds)
	for k := range numWaitKinds {
		kinds[k] = waitKindNames[k] + "=" + strconv.FormatUint(w.kind[k].Total(), 10)
	}
	field(b, "migration_command_waits_by_kind", strings.Join(kinds, ","))
	b.WriteString("migration_command_wait_percentiles_usec:")
	appendPercentiles(b, &w.all, waitPercentiles)
	b.WriteString("\r\n")
}
