package repl

// A link's handshake (REPLSYNC): which slots continue from the backlog,
// which get a snapshot, and when the handshake is refused because this
// process is not the primary the replica is looking for.

import (
	"fmt"
	"slices"
	"time"
)

// handshake parses REPLSYNC auth id [slot seq hist]... and decides, per
// slot, between the backlog and a snapshot. It answers
// OK primaryID resumed full [slot...], listing the slots it will snapshot.
func (l *link) handshake(args [][]byte) error {
	if len(args) < 3 || string(args[0]) != fSync || (len(args)-3)%3 != 0 {
		return fmt.Errorf("%w: want REPLSYNC auth id, then slot seq hist triples", ErrFrame)
	}
	if !l.p.checkAuth(args[1]) {
		return ErrAuth
	}
	pairs := args[3:]
	want := make([]uint64, 0, len(pairs))
	for i := 0; i < len(pairs); i += 3 {
		s, ok := parseSlot(pairs[i])
		n, ok2 := uints(pairs[i+1 : i+3])
		if !ok || !ok2 || l.slots[s] {
			return fmt.Errorf("%w: bad or repeated slot %q", ErrFrame, pairs[i])
		}
		l.slots[s] = true
		want = append(want, uint64(s), n[0], n[1])
	}
	if err := l.checkMember(string(args[2]), want); err != nil {
		return err
	}
	if err := l.awaitResumable(want); err != nil {
		return err
	}
	var resumed, full uint64
	l.p.mu.Lock()
	bl := l.p.bl
	for i := 0; i < len(want); i += 3 {
		s, seq, hist := int(want[i]), want[i+1], want[i+2]
		if l.p.canResumeLocked(s, hist, seq) {
			l.sent[s] = seq
			resumed++
		} else {
			l.pending[s] = true
			l.liveSnap[s] = notLive
			l.queue = append(l.queue, s)
			full++
		}
	}
	l.cursor, l.hold = bl.start, bl.start
	l.curIndex = bl.firstIndex - 1
	l.lastSent = l.curIndex
	l.p.mu.Unlock()

	if full > 0 {
		l.syncBegin()
	}
	l.mu.Lock()
	l.id = string(args[2])
	l.nslots = len(want) / 3
	l.ready = true
	l.snapLeft = int(full)
	l.ackAt = l.p.now()
	l.mu.Unlock()
	l.p.partialSlots.Add(resumed)
	if resumed > 0 {
		l.p.partialConns.Add(1)
	}
	l.p.cfg.Logger.Info("replica sync", "replica", string(args[2]), "addr", l.conn.RemoteAddr().String(),
		"slots_resumed", resumed, "slots_full", full)
	ok := append(make([]uint64, 0, 3+len(l.queue)), l.p.id, resumed, full)
	for _, s := range l.queue {
		ok = append(ok, uint64(s))
	}
	l.w.buf = appendFrame(l.w.buf, "OK", ok...)
	return l.w.flush()
}

// checkMember fails with ErrNotMember if the replica named id presents a
// position in want (slot seq hist triples: a copy it holds) and the
// Snapshotter is Members that does not count it.
func (l *link) checkMember(id string, want []uint64) error {
	m, ok := l.p.snap.(Members)
	if !ok || m.Member(id) {
		return nil
	}
	for i := 0; i < len(want); i += 3 {
		if want[i+2] != 0 {
			return fmt.Errorf("%w: %s", ErrNotMember, id)
		}
	}
	return nil
}

// awaitResumable waits, up to OwnWait, until the Snapshotter (if it is an
// Owner) owns the slots of want (slot seq hist triples) presented at a
// position that the backlog cannot continue now: a replica of a slot
// handed over to this node may ask from the old primary's seal before
// this node adopted the slot at that position. It runs in the handshake;
// a running link's snapshots wait beside the queue instead (unowned).
//
// If the node then owns none of those slots, it fails with ErrNotOwner
// and the handshake is refused: this process is not their primary (the
// replica reached the primary's address while a process restarted there
// under the same ID, which serves nothing until planned out, or under
// another ID), and answering that a snapshot follows would make the
// replica give its positions up: a promotion would then drop copies that
// were in sync (docs/replication.md, "A process that is not the slots'
// primary refuses"). Refused, the replica keeps them and dials again.
func (l *link) awaitResumable(want []uint64) error {
	o, ok := l.p.snap.(Owner)
	if !ok {
		return nil
	}
	var wait []int
	l.p.mu.Lock()
	for i := 0; i < len(want); i += 3 {
		s, seq, hist := int(want[i]), want[i+1], want[i+2]
		if hist != 0 && !l.p.canResumeLocked(s, hist, seq) {
			wait = append(wait, s)
		}
	}
	l.p.mu.Unlock()
	asked := len(wait)
	deadline := time.Now().Add(OwnWait) // real time: it sleeps
	for wait = slices.DeleteFunc(wait, o.Owns); len(wait) > 0 && time.Now().Before(deadline); wait = slices.DeleteFunc(wait, o.Owns) {
		time.Sleep(2 * time.Millisecond)
	}
	if asked > 0 && len(wait) == asked {
		return fmt.Errorf("%w: owns none of the %d slots presented at positions it cannot continue", ErrNotOwner, asked)
	}
	return nil
}
