package server

// pubsubCommands declares SUBSCRIBE, PUBLISH, PUBSUB, … (stub: filled by the pub/sub work).
func pubsubCommands() []spec { return nil }

// pubsubHub holds the server's channels and patterns.
type pubsubHub struct{}

// pubsubState is a client's subscriptions.
type pubsubState struct{}

// pubsubRefuses answers and returns true if cmd may not run in the client's
// subscribed context (RESP2: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT, RESET).
func pubsubRefuses(c *client, cmd *command) bool { return false }

// publishLocal delivers msg on channel to this node's subscribers (channel
// and pattern) and returns how many received it. Safe from any goroutine,
// never blocks (slow subscribers are cut off by their output buffer limit).
func (s *Server) publishLocal(channel, msg []byte) int64 { return 0 }

// subCounts reports the client's channel, pattern and shard-channel
// subscriptions for CLIENT LIST (safe from any goroutine).
func (c *client) subCounts() (sub, psub, ssub int) { return 0, 0, 0 }
