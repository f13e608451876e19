package server

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/server/pubsub"
)

// client is one connection's state. The connection's goroutine (conn.go) owns
// it; fields other goroutines read (CLIENT LIST, CLIENT KILL, INFO) are atomics
// or guarded by mu.
type client struct {
	kernel.Ctx // what its commands see: database, replies, the write path

	s     *Server
	id    int64
	addr  string
	laddr string
	born  time.Time

	authed  bool // owner goroutine only
	lastCmd atomic.Pointer[command]
	idleAt  atomic.Int64 // UnixNano of the last command's start
	noEvict atomic.Bool

	monitoring atomic.Bool // MONITOR detached the connection (monitor.go)
	detached   atomic.Bool // a session (session.go) serves the connection

	multi *multiState                   // MULTI state, nil outside a transaction (multi.go); owner only
	block *blockState                   // set by a blocking command that must wait (blocking.go); owner only
	ps    atomic.Pointer[pubsub.Member] // subscriptions, nil if none ever (pubsub.go)
	clu   clusterClient                 // READONLY / ASKING (cluster.go); owner only
	sess  *session                      // the detached connection's session (session.go), nil while the connection loop serves it
	mon   *monitor                      // MONITOR's monitor, started by Server.closed (monitor.go); set by the owner

	mu      sync.Mutex // protects name, libName, libVer
	name    string
	libName string
	libVer  string

	// Buffer sizes for CLIENT LIST/INFO (client.info), set by the owner.
	qbuf     atomic.Int64            // bytes of commands read and not yet run (the running one included)
	argvMem  atomic.Int64            // bytes of the running command's arguments, 0 between commands
	sessView atomic.Pointer[session] // the session once detached, for omem

	// batching is set while conn.go runs the requests of one read; then
	// batchClock is the clock reading (store.Mono) that ended the previous
	// command, which starts the next: one clock read per command.
	batching   bool
	batchClock int64

	lastName    [16]byte // the last command name looked up, lower case (command.go)
	lastNameLen uint8
	lastLookup  *command
	killed      atomic.Bool

	reply           replyFlags // CLIENT REPLY state (command.go); owner only
	pushReply       bool       // the command that ran replies with pushes (rolePushReply); owner only
	closeAfterReply bool       // close once this command's reply is flushed; owner only
	panicked        bool       // a command of this client panicked (recover.go): it is being closed; owner only
	wrote           repl.Token // slots this client wrote, for WAIT (repl_cmds.go); owner only
}

func (s *Server) newClient(conn redcon.Conn) *client {
	c := &client{
		s:    s,
		id:   s.clients.nextID.Add(1),
		addr: conn.RemoteAddr(),
		born: time.Now(),
	}
	c.Conn = conn
	c.Init(s.store, env{s}, c)
	if nc := conn.NetConn(); nc != nil {
		c.laddr = nc.LocalAddr().String()
		if nc.LocalAddr().Network() == "unix" { // as Redis: addr=/path/to/sock:0
			c.laddr = s.unixPath + ":0"
			c.addr = c.laddr
		}
	}
	c.idleAt.Store(c.born.UnixNano())
	c.authed = s.password() == ""
	return c
}

// close ends the connection from any goroutine (CLIENT KILL, QUIT).
func (c *client) close() {
	c.killed.Store(true)
	if nc := c.Conn.NetConn(); nc != nil {
		_ = nc.Close()
	}
}

