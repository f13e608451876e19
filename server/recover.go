package server

// No client input stops a node: a panic inside a command is recovered at
// the command boundary. runHandler (under call: dispatch and each command
// of an EXEC), serveLocked (a blocked command served on its session's
// executor) and the goroutine entry points of a connection (handle,
// session.run) recover it; recovered then releases the store locks the
// command still held (c.held, filled by c.lock and c.lockAll), writes an
// error reply (after whatever part of its reply the command had written:
// redcon's buffer cannot be measured without copying it, and the client is
// closed after it anyway), closes the client after that reply, logs the
// stack and counts the panic (cached_command_panics_total). Inside EXEC the
// queued commands after the one that panicked do not run: each answers
// errExecPanicked.

import (
	"fmt"
	"runtime/debug"

	"github.com/cached/cached/server/kernel"
)

// errExecPanicked answers the commands of an EXEC queued after one that
// panicked.
const errExecPanicked = "ERR not run: an earlier command of the transaction failed internally"

// runHandler runs cmd's handler, recovering a panic inside it.
func (s *Server) runHandler(c *client, cmd *command, args [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			s.recovered(c, cmd.fullName, r)
		}
	}()
	cmd.fn(&c.Ctx, args)
}

// dispatchSafe is dispatch, recovering a panic outside the command's
// handler.
func (s *Server) dispatchSafe(c *client, args [][]byte) {
	defer s.recoverConn(c, args)
	s.dispatch(c, args)
}

// recoverConn recovers a panic that escaped the command boundary on a
// connection's goroutine (dispatch's checks, routing, queueing). Deferred
// by handle and session.run.
func (s *Server) recoverConn(c *client, args [][]byte) {
	if r := recover(); r != nil {
		name := "?"
		if len(args) > 0 {
			name = string(args[0])
		}
		s.recovered(c, name, r)
	}
}

// recovered handles a panic r recovered while c ran the command name: the
// store locks the command held are released, the client gets an error reply
// and is closed after it, and the panic is logged with its stack and
// counted.
func (s *Server) recovered(c *client, name string, r any) {
	if f, ok := r.(kernel.Fenced); ok { // not a failure: the slot was handed over (repl_flip.go)
		c.ReleaseHeld() // nothing changed: the fence is checked at the first lock
		c.Err(s.fencedError(f.Slot))
		return
	}
	released := 0
	if c.Holding() {
		released = 1
	}
	c.ReleaseHeld() // commits what the command had changed: the store holds it
	s.stats.commandPanics.Add(1)
	s.log.Error("panic in a command: client closed", "cmd", name, "client_id", c.id, "addr", c.addr,
		"panic", fmt.Sprint(r), "locks_released", released, "stack", string(debug.Stack()))
	c.Err("ERR internal error running '" + name + "'; the connection is closed")
	c.closeAfterReply = true
	c.panicked = true    // EXEC runs no further queued command
	c.killed.Store(true) // no further command of this client runs
}
