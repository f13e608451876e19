package server

import (
	"crypto/subtle"
	"strings"

	"github.com/cached/cached/protocol"
)

func connectionCommands() []spec {
	return []spec{
		spec{name: "ping", arity: -1, flags: "fast", group: "connection", since: "1.0.0",
			summary: "Returns the server's liveliness response.", complexity: "O(1)", fn: pingCommand}.withRole(roleSubscribed).withTips("request_policy:all_shards response_policy:all_succeeded"),
		{name: "echo", arity: 2, flags: "loading stale fast", group: "connection", since: "1.0.0",
			summary: "Returns the given string.", complexity: "O(1)", fn: echoCommand},
		spec{name: "quit", arity: -1, flags: "noscript loading stale fast no_auth allow_busy", group: "connection", since: "1.0.0",
			summary: "Closes the connection.", complexity: "O(1)", fn: quitCommand}.withRole(roleSubscribed | roleTxRunNow),
		{name: "select", arity: 2, flags: "loading stale fast", group: "connection", since: "1.0.0",
			summary: "Changes the selected database.", complexity: "O(1)", fn: selectCommand},
		{name: "auth", arity: -2, flags: "noscript loading stale fast no_auth allow_busy", group: "connection", since: "1.0.0",
			summary: "Authenticates the connection.", complexity: "O(N) where N is the number of passwords defined for the user", fn: authCommand},
		{name: "hello", arity: -1, flags: "noscript loading stale fast no_auth allow_busy", group: "connection", since: "6.0.0",
			summary: "Handshakes with the Redis server.", complexity: "O(1)", fn: helloCommand},
		spec{name: "reset", arity: 1, flags: "noscript loading stale fast no_auth allow_busy", group: "connection", since: "6.2.0",
			summary: "Resets the connection.", complexity: "O(1)", fn: resetCommand}.withRole(roleSubscribed | roleTxReset),
		clientSpec(),
	}
}

func pingCommand(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.Simple("PONG")
	case 2:
		c.Bulk(args[1])
	default:
		c.Err(protocol.WrongArity("ping"))
	}
}

func echoCommand(c *client, args [][]byte) { c.Bulk(args[1]) }

func quitCommand(c *client, args [][]byte) {
	c.OK()
	c.killed.Store(true)
	_ = c.Conn.Close() // flushes the OK first
}

func selectCommand(c *client, args [][]byte) {
	n, ok := protocol.ParseInt(args[1])
	if !ok || n < -1<<31 || n > 1<<31-1 {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if n != 0 && c.s.cl != nil { // as Redis: checked before the range
		c.Err(protocol.ErrSelectCluster)
		return
	}
	if n < 0 || n >= int64(c.s.store.Databases()) {
		c.Err(protocol.ErrDBIndex)
		return
	}
	c.Selected.Store(int32(n))
	c.OK()
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// checkPassword authenticates user/pass against requirepass. cached has one
// user, "default", as Redis without ACLs.
func (s *Server) checkPassword(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	want := s.password()
	if want == "" {
		return true // the default user has nopass
	}
	return subtle.ConstantTimeCompare([]byte(want), pass) == 1
}

func (s *Server) password() string {
	if p := s.requirePass.Load(); p != nil {
		return *p
	}
	return ""
}

func authCommand(c *client, args [][]byte) {
	var user, pass []byte
	switch len(args) {
	case 2:
		if c.s.password() == "" {
			c.Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		user, pass = []byte("default"), args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		c.Err(protocol.ErrSyntax)
		return
	}
	if !c.s.checkPassword(user, pass) {
		c.Err(errWrongPass)
		return
	}
	c.authed = true
	c.OK()
}

func helloCommand(c *client, args [][]byte) {
	proto := 0
	if len(args) >= 2 {
		v, ok := protocol.ParseInt(args[1])
		if !ok {
			c.Err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.Err("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
	}
	var name []byte
	setName := false
	for i := 2; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case strings.EqualFold(string(args[i]), "AUTH") && more >= 2:
			if !c.s.checkPassword(args[i+1], args[i+2]) {
				c.Err(errWrongPass)
				return
			}
			c.authed = true
			i += 2
		case strings.EqualFold(string(args[i]), "SETNAME") && more >= 1:
			if msg := validClientName(args[i+1]); msg != "" {
				c.Err(msg)
				return
			}
			name, setName = args[i+1], true
			i++
		default:
			c.Err("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if !c.authed {
		c.Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		c.mu.Lock()
		c.name = string(name)
		c.mu.Unlock()
	}
	if proto != 0 {
		c.RESP3.Store(proto == 3)
	}
	c.MapLen(7)
	c.BulkString("server")
	c.BulkString("redis")
	c.BulkString("version")
	c.BulkString(redisVersion)
	c.BulkString("proto")
	c.Int(int64(c.RESPVersion()))
	c.BulkString("id")
	c.Int(c.id)
	c.BulkString("mode")
	if c.s.cl != nil {
		c.BulkString("cluster")
	} else {
		c.BulkString("standalone")
	}
	c.BulkString("role")
	c.BulkString("master")
	c.BulkString("modules")
	c.Array(0)
}

// resetCommand is RESET: it clears the connection's state as Redis 7's
// clearClientConnectionState: MULTI and WATCH, subscriptions (silently),
// CLIENT REPLY, the database, the protocol, the name, READONLY and ASKING,
// and authentication when a password is required. NO-EVICT stays, as in
// redis-server 7.0 (7.2 clears it).
func resetCommand(c *client, args [][]byte) {
	c.s.endTx(c)
	c.leaveAll()
	c.Selected.Store(0)
	c.RESP3.Store(false)
	c.reply &^= replyOff | replySkipNext // as Redis: a SKIP in effect still drops +RESET
	c.clu.readonly, c.clu.asking = false, false
	c.mu.Lock()
	c.name = ""
	c.mu.Unlock()
	c.authed = c.s.password() == ""
	c.Simple("RESET")
}

// validClientName returns Redis's error for a name with spaces or special
// characters, or "".
func validClientName(name []byte) string {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			return "ERR Client names cannot contain spaces, newlines or special characters."
		}
	}
	return ""
}
