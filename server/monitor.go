package server

// MONITOR: a client that sent MONITOR receives, as simple strings, every
// command the server runs from then on.
//
// The handler replies +OK and detaches the connection from redcon's loop
// (redcon.Conn.Detach), so that redcon never touches it again. Two goroutines,
// counted in Server.wg, then own it: the writer (monitor.run) is the only
// one that writes to it; the reader (monitor.read) reads the client's
// commands and hands their replies to the writer. Dispatch feeds lines to
// every monitor's bounded queue; a monitor whose queue is full is dropped, as
// Redis drops a client over its output buffer limit.
//
// While monitoring, the client stays in the client registry (CLIENT LIST
// shows flag O); it leaves the registry when monitoring ends, which is what
// Server.Close waits for after closing every client's connection.

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/server/kernel"
	"github.com/tidwall/redcon"
)

// monitorQueueLen is how many lines a monitor may have waiting to be written
// before it is dropped (monitorSet.queueLen overrides it in tests).
const monitorQueueLen = 4096

// Replies a monitoring connection gets to the commands it sends.
const (
	monitorReplyOK       = "+OK\r\n"
	monitorReplyReset    = "+RESET\r\n"
	monitorReplyPong     = "+PONG\r\n"
	monitorReplyKeyspace = "-ERR Replica can't interact with the keyspace\r\n"
)

// monitorSet is the server's monitors. count is read on every command without
// a lock; list is copied on write so feeding takes no lock either.
type monitorSet struct {
	count atomic.Int32
	list  atomic.Pointer[[]*monitor]
	mu    sync.Mutex // serializes add and remove

	queueLen atomic.Int32 // 0: monitorQueueLen
}

// monitor is one monitoring connection.
type monitor struct {
	s     *Server
	c     *client
	dc    redcon.DetachedConn
	lines chan []byte  // formatted lines, fed by dispatch
	ctl   chan ctlLine // replies to the client's own commands, from read
	done  chan struct{}
	once  sync.Once
	// start is closed by Server.closed once the connection's goroutine let
	// go of it: until then that goroutine still reads the MONITOR request's
	// arguments (slowlog, commandstats), which point into the read buffer
	// the reader refills.
	start     chan struct{}
	startOnce sync.Once
}

// handoff starts the monitor: the connection's goroutine let go of it.
func (m *monitor) handoff() { m.startOnce.Do(func() { close(m.start) }) }

// ctlLine is a reply the reader asks the writer to send; end closes the
// connection after it.
type ctlLine struct {
	reply string
	end   bool
}

// monitorSpec declares MONITOR (listed by observabilityCommands).
func monitorSpec() spec {
	return spec{name: "monitor", arity: 1, flags: "admin noscript loading stale", group: "server", since: "1.0.0",
		summary: "Listens for all requests received by the server in real-time.", fn: monitorCommand}.withRole(roleNotInExec)
}

// monitorCommand replies +OK and hands the connection to a monitor. A client
// already monitoring never gets here: its commands are read by monitor.read.
func monitorCommand(c *client, _ [][]byte) {
	c.OK()
	c.monitoring.Store(true) // before Detach: Server.closed then leaves c registered
	qlen := int(c.s.monitors.queueLen.Load())
	if qlen <= 0 {
		qlen = monitorQueueLen
	}
	m := &monitor{
		s:     c.s,
		c:     c,
		dc:    c.Conn.Detach(),
		lines: make(chan []byte, qlen),
		ctl:   make(chan ctlLine, 1),
		done:  make(chan struct{}),
		start: make(chan struct{}),
	}
	c.mon = m
	c.s.monitors.add(m)
	c.s.wg.Add(2)
	go m.run()
	go m.read()
}

func (ms *monitorSet) add(m *monitor) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var next []*monitor
	if cur := ms.list.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, m)
	ms.list.Store(&next)
	ms.count.Store(int32(len(next)))
}

func (ms *monitorSet) remove(m *monitor) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	cur := ms.list.Load()
	if cur == nil {
		return
	}
	next := make([]*monitor, 0, len(*cur))
	for _, o := range *cur {
		if o != m {
			next = append(next, o)
		}
	}
	ms.list.Store(&next)
	ms.count.Store(int32(len(next)))
}

// feedMonitors sends the command c is about to run to every monitor, unless
// Redis hides it (admin and skip_monitor commands). The line is formatted
// once and shared; a monitor whose queue is full is dropped.
func (s *Server) feedMonitors(c *client, cmd *command, args [][]byte) {
	if cmd.flags&(flagAdmin|flagSkipMonitor) != 0 {
		return
	}
	s.feedMonitorsArgs(c, args)
}

// feedMonitorsArgs feeds one line of c's args to every monitor, whatever
// the command's flags (EVAL is shown before its script's commands, as in
// Redis 7); a script's commands show as from "lua".
func (s *Server) feedMonitorsArgs(c *client, args [][]byte) {
	list := s.monitors.list.Load()
	if list == nil || len(*list) == 0 {
		return
	}
	addr := c.addr
	if _, scripted := c.Conn.(*scriptConn); scripted {
		addr = "lua"
	}
	line := appendMonitorLine(nil, time.Now(), int(c.Selected.Load()), addr, args)
	for _, m := range *list {
		select {
		case m.lines <- line:
		default:
			m.drop()
		}
	}
}

