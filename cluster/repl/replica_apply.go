package repl

import (
	"fmt"
	"strconv"

	"github.com/cached/cached/protocol"
)

func appendUintText(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(dst []byte, args [][]byte) []byte {
	dst = protocol.AppendArray(dst, len(args))
	for _, a := range args {
		dst = protocol.AppendBulk(dst, a)
	}
	return dst
}

// handle applies one frame from the primary.
func (r *Replica) handle(args [][]byte) error {
	switch string(args[0]) {
	case fRec:
		return r.handleRec(args)
	case fUnitEnd:
		return r.endUnit()
	case fPos:
		var nums [2]uint64
		n, ok := appendUints(nums[:0], args[1:min(len(args), 3)])
		if !ok || len(args) != 3 || len(r.unit) > 0 {
			return fmt.Errorf("%w: bad POS", ErrFrame)
		}
		r.pendIdx, r.pendMs = n[0], int64(n[1])
		return r.endUnit()
	case fSnap:
		return r.handleSnap(args)
	case fKey:
		return r.handleKey(args)
	case fSnapEnd:
		return r.handleSnapEnd(args)
	case fSeal:
		s, ok := slotArg(args, 3)
		seq, ok2 := parseUint(args[min(2, len(args)-1)])
		if !ok || !ok2 || len(r.unit) > 0 || seq == ^uint64(0) {
			return fmt.Errorf("%w: bad SEAL", ErrFrame)
		}
		r.sealed[s].Store(seq + 1)
		if r.cfg.OnSeal != nil {
			r.cfg.OnSeal(s)
		}
		return nil
	case fMark:
		return r.handleMark(args)
	case fGetAck:
		return r.sendAck()
	case fFollowed:
		return r.handleFollowed(args)
	}
	return fmt.Errorf("%w: unexpected %q from primary", ErrFrame, args[0])
}

// handleRec takes REC index ms slot seq db more arg...
func (r *Replica) handleRec(args [][]byte) error {
	if len(args) < recFields+1 {
		return fmt.Errorf("%w: short REC", ErrFrame)
	}
	var nums [recFields - 1]uint64
	n, ok := appendUints(nums[:0], args[1:recFields])
	if !ok || n[2] >= NumSlots || n[4] > 1<<31 {
		return fmt.Errorf("%w: bad REC", ErrFrame)
	}
	s, seq, more := int(n[2]), n[3], n[5] != 0
	r.pendIdx, r.pendMs = n[0], int64(n[1])
	if v := r.sealed[s].Load(); v != 0 && seq >= v {
		r.sealed[s].Store(0) // the stream of the slot went on
	}
	if r.state[s].Load() == slotLive {
		last := r.applied[s].Load()
		switch {
		case seq <= last:
			r.dups.Add(1)
		case seq != last+1:
			r.gaps.Add(1)
			r.cfg.Logger.Warn("replication gap", "primary_addr", r.cfg.Addr, "slot", s, "applied", last, "got", seq)
			if err := r.sendResync(s); err != nil {
				return err
			}
		default:
			r.unit = append(r.unit, Record{Slot: s, Seq: seq, DB: int(n[4]), Args: args[recFields:]})
			for _, a := range args[recFields:] {
				r.unitBytes += len(a)
			}
			r.applied[s].Store(seq)
		}
	}
	if more {
		if len(r.unit) > 1<<16 || r.unitBytes > r.cfg.MaxFrame {
			return fmt.Errorf("%w: unit of more than %d records or %d bytes", ErrFrame, 1<<16, r.cfg.MaxFrame)
		}
		return nil
	}
	return r.endUnit()
}

// endUnit hands the collected unit to the Applier and moves the
// acknowledged position.
func (r *Replica) endUnit() error {
	if len(r.unit) > 0 {
		unit := r.unit
		r.unit, r.unitBytes = nil, 0
		defer func() { // Apply keeps no record: the next unit reuses the slice
			clear(unit)
			r.unit = unit[:0]
		}()
		if err := r.ap.Apply(unit); err != nil {
			r.cfg.Logger.Warn("replication apply failed", "primary_addr", r.cfg.Addr, "err", err)
			for _, rec := range unit {
				if r.state[rec.Slot].Load() == slotLive {
					if err := r.sendResync(rec.Slot); err != nil {
						return err
					}
				}
			}
		}
	}
	if r.pendIdx > r.ackIndex.Load() {
		r.ackIndex.Store(r.pendIdx)
		r.ackMs.Store(r.pendMs)
	}
	return nil
}

// handleSnap takes SNAP slot: flush the slot and start loading.
func (r *Replica) handleSnap(args [][]byte) error {
	s, ok := slotArg(args, 2)
	if !ok || len(r.unit) > 0 {
		return fmt.Errorf("%w: bad SNAP", ErrFrame)
	}
	if !r.setStateUnlessOff(s, slotLoading) {
		return nil
	}
	r.sealed[s].Store(0)
	r.marked[s].Store(0)
	r.loadErr[s] = false
	if err := r.ap.FlushSlot(s); err != nil {
		r.cfg.Logger.Warn("replication flush failed", "slot", s, "err", err)
		r.loadErr[s] = true
	}
	return nil
}

// handleKey takes KEY slot db key payload pexpireAt.
func (r *Replica) handleKey(args [][]byte) error {
	s, ok := slotArg(args, 6)
	db, ok2 := parseUint(args[min(2, len(args)-1)])
	exp, ok3 := parseInt(args[len(args)-1])
	if !ok || !ok2 || !ok3 || db > 1<<31 {
		return fmt.Errorf("%w: bad KEY", ErrFrame)
	}
	if r.state[s].Load() != slotLoading || r.loadErr[s] {
		return nil
	}
	if err := r.ap.Restore(s, int(db), args[3], args[4], exp); err != nil {
		r.cfg.Logger.Warn("replication restore failed", "slot", s, "err", err)
		r.loadErr[s] = true
	}
	return nil
}

// handleSnapEnd takes SNAPEND slot seq index.
func (r *Replica) handleSnapEnd(args [][]byte) error {
	s, ok := slotArg(args, 4)
	n, ok2 := uints(args[min(2, len(args)-1):])
	if !ok || !ok2 {
		return fmt.Errorf("%w: bad SNAPEND", ErrFrame)
	}
	seq, idx := n[0], n[1]
	if r.state[s].Load() == slotLoading {
		err := error(nil)
		if r.loadErr[s] {
			err = fmt.Errorf("load failed")
		} else {
			err = r.ap.SnapshotLoaded(s, seq)
		}
		if err == nil {
			r.fullSyncs.Add(1)
			r.mu.Lock() // against SetSlots turning the slot off meanwhile
			if r.state[s].Load() == slotLoading {
				r.applied[s].Store(seq)
				r.hist[s].Store(r.pid)
				r.state[s].Store(slotLive)
			}
			r.mu.Unlock()
		} else if err := r.sendResync(s); err != nil {
			return err
		}
	}
	r.snaps.Add(1)
	if idx > r.pendIdx {
		r.pendIdx = idx
	}
	return r.endUnit()
}

// slotArg checks a frame has n elements and parses args[1] as a slot.
func slotArg(args [][]byte, n int) (int, bool) {
	if len(args) != n {
		return 0, false
	}
	return parseSlot(args[1])
}
