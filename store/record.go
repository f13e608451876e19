package store

// The change record: every write made through a Tx, and every expiry and
// eviction, is noted in a Record while the shard locks are held, and the
// Record is handed to the Store's Observer before the locks are released.
// That one record feeds everything that reacts to a change (WATCH, blocked
// clients, keyspace notifications) and the effect stream that replication
// reads, so they all see the commit order.

// ChangeKind says what a Change is.
type ChangeKind uint8

// Change kinds.
const (
	// ChangeWrite: a command changed the key (WATCH, blocked clients and
	// keyspace notifications react).
	ChangeWrite ChangeKind = iota + 1
	// ChangeExpired: the key was removed because its TTL passed.
	ChangeExpired
	// ChangeEvicted: the key was removed under maxmemory.
	ChangeEvicted
	// ChangeNew: a write created the key (noted only after SetReportNew(true));
	// a notification only, the write notes its own ChangeWrite.
	ChangeNew
	// ChangeMiss: a read lookup missed (noted only after SetReportMiss(true));
	// a notification only.
	ChangeMiss
	// ChangeFlush: every key of DB changed (FLUSHDB, FLUSHALL per db, SWAPDB
	// for both dbs); Key is nil.
	ChangeFlush
)

// Change is one entry of a Record.
type Change struct {
	Kind  ChangeKind
	DB    int    // logical database
	Key   []byte // owned by the Record: valid only during Observer.Commit
	Class uint16 // the writer's notification class, opaque to the store (ChangeWrite)
	Event string // the writer's event name, e.g. "set" (ChangeWrite)
}

// Effect is one write effect: a deterministic command (absolute times,
// final values, no reply-only options) that reproduces the change on another
// node, stamped with the slot of its first key and that slot's sequence
// number.
type Effect struct {
	DB   int // logical database
	Slot int // slot of the first key; -1 for a keyless effect (FLUSHALL, SWAPDB …)
	// Seq is the slot's sequence number: per slot it starts at 1 and grows
	// by one per effect, in commit order. Keyless effects are numbered in
	// their own sequence (slot -1), always with every shard locked.
	Seq  uint64
	Args [][]byte // owned by the Record: valid only during Observer.Commit
}

// Observer receives committed Records. The Store calls Commit once per
// committed unit — a Tx (a command, or an EXEC holding one Tx for all its
// commands), one expiry or one eviction — with the shard locks of the unit
// still held, so per key (and per slot) Records arrive in commit order.
// Records of units that share no shard may be committed concurrently from
// different goroutines. Commit must not block and must not call the Store;
// the Record and everything it holds are valid only during the call.
type Observer interface {
	Commit(r *Record)
}

// Record is the change record of one committed unit: its changes, in the
// order they were made, and (while effects are recorded) its effects.
type Record struct {
	changes []Change
	keys    []byte // bytes of every change's key
	keyLens []int  // per change: its key's length, -1 for none
	fx      Effects
	fxMeta  []effectMeta
}

type effectMeta struct {
	db   int
	slot int
	seq  uint64
}

// Changes returns the record's changes in order. Shared: do not modify.
func (r *Record) Changes() []Change { return r.changes }

// NumEffects returns the number of effects.
func (r *Record) NumEffects() int { return r.fx.Len() }

// Effect returns effect i. Its Args share the Record's buffer (a new outer
// slice is allocated).
func (r *Record) Effect(i int) Effect { return r.AppendEffect(nil, i) }

// AppendEffect returns effect i with its Args appended to args (no
// allocation when args has room): a caller that collects several effects
// gives them slices of one buffer. The Args' byte slices share the
// Record's buffer, as Effect's do.
func (r *Record) AppendEffect(args [][]byte, i int) Effect {
	m := r.fxMeta[i]
	return Effect{DB: m.db, Slot: m.slot, Seq: m.seq, Args: r.fx.AppendAt(args, i)}
}

// empty reports whether there is nothing to commit.
func (r *Record) empty() bool { return len(r.changes) == 0 && r.fx.Len() == 0 }

func (r *Record) reset() {
	clear(r.changes) // drop key references
	r.changes, r.keys, r.keyLens = r.changes[:0], r.keys[:0], r.keyLens[:0]
	r.fx.Reset()
	r.fxMeta = r.fxMeta[:0]
	if cap(r.keys) > 64<<10 { // do not keep a huge buffer pooled
		r.keys = nil
	}
}

// note appends a change, copying key (Key is set by seal).
func (r *Record) note(kind ChangeKind, db int, key []byte, class uint16, event string) {
	n := -1
	if key != nil {
		n = len(key)
		r.keys = append(r.keys, key...)
	}
	r.changes = append(r.changes, Change{Kind: kind, DB: db, Class: class, Event: event})
	r.keyLens = append(r.keyLens, n)
}

// seal points every change's Key into the keys buffer, before Commit.
func (r *Record) seal() {
	off := 0
	for i, n := range r.keyLens {
		if n >= 0 {
			r.changes[i].Key = r.keys[off : off+n : off+n]
			off += n
		}
	}
}

// effect appends an effect with its slot; the sequence is set at commit.
func (r *Record) effect(db, slot int, name []byte, args [][]byte) {
	r.fx.AddAs(name, args)
	r.fxMeta = append(r.fxMeta, effectMeta{db: db, slot: slot})
}
