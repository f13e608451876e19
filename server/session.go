package server

// session serves a connection detached from redcon's loop (pub/sub, blocked
// clients): it reads commands, runs them and queues replies and pushes that
// a writer sends, under the client's output buffer limit.
type session struct{}
