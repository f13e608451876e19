package load

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// maxRedirects bounds the MOVED/ASK hops followed for one request.
const maxRedirects = 5

// shared is the read-only state of one run, plus atomics.
type shared struct {
	cfg    *Config
	origin time.Time // the phase (and warm-up) begins
	start  time.Time // measured phase begins
	end    time.Time // measured phase ends (duration mode); zero with Requests
	data   []byte    // random printable bytes values are cut from
	mix    mix
	topo   *topology
	out    chan<- interval
	stop   atomic.Bool // set when the context ends
	redir  atomic.Int64
}

// request is one request in flight: enough to re-send it after a redirect.
type request struct {
	op       uint16
	key      uint64
	off, n   uint32 // value bytes: data[off : off+n]
	sent     time.Time
	measured bool
}

// nodeConn is one worker's connection to one server.
type nodeConn struct {
	addr string
	c    *protocol.Client
	idx  []int // closed loop: indexes into the batch of requests sent here
}

// worker drives one connection per target node. Closed loop: one goroutine
// writes a batch and reads its replies. Open loop: see openloop.go.
type worker struct {
	id    int
	sh    *shared
	rng   *rand.Rand
	keys  keyGen
	enc   encoder
	quota int64 // measured requests left to send; < 0 without a count
	live  *live
	rec   *recorder
	conns map[string]*nodeConn
	down  map[string]downAddr         // recently refused addresses
	side  map[string]*protocol.Client // connections for following redirects
	recs  []*recorder                 // all recorders, merged into the result
	fills []uint64                    // Config.CacheAside: keys that missed, to SET next
}

// maxFills bounds a worker's keys waiting for their cache-aside SET; past
// it, misses are not filled. Each batch sends the waiting SETs first, so
// only a pipeline deeper than this leaves some out.
const maxFills = 4096

func newWorker(id int, sh *shared, quota int64, lv *live) *worker {
	cfg := sh.cfg
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(id)))
	w := &worker{
		id: id, sh: sh, rng: rng, quota: quota, live: lv,
		keys:  cfg.KeyDist.newKeyGen(cfg.Keyspace, rng, id, cfg.Clients),
		enc:   encoder{prefix: []byte(cfg.KeyPrefix)},
		conns: map[string]*nodeConn{},
		down:  map[string]downAddr{},
		side:  map[string]*protocol.Client{},
	}
	w.rec = newRecorder(sh, lv)
	w.recs = append(w.recs, w.rec)
	return w
}

// next draws the next request of the mix.
func (w *worker) next() request {
	cfg := w.sh.cfg
	rq := request{op: uint16(w.sh.mix.pick(w.rng.IntN(w.sh.mix.total))), key: w.keys.next()}
	n := cfg.DataMin
	if cfg.DataMax > cfg.DataMin {
		n += w.rng.IntN(cfg.DataMax - cfg.DataMin + 1)
	}
	rq.n = uint32(n)
	rq.off = uint32(w.rng.IntN(len(w.sh.data) - n + 1))
	return rq
}

// nextClosed is next, or a key that missed waiting for its cache-aside SET.
func (w *worker) nextClosed() request {
	if len(w.fills) == 0 {
		return w.next()
	}
	cfg := w.sh.cfg
	key := w.fills[len(w.fills)-1]
	w.fills = w.fills[:len(w.fills)-1]
	n := cfg.DataMin
	if cfg.DataMax > cfg.DataMin {
		n += w.rng.IntN(cfg.DataMax - cfg.DataMin + 1)
	}
	return request{op: uint16(len(cfg.Commands) - 1), key: key, n: uint32(n), off: uint32(w.rng.IntN(len(w.sh.data) - n + 1))}
}

// noteReply queues a cache-aside SET for a read of rq that missed.
func (w *worker) noteReply(rq *request, rep protocol.Reply) {
	if w.sh.cfg.CacheAside && rep.Kind == protocol.KindNil && w.sh.cfg.Commands[rq.op].read && len(w.fills) < maxFills {
		w.fills = append(w.fills, rq.key)
	}
}

// addrFor routes rq; it formats the key into the encoder's scratch.
func (w *worker) addrFor(enc *encoder, rq *request) string {
	c := &w.sh.cfg.Commands[rq.op]
	return w.sh.topo.route(enc.keyBytes(rq.key), c.hasKey, w.id)
}

