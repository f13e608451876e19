package server

// txCommands declares MULTI, EXEC, DISCARD, WATCH and UNWATCH.
func txCommands() []spec { return nil }

// multiState is a client's open transaction.
type multiState struct {
	aborted bool // a command failed to queue: EXEC answers EXECABORT
}

// queueMulti queues cmd in the client's transaction and returns true, or
// returns false for the commands that run at once inside MULTI (EXEC,
// DISCARD, MULTI, WATCH, QUIT, RESET).
func (s *Server) queueMulti(c *client, cmd *command, args [][]byte) bool { return false }

// watchRegistry maps watched keys to the clients watching them.
type watchRegistry struct{}

// touchWatched marks the transactions watching key in db as failed.
func (s *Server) touchWatched(db int, key []byte) {}

// touchAllWatched marks every transaction watching a key in db as failed
// (db -1: every database), for FLUSHDB, FLUSHALL and SWAPDB.
func (s *Server) touchAllWatched(db int) {}

// multiLen is CLIENT LIST's multi field: queued commands, -1 outside MULTI.
// Safe from any goroutine.
func (c *client) multiLen() int { return -1 }
