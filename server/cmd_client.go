package server

import (
	"strings"
	"time"

	"github.com/cached/cached/protocol"
)

func clientSpec() spec {
	sub := func(name string, arity int, flags, summary string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, group: "connection", since: "2.4.0",
			summary: summary, complexity: "O(1)", fn: fn, acl: "connection"}
	}
	return spec{name: "client", arity: -2, group: "connection", since: "2.4.0",
		summary: "A container for client connection commands.", complexity: "Depends on subcommand.",
		subs: []spec{
			sub("id", 2, "noscript loading stale", "Returns the unique client ID of the connection.", clientIDCommand),
			sub("info", 2, "noscript loading stale", "Returns information about the connection.", clientInfoCommand).withTips("nondeterministic_output"),
			sub("list", -2, "admin noscript loading stale", "Lists open connections.", clientListCommand).withTips("nondeterministic_output"),
			sub("kill", -3, "admin noscript loading stale", "Terminates open connections.", clientKillCommand),
			sub("setname", 3, "noscript loading stale", "Sets the connection name.", clientSetNameCommand),
			sub("getname", 2, "noscript loading stale", "Returns the name of the connection.", clientGetNameCommand),
			sub("setinfo", 4, "noscript loading stale", "Sets information specific to the client or connection.", clientSetInfoCommand),
			spec{name: "reply", arity: 3, flags: "noscript loading stale", group: "connection", since: "3.2.0",
				summary: "Instructs the server whether to reply to commands.", complexity: "O(1)",
				fn: clientReplyCommand, acl: "connection"},
			sub("no-evict", 3, "admin noscript loading stale", "Sets the client eviction mode of the connection.", clientNoEvictCommand),
			sub("pause", -3, "admin noscript loading stale", "Suspends commands processing.", clientPauseCommand),
			sub("unpause", 2, "admin noscript loading stale", "Resumes processing commands from paused clients.", clientUnpauseCommand),
			sub("unblock", -3, "admin noscript loading stale", "Unblocks a client blocked by a blocking command from a different connection.", clientUnblockCommand), // blocking.go
			sub("help", 2, "loading stale", "Returns helpful text about the different subcommands.", clientHelpCommand),
		}}
}

func clientIDCommand(c *client, args [][]byte) { c.Int(c.id) }

func clientInfoCommand(c *client, args [][]byte) {
	c.Verbatim(c.info(time.Now()) + "\n")
}