func (sh *shared) encode(enc *encoder, wr *protocol.Writer, rq *request) {
	enc.encode(wr, &sh.cfg.Commands[rq.op], rq.key, sh.data[rq.off:rq.off+rq.n])
}

// finished reports whether no more requests should be sent at now.
func (w *worker) finished(now time.Time) bool {
	if w.sh.stop.Load() || w.quota == 0 {
		return true
	}
	return w.quota < 0 && !w.sh.end.IsZero() && !now.Before(w.sh.end)
}

// downAddr remembers a failed dial so that requests to that address fail
// at once, without a dial each, for redialPause.
type downAddr struct {
	until time.Time
	err   error
}

// redial dials addr unless it failed within the last redialPause.
func (w *worker) redial(addr string) (*protocol.Client, error) {
	if d, ok := w.down[addr]; ok && time.Now().Before(d.until) {
		return nil, d.err
	}
	c, err := dial(w.sh.cfg, addr)
	if err != nil {
		w.down[addr] = downAddr{until: time.Now().Add(redialPause), err: err}
		return nil, err
	}
	delete(w.down, addr)
	return c, nil
}

// conn returns the worker's connection to addr, dialling it if needed.
func (w *worker) conn(addr string) (*nodeConn, error) {
	if nc := w.conns[addr]; nc != nil {
		return nc, nil
	}
	c, err := w.redial(addr)
	if err != nil {
		return nil, err
	}
	nc := &nodeConn{addr: addr, c: c}
	w.conns[addr] = nc
	return nc, nil
}

// routeConn returns a connection to the node that serves rq, through get
// (the closed or open loop's connection cache). In cluster mode, when that
// node cannot be reached, it asks for a new slot map and waits for it, up
// to the timeout, instead of failing at once: a node that left mid-run
// costs the requests that were in flight on it, not one conn-refused per
// request until the map catches up.
func routeConn[C any](w *worker, rq *request, get func(addr string) (C, error)) (C, error) {
	var deadline time.Time
	for {
		gen := w.sh.topo.refreshes.Load()
		c, err := get(w.addrFor(&w.enc, rq))
		if err == nil || !w.sh.cfg.Cluster {
			return c, err
		}
		w.sh.topo.wantRefresh()
		if deadline.IsZero() {
			deadline = time.Now().Add(w.sh.cfg.Timeout)
		}
		if !w.sh.topo.awaitLoad(gen, deadline, &w.sh.stop) {
			return c, err
		}
	}
}

// pause slows a duration-bound worker whose server is unreachable, so it
// does not spin; a count-bound run fails its requests without waiting.
func (w *worker) pause() {
	if w.quota < 0 && !w.sh.end.IsZero() {
		time.Sleep(min(redialPause, max(time.Until(w.sh.end), 0)))
	}
}

// drop closes a broken connection; the next request to addr re-dials.
func (w *worker) drop(nc *nodeConn) {
	nc.c.Close()
	delete(w.conns, nc.addr)
}

// close releases all connections.
func (w *worker) close() {
	for _, nc := range w.conns {
		nc.c.Close()
	}
	for _, c := range w.side {
		c.Close()
	}
}

// redialPause is how long a refused address is not dialled again.
const redialPause = 50 * time.Millisecond

// runClosed is the closed-loop worker: send a batch of Pipeline requests,
// read all replies, repeat.
func (w *worker) runClosed() {
	defer w.close()
	p := w.sh.cfg.Pipeline
	batch := make([]request, 0, p)
	used := make([]*nodeConn, 0, 4)
	for now := time.Now(); !w.finished(now); now = time.Now() {
		measured := !now.Before(w.sh.start)
		n := p
		if measured && w.quota >= 0 {
			n = int(min(int64(p), w.quota))
			w.quota -= int64(n)
		}
		batch, used = batch[:0], used[:0]
		for i := 0; i < n; i++ {
			rq := w.nextClosed()
			rq.sent, rq.measured = now, measured
			nc, err := routeConn(w, &rq, w.conn)
			if err != nil {
				w.rec.failed(int(rq.op), now, time.Now(), errKind(err))
				continue
			}
			if len(nc.idx) == 0 {
				used = append(used, nc)
			}
			nc.idx = append(nc.idx, len(batch))
			batch = append(batch, rq)
			w.sh.encode(&w.enc, nc.c.Writer, &rq)
		}
		if len(batch) == 0 {
			w.pause()
		}
		w.sendBatch(batch, used)
	}
}