func (c *client) getName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// info formats the client as one CLIENT LIST / CLIENT INFO line, with Redis's
// fields. qbuf is the bytes read from the client and not yet run: the
// running command and everything read after it (0 once a session serves
// the connection), argv-mem the running command's
// argument bytes, multi-mem the bytes of the queued MULTI commands, omem a
// session's queued output; tot-mem is their sum (no fixed overhead).
// qbuf-free, rbs, rbp, obl and oll are 0.
func (c *client) info(now time.Time) string {
	c.mu.Lock()
	name, lib, ver := c.name, c.libName, c.libVer
	c.mu.Unlock()
	cmd := "NULL"
	if lc := c.lastCmd.Load(); lc != nil {
		cmd = lc.fullName
	}
	sub, psub, ssub := c.subCounts()
	flags := ""
	if sub+psub+ssub > 0 {
		flags = "P" // as Redis: P (pub/sub) before e (no-evict)
	}
	flags += c.asyncFlags() // x (in MULTI), b (blocked on keys): multi.go, blocking.go
	if c.noEvict.Load() {
		flags += "e"
	}
	if c.monitoring.Load() {
		flags = "O"
	}
	if flags == "" {
		flags = "N"
	}
	idle := now.Sub(time.Unix(0, c.idleAt.Load())) / time.Second
	var b strings.Builder
	b.Grow(256)
	b.WriteString("id=" + strconv.FormatInt(c.id, 10))
	b.WriteString(" addr=" + c.addr + " laddr=" + c.laddr + " fd=-1 name=" + name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.born)/time.Second), 10))
	b.WriteString(" idle=" + strconv.FormatInt(int64(idle), 10))
	b.WriteString(" flags=" + flags + " db=" + strconv.Itoa(int(c.Selected.Load())))
	b.WriteString(" sub=" + strconv.Itoa(sub) + " psub=" + strconv.Itoa(psub) + " ssub=" + strconv.Itoa(ssub))
	qbuf, argv, mmem, omem := c.qbuf.Load(), c.argvMem.Load(), c.multiMem(), c.outputQueued()
	b.WriteString(" multi=" + strconv.Itoa(c.multiLen()) + " qbuf=" + strconv.FormatInt(qbuf, 10) +
		" qbuf-free=0 argv-mem=" + strconv.FormatInt(argv, 10) + " multi-mem=" + strconv.FormatInt(mmem, 10) +
		" rbs=0 rbp=0 obl=0 oll=0 omem=" + strconv.FormatInt(omem, 10) +
		" tot-mem=" + strconv.FormatInt(qbuf+argv+mmem+omem, 10) + " events=r")
	b.WriteString(" cmd=" + cmd + " user=default redir=-1 resp=" + strconv.Itoa(c.RESPVersion()))
	b.WriteString(" lib-name=" + lib + " lib-ver=" + ver)
	return b.String()
}

// outputQueued is the output a detached client's session has queued and
// not yet written (omem), or an event loop keeps for the client
// (eventloop_conn.go); 0 for a client its goroutine serves, whose
// replies wait in its reply buffer only until the end of the batch. Safe
// from any goroutine.
func (c *client) outputQueued() int64 {
	ss := c.sessView.Load()
	if ss == nil {
		return loopOutput(c)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return int64(len(ss.out) + ss.inflight)
}

// clientRegistry tracks the live clients for CLIENT LIST/KILL and INFO.
type clientRegistry struct {
	nextID atomic.Int64
	mu     sync.Mutex // protects m
	m      map[int64]*client
	empty  *sync.Cond // signalled when m becomes empty
}

func (r *clientRegistry) init() {
	r.m = make(map[int64]*client)
	r.empty = sync.NewCond(&r.mu)
}

func (r *clientRegistry) add(c *client) {
	r.mu.Lock()
	r.m[c.id] = c
	r.mu.Unlock()
}

func (r *clientRegistry) remove(c *client) {
	r.mu.Lock()
	delete(r.m, c.id)
	if len(r.m) == 0 {
		r.empty.Broadcast()
	}
	r.mu.Unlock()
}

func (r *clientRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// list returns the clients ordered by ID.
func (r *clientRegistry) list() []*client {
	r.mu.Lock()
	out := make([]*client, 0, len(r.m))
	for _, c := range r.m {
		out = append(out, c)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// waitEmpty closes every client and waits until all have gone.
func (r *clientRegistry) waitEmpty() {
	r.mu.Lock()
	for _, c := range r.m {
		c.close()
	}
	for len(r.m) > 0 {
		r.empty.Wait()
	}
	r.mu.Unlock()
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
