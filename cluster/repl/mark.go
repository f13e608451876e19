package repl

import (
	"fmt"
	"slices"
)

// Marks (docs/cluster.md "Marks"). While a slot's move to another member
// is staged, that member (the incoming replica) may become the slot's
// primary, and if the old primary dies before its seal arrives it takes
// the slot over with what its copy has. WAIT counts replicas in failover
// order and, for a staged slot, the incoming replica too once this
// primary sends it the slot (the server's wait: from when its snapshot
// was sent, so WAIT waits for it to load). A MARK tells the incoming
// replica from when on that holds:
//
//   - The server names the slots staged to each member (SetMarks, with the
//     table's version).
//   - A link to such a member sends MARK version first last for those of
//     them that it sends (snapshot sent, or stream resumed), after every
//     record appended before it saw them so, once per version and copy (a
//     new snapshot of the slot is another copy). A slot's MARK follows its
//     SNAPEND on the stream: no round trip.
//   - The replica keeps the last version marked per slot (Replica.Marked)
//     and forgets it when the slot starts over (SNAP, FOLLOWED, a new
//     connection).
//
// So a replica marked for a slot holds every write appended before the
// mark, and every write after it was counted by WAIT only once the
// replica had it: its copy lacks no write a WAIT acknowledged.

// markWant is what SetMarks was last given.
type markWant struct {
	version uint64
	slots   map[string][]int // by replica ID, ascending
	gen     uint64           // grows with every SetMarks
}

// SetMarks names, for the table version, the slots of this primary that
// are staged to each member (by replica ID, ascending): a link to one of
// them sends MARK for each such slot it sends (LiveAt), once per version
// and copy. It replaces what an earlier call named; nil names none.
func (p *Primary) SetMarks(version uint64, slots map[string][]int) {
	p.mu.Lock()
	p.marks.version, p.marks.slots = version, slots
	p.marks.gen++
	for _, l := range p.links {
		l.poke()
	}
	p.mu.Unlock()
}

// LiveAt reports whether a link here sends slot to the replica named id:
// its snapshot was sent (its acknowledgements count for the slot once it
// loaded it), or its stream resumed.
func (p *Primary) LiveAt(id string, slot int) bool {
	for _, l := range p.linkList() {
		if l.liveAs(id, slot) {
			return true
		}
	}
	return false
}

// liveAs is LiveAt for this link.
func (l *link) liveAs(id string, s int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ready && l.id == id && l.slots[s] && l.liveSnap[s] != notLive
}

// linkMarks is a link's side of the marks. Sender goroutine only.
type linkMarks struct {
	gen     uint64              // Primary.marks.gen looked at
	version uint64              // its version
	want    []int               // its slots for this link's replica
	stale   bool                // the link's slots changed since the last look: look at every wanted slot
	fresh   []int               // slots whose snapshot was sent since the last look (SNAPEND)
	sent    map[int]markedState // per slot: the MARK sent
}

// markedState is the version and the copy (link.liveSnap) a MARK was sent for.
type markedState struct{ version, snap uint64 }

// sendMarks sends MARK for the wanted slots the link sends (LiveAt) that
// are not marked for this version and copy yet. Called between units.
func (l *link) sendMarks() error {
	id := l.replicaID()
	l.p.mu.Lock()
	if l.p.marks.gen != l.mk.gen {
		l.mk.gen, l.mk.version, l.mk.want = l.p.marks.gen, l.p.marks.version, l.p.marks.slots[id]
		l.mk.stale = true
	}
	l.p.mu.Unlock()
	// A sync sends thousands of slots, each SNAPEND adding one to fresh:
	// only those are looked at then, not every wanted slot again.
	fresh := l.mk.fresh
	l.mk.fresh = l.mk.fresh[:0]
	if len(l.mk.want) == 0 || !l.mk.stale && len(fresh) == 0 {
		return nil
	}
	var due []int
	l.mu.Lock()
	if l.mk.stale {
		l.mk.stale = false
		for _, s := range l.mk.want {
			due = l.markDue(due, s)
		}
	} else {
		for _, s := range fresh {
			if _, ok := slices.BinarySearch(l.mk.want, s); ok {
				due = l.markDue(due, s)
			}
		}
		slices.Sort(due)
	}
	l.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	// Every record appended before the slots were seen sent goes first:
	// WAIT counted the replica for them only from then on.
	if _, err := l.catchUp(); err != nil {
		return err
	}
	for i := 0; i < len(due); {
		j := i + 1
		for j < len(due) && due[j] == due[j-1]+1 {
			j++
		}
		l.w.buf = appendFrame(l.w.buf, fMark, l.mk.version, uint64(due[i]), uint64(due[j-1]))
		i = j
	}
	if len(l.queue) > 0 && !l.windowFull() {
		return nil // leaves with the snapshots' next batch (snapshotNext)
	}
	return l.w.flush()
}

// markDue appends s to due if the link sends slot s and has not marked
// its copy for the wanted version yet, and records the MARK as sent.
// l.mu must be held.
func (l *link) markDue(due []int, s int) []int {
	if !l.slots[s] || l.liveSnap[s] == notLive {
		return due
	}
	m := markedState{version: l.mk.version, snap: l.liveSnap[s]}
	if l.mk.sent[s] == m {
		return due
	}
	if l.mk.sent == nil {
		l.mk.sent = make(map[int]markedState)
	}
	l.mk.sent[s] = m
	return append(due, s)
}

// handleMark takes MARK version first last.
func (r *Replica) handleMark(args [][]byte) error {
	n, ok := uints(args[1:])
	if !ok || len(n) != 3 || n[1] > n[2] || n[2] >= NumSlots || len(r.unit) > 0 {
		return fmt.Errorf("%w: bad MARK", ErrFrame)
	}
	for s := n[1]; s <= n[2]; s++ {
		if r.state[s].Load() == slotLive {
			r.marked[s].Store(n[0])
		}
	}
	return nil
}

// Marked returns the table version of the last MARK the primary sent for
// slot's current copy on the current connection, 0 for none: while the
// tables from that version on keep staging the slot to this replica from
// that primary, the copy holds every write a WAIT on the primary
// acknowledged (see SetMarks; cluster.Table.StagedSince says since when).
func (r *Replica) Marked(slot int) uint64 {
	return r.marked[slot].Load()
}