func clientListCommand(c *client, args [][]byte) {
	var ids map[int64]bool
	typ := ""
	for i := 2; i < len(args); i++ {
		switch {
		case strings.EqualFold(string(args[i]), "TYPE") && i+1 < len(args):
			t, ok := clientType(string(args[i+1]))
			if !ok {
				c.Err("ERR Unknown client type '" + string(args[i+1]) + "'")
				return
			}
			typ = t
			i++
		case strings.EqualFold(string(args[i]), "ID") && i+1 < len(args):
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				id, ok := protocol.ParseInt(args[i])
				if !ok || id <= 0 {
					c.Err("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	}
	now := time.Now()
	var b strings.Builder
	for _, cl := range c.s.clients.list() {
		if ids != nil && !ids[cl.id] {
			continue
		}
		if typ != "" && typ != cl.kind() {
			continue
		}
		b.WriteString(cl.info(now))
		b.WriteByte('\n')
	}
	c.Verbatim(b.String())
}

// kind is the client's type for CLIENT LIST/KILL TYPE: pubsub while it has
// subscriptions, normal otherwise (cached has no replica or master links).
func (c *client) kind() string {
	if sub, psub, ssub := c.subCounts(); sub+psub+ssub > 0 {
		return "pubsub"
	}
	return "normal"
}

// clientType normalizes a CLIENT LIST/KILL TYPE argument.
func clientType(t string) (string, bool) {
	switch strings.ToLower(t) {
	case "normal":
		return "normal", true
	case "master":
		return "master", true
	case "slave", "replica":
		return "replica", true
	case "pubsub":
		return "pubsub", true
	}
	return "", false
}

// killFilter is a parsed CLIENT KILL filter.
type killFilter struct {
	id     int64
	typ    string
	addr   string
	laddr  string
	skipMe bool
}

func (f *killFilter) match(cl, self *client) bool {
	switch {
	case f.skipMe && cl == self:
		return false
	case f.id != 0 && cl.id != f.id:
		return false
	case f.typ != "" && f.typ != cl.kind():
		return false
	case f.addr != "" && cl.addr != f.addr:
		return false
	case f.laddr != "" && cl.laddr != f.laddr:
		return false
	}
	return true
}

func clientKillCommand(c *client, args [][]byte) {
	if len(args) == 3 { // old form: CLIENT KILL addr:port
		f := killFilter{addr: string(args[2])}
		if c.killMatching(&f) == 0 {
			c.Err("ERR No such client")
			return
		}
		c.OK()
		return
	}
	f, msg := parseKillFilter(args[2:])
	if msg != "" {
		c.Err(msg)
		return
	}
	c.Int(int64(c.killMatching(&f)))
}

func parseKillFilter(args [][]byte) (killFilter, string) {
	f := killFilter{skipMe: true}
	if len(args)%2 != 0 {
		return f, protocol.ErrSyntax
	}
	for i := 0; i < len(args); i += 2 {
		v := string(args[i+1])
		switch strings.ToLower(string(args[i])) {
		case "id":
			id, ok := protocol.ParseInt(args[i+1])
			if !ok || id <= 0 {
				return f, "ERR client-id should be greater than 0"
			}
			f.id = id
		case "type":
			t, ok := clientType(v)
			if !ok {
				return f, "ERR Unknown client type '" + v + "'"
			}
			f.typ = t
		case "addr":
			f.addr = v
		case "laddr":
			f.laddr = v
		case "user":
			if v != "default" {
				return f, "ERR No such user '" + v + "'"
			}
		case "skipme":
			switch strings.ToLower(v) {
			case "yes":
				f.skipMe = true
			case "no":
				f.skipMe = false
			default:
				return f, protocol.ErrSyntax
			}
		default:
			return f, protocol.ErrSyntax
		}
	}
	return f, ""
}

// killMatching closes the clients the filter matches. Killing oneself takes
// effect after this command's reply is written, as in Redis.
func (c *client) killMatching(f *killFilter) int {
	n := 0
	for _, cl := range c.s.clients.list() {
		if !f.match(cl, c) {
			continue
		}
		n++
		if cl == c {
			c.killed.Store(true)
			c.closeAfterReply = true
			continue
		}
		cl.close()
	}
	return n
}

func clientSetNameCommand(c *client, args [][]byte) {
	if msg := validClientName(args[2]); msg != "" {
		c.Err(msg)
		return
	}
	c.mu.Lock()
	c.name = string(args[2])
	c.mu.Unlock()
	c.OK()
}

func clientGetNameCommand(c *client, args [][]byte) {
	name := c.getName()
	if name == "" {
		c.Null()
		return
	}
	c.BulkString(name)
}

func clientSetInfoCommand(c *client, args [][]byte) {
	attr := strings.ToLower(string(args[2]))
	if attr != "lib-name" && attr != "lib-ver" {
		c.Err("ERR Unrecognized option '" + string(args[2]) + "'")
		return
	}
	for _, ch := range args[3] {
		if ch < '!' || ch > '~' {
			c.Err("ERR " + attr + " cannot contain spaces, newlines or special characters.")
			return
		}
	}
	c.mu.Lock()
	if attr == "lib-name" {
		c.libName = string(args[3])
	} else {
		c.libVer = string(args[3])
	}
	c.mu.Unlock()
	c.OK()
}

// clientReplyCommand is CLIENT REPLY ON|OFF|SKIP. ON replies OK; OFF and
// SKIP reply nothing (dispatch drops what the client is not to receive).
// Pub/sub messages and other pushes still arrive, as in Redis 7.
func clientReplyCommand(c *client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.reply &^= replySkip | replyOff
		c.OK()
	case "off":
		c.reply |= replyOff
	case "skip":
		if c.reply&replyOff == 0 {
			c.reply |= replySkipNext
		}
	default:
		c.Err(protocol.ErrSyntax)
	}
}

func clientNoEvictCommand(c *client, args [][]byte) {
	switch strings.ToLower(string(args[2])) {
	case "on":
		c.noEvict.Store(true)
	case "off":
		c.noEvict.Store(false)
	default:
		c.Err(protocol.ErrSyntax)
		return
	}
	c.OK()
}

func clientHelpCommand(c *client, args [][]byte) {
	c.HelpReply("CLIENT", []string{
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"LIST [options ...]", "    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
		"    * ID id [id ...]", "      Return clients of specified IDs only.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
		"    * USER <username>", "      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
		"    * ID <client-id>", "      Kill connections by client id.",
		"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"GETNAME", "    Return the name of the current connection.",
		"SETINFO <option> <value>", "    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
		"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
		"PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
		"UNPAUSE", "    Stop the current client pause, resuming traffic.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
	})
}
