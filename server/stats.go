package server

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// serverStats are the node's counters behind INFO stats, commandstats and
// errorstats. Counters are atomics; the error map is rare-path and locked.
type serverStats struct {
	totalCommands       atomic.Uint64
	connectionsReceived atomic.Uint64
	rejectedConnections atomic.Uint64
	netInput            atomic.Uint64
	netOutput           atomic.Uint64
	loopParks           atomic.Uint64 // requests an event loop ran on a goroutine (eventloop_conn.go); not in INFO
	loopHandOffs        atomic.Uint64 // connections an event loop handed off for good; not in INFO
	memPeak             atomic.Int64  // highest used memory seen by cron
	commandPanics       atomic.Uint64 // panics recovered at the command boundary (recover.go)

	errMu  sync.Mutex // protects errors
	errors map[string]uint64

	// instantaneous metrics: ring buffers of per-interval rates, written by
	// the cron goroutine and read by INFO.
	instMu   sync.Mutex // protects the fields below
	lastAt   time.Time
	lastOps  uint64
	lastIn   uint64
	lastOut  uint64
	opsRing  [16]float64
	inRing   [16]float64
	outRing  [16]float64
	ringNext int
}

func (st *serverStats) countError(code string) {
	st.errMu.Lock()
	if st.errors == nil {
		st.errors = map[string]uint64{}
	}
	if _, ok := st.errors[code]; ok || len(st.errors) < 128 {
		st.errors[code]++
	}
	st.errMu.Unlock()
}

// errorCounts returns errorstats as sorted (code, count) pairs.
func (st *serverStats) errorCounts() ([]string, []uint64) {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	codes := make([]string, 0, len(st.errors))
	for k := range st.errors {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	counts := make([]uint64, len(codes))
	for i, k := range codes {
		counts[i] = st.errors[k]
	}
	return codes, counts
}

func (st *serverStats) totalErrors() uint64 {
	st.errMu.Lock()
	defer st.errMu.Unlock()
	var n uint64
	for _, v := range st.errors {
		n += v
	}
	return n
}

// sample records one interval of the instantaneous metrics (Redis samples
// every 100 ms and averages the last 16).
func (st *serverStats) sample(now time.Time) {
	ops, in, out := st.totalCommands.Load(), st.netInput.Load(), st.netOutput.Load()
	st.instMu.Lock()
	if ops < st.lastOps || in < st.lastIn || out < st.lastOut {
		st.lastAt = time.Time{} // counters were reset: start over
	}
	defer st.instMu.Unlock()
	if !st.lastAt.IsZero() {
		dt := now.Sub(st.lastAt).Seconds()
		if dt > 0 {
			st.opsRing[st.ringNext] = float64(ops-st.lastOps) / dt
			st.inRing[st.ringNext] = float64(in-st.lastIn) / dt
			st.outRing[st.ringNext] = float64(out-st.lastOut) / dt
			st.ringNext = (st.ringNext + 1) % len(st.opsRing)
		}
	}
	st.lastAt, st.lastOps, st.lastIn, st.lastOut = now, ops, in, out
}

// instantaneous returns ops/s, input and output bytes/s averaged over the ring.
func (st *serverStats) instantaneous() (ops, in, out float64) {
	st.instMu.Lock()
	defer st.instMu.Unlock()
	for i := range st.opsRing {
		ops += st.opsRing[i]
		in += st.inRing[i]
		out += st.outRing[i]
	}
	n := float64(len(st.opsRing))
	return ops / n, in / n, out / n
}

// notePeak raises memPeak to used if it is higher.
func (st *serverStats) notePeak(used int64) {
	for {
		p := st.memPeak.Load()
		if used <= p || st.memPeak.CompareAndSwap(p, used) {
			return
		}
	}
}

// reset zeroes what CONFIG RESETSTAT resets.
func (st *serverStats) reset() {
	st.totalCommands.Store(0)
	st.connectionsReceived.Store(0)
	st.rejectedConnections.Store(0)
	st.netInput.Store(0)
	st.netOutput.Store(0)
	st.errMu.Lock()
	st.errors = nil
	st.errMu.Unlock()
}

// dataActivity returns a counter that moves with every data command this
// node runs (one that reads or writes keys, publishes, or runs a script:
// a key, write, readonly, pubsub or movablekeys in its flags; the
// commands of MULTI and scripts included) or forwards to another node
// (proxy mode): what tells the snapshot Pacer that clients wait on this
// node (repl.Pacer.SetActivity). PING, INFO, CLIENT, CONFIG, CLUSTER and
// the replication links' own handshakes do not move it, so a monitor's
// health checks do not keep a move paced on an otherwise idle cluster.
// CONFIG RESETSTAT makes it jump once.
func (s *Server) dataActivity() func() uint64 {
	var data []*command
	s.cmds.forEach(func(c *command) {
		if c.first > 0 || c.flags&(flagWrite|flagReadonly|flagPubSub|flagMovableKeys) != 0 {
			data = append(data, c)
		}
	})
	return func() uint64 {
		var n uint64
		for _, c := range data {
			n += c.calls.Load()
		}
		if cs := s.cl; cs != nil {
			n += cs.sent.Load()
		}
		return n
	}
}