// appendMonitorLine formats one monitor line as Redis does:
// +1339518083.107412 [0 127.0.0.1:60866] "keys" "*"\r\n
func appendMonitorLine(b []byte, now time.Time, db int, addr string, args [][]byte) []byte {
	us := now.UnixMicro()
	b = append(b, '+')
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > frac && d > 1; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, frac, 10)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(db), 10)
	b = append(b, ' ')
	b = append(b, addr...)
	b = append(b, ']')
	redact := redactedArgs(args)
	for i, a := range args {
		b = append(b, ' ')
		if i < len(redact) && redact[i] {
			b = append(b, `"(redacted)"`...)
			continue
		}
		b = appendRepr(b, a)
	}
	return append(b, '\r', '\n')
}

// redactedArgs marks the arguments Redis 7 shows as "(redacted)": AUTH's
// username and password, and HELLO's AUTH username and password. nil when
// nothing is hidden.
func redactedArgs(args [][]byte) []bool {
	var out []bool
	switch {
	case kernel.KeyWordIs(args[0], "auth"):
		// Redis redacts arguments 1 and 2 (a longer AUTH is a syntax
		// error); hiding every argument is never less safe.
		out = make([]bool, len(args))
		for i := 1; i < len(args); i++ {
			out[i] = true
		}
	case kernel.KeyWordIs(args[0], "hello"):
		for j := 2; j < len(args); j++ {
			more := len(args) - 1 - j
			switch {
			case kernel.KeyWordIs(args[j], "auth") && more >= 2:
				if out == nil {
					out = make([]bool, len(args))
				}
				out[j+1], out[j+2] = true, true
				j += 2
			case kernel.KeyWordIs(args[j], "setname") && more >= 1:
				j++
			default:
				return out
			}
		}
	}
	return out
}

// appendRepr appends a quoted as Redis's sdscatrepr does: \" \\ \n \r \t \a
// \b escaped, other bytes outside printable ASCII as \xHH.
func appendRepr(b, a []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch <= 0x7e {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&0xf])
			}
		}
	}
	return append(b, '"')
}

// drop ends the monitor from any goroutine: the writer returns and the
// reader's blocked read fails.
func (m *monitor) drop() {
	m.once.Do(func() {
		close(m.done)
		if nc := m.dc.NetConn(); nc != nil {
			_ = nc.Close()
		}
	})
}

// run is the monitor's writer: it flushes the +OK, then writes queued lines
// and the replies the reader asks for until the monitor ends.
func (m *monitor) run() {
	defer m.s.wg.Done()
	defer m.finish()
	if !m.started() || m.dc.Flush() != nil {
		return
	}
	for {
		select {
		case line := <-m.lines:
			m.dc.WriteRaw(line)
			m.drainLines()
			if m.dc.Flush() != nil {
				return
			}
		case r := <-m.ctl:
			m.dc.WriteRaw([]byte(r.reply))
			if m.dc.Flush() != nil || r.end {
				return
			}
		case <-m.done:
			return
		}
	}
}

// drainLines appends the lines already queued, so one flush writes them all.
func (m *monitor) drainLines() {
	for i := 0; i < 256; i++ {
		select {
		case line := <-m.lines:
			m.dc.WriteRaw(line)
		default:
			return
		}
	}
}

// finish unregisters the monitor and its client and closes the connection.
func (m *monitor) finish() {
	m.s.monitors.remove(m)
	m.drop()
	m.c.killed.Store(true)
	m.s.clients.remove(m.c)
}

// read reads the monitoring client's commands: QUIT replies +OK and ends,
// RESET replies +RESET and ends (cached closes the connection then, where
// Redis would keep it as a normal client), PING replies +PONG and any other
// command gets the error Redis gives a monitor touching the keyspace.
//
// On QUIT and RESET the writer closes the connection once the reply is
// written; on a read error the reader drops the monitor itself.
func (m *monitor) read() {
	defer m.s.wg.Done()
	if !m.started() {
		return
	}
	for {
		cmd, err := m.dc.ReadCommand()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !m.ended() {
				continue // the idle timeout does not apply to monitors, as in Redis
			}
			m.drop()
			return
		}
		if len(cmd.Args) == 0 {
			continue
		}
		r := ctlLine{reply: monitorReplyKeyspace}
		switch {
		case kernel.KeyWordIs(cmd.Args[0], "quit"):
			r = ctlLine{reply: monitorReplyOK, end: true}
		case kernel.KeyWordIs(cmd.Args[0], "reset"):
			r = ctlLine{reply: monitorReplyReset, end: true}
		case kernel.KeyWordIs(cmd.Args[0], "ping"):
			r.reply = monitorReplyPong
		}
		select {
		case m.ctl <- r:
		case <-m.done:
			return
		}
		if r.end {
			return
		}
	}
}

// started waits until Server.closed hands the connection over (true) or
// the monitor ends first (false).
func (m *monitor) started() bool {
	select {
	case <-m.start:
		return true
	case <-m.done:
		return false
	}
}

func (m *monitor) ended() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}