// sendBatch flushes the batch to every connection used, then reads replies
// connection by connection.
func (w *worker) sendBatch(batch []request, used []*nodeConn) {
	t0 := time.Now()
	for i := range batch {
		if batch[i].measured { // warm-up requests keep their earlier time, so stay unmeasured
			batch[i].sent = t0
		}
	}
	for _, nc := range used {
		if err := nc.c.Writer.Flush(); err != nil {
			w.failAll(nc, batch, err)
		}
	}
	var redirects []int
	var targets []protocol.Redirect
	var froms []string
	for _, nc := range used {
		if nc.idx == nil {
			continue // failed on flush
		}
		_ = nc.c.Conn().SetReadDeadline(t0.Add(w.sh.cfg.Timeout))
		var now time.Time
		reads := nc.c.Reader.Reads() - 1
		for j, bi := range nc.idx {
			rep, err := nc.c.Reader.ReadReply()
			if r := nc.c.Reader.Reads(); r != reads { // new bytes: take the time
				now, reads = time.Now(), r
			}
			if err != nil {
				nc.idx = nc.idx[j:]
				w.failAll(nc, batch, err)
				break
			}
			rq := &batch[bi]
			if w.sh.cfg.Cluster {
				if rd, ok := rep.Redirect(); ok {
					w.rec.redirected(rq.sent, rep.ErrorCode())
					redirects, targets, froms = append(redirects, bi), append(targets, rd), append(froms, nc.addr)
					continue
				}
			}
			w.rec.done(int(rq.op), rq.sent, now, rep)
			w.noteReply(rq, rep)
		}
		if nc.idx != nil {
			nc.idx = nc.idx[:0]
		}
	}
	for i, bi := range redirects {
		follow(w.sh, &w.enc, w.side, w.rec, &batch[bi], targets[i], froms[i])
	}
}

// failAll records every request still pending on nc as failed and drops
// nc; in cluster mode it asks for a new slot map (the node may have left).
func (w *worker) failAll(nc *nodeConn, batch []request, err error) {
	if w.sh.cfg.Cluster {
		w.sh.topo.wantRefresh()
	}
	kind, now := errKind(err), time.Now()
	for _, bi := range nc.idx {
		w.rec.failed(int(batch[bi].op), batch[bi].sent, now, kind)
	}
	nc.idx = nil
	w.drop(nc)
}

// follow re-sends rq where a MOVED or ASK reply pointed, synchronously on a
// side connection, up to maxRedirects hops; MOVED also asks for a new slot
// map. The request's latency runs from its first send to the final reply.
func follow(sh *shared, enc *encoder, side map[string]*protocol.Client, rec *recorder, rq *request, rd protocol.Redirect, from string) {
	for hop := 0; hop < maxRedirects; hop++ {
		if !rd.Ask {
			sh.topo.wantRefresh()
		}
		addr := resolve(rd.Addr, from)
		c := side[addr]
		if c == nil {
			var err error
			if c, err = dial(sh.cfg, addr); err != nil {
				rec.failed(int(rq.op), rq.sent, time.Now(), errKind(err))
				return
			}
			side[addr] = c
		}
		if rd.Ask {
			c.Writer.WriteCommand([]byte("ASKING"))
		}
		sh.encode(enc, c.Writer, rq)
		_ = c.Conn().SetDeadline(time.Now().Add(sh.cfg.Timeout))
		reply, err := roundTrip(c, rd.Ask)
		if err != nil {
			c.Close()
			delete(side, addr)
			rec.failed(int(rq.op), rq.sent, time.Now(), errKind(err))
			return
		}
		next, ok := reply.Redirect()
		if !ok {
			sh.redir.Add(1)
			rec.done(int(rq.op), rq.sent, time.Now(), reply)
			return
		}
		rec.redirected(rq.sent, reply.ErrorCode())
		rd, from = next, addr
	}
	rec.failed(int(rq.op), rq.sent, time.Now(), KindRedirect)
}

// roundTrip flushes c's buffered request (after ASKING if ask) and reads
// its reply.
func roundTrip(c *protocol.Client, ask bool) (protocol.Reply, error) {
	if err := c.Writer.Flush(); err != nil {
		return protocol.Reply{}, err
	}
	if ask {
		if _, err := c.Reader.ReadReply(); err != nil { // ASKING's +OK
			return protocol.Reply{}, err
		}
	}
	return c.Reader.ReadReply()
}
