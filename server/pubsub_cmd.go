package server

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/pubsub"
)

// testCommands are extra commands tests declare (from an init function)
// to exercise sessions; empty in the binary.
var testCommands []spec

// pubsubCommands declares SUBSCRIBE, PUBLISH, PUBSUB and the shard variants.
func pubsubCommands() []spec {
	const sub, pub = "pubsub noscript loading stale", "pubsub loading stale fast may_replicate"
	ps := func(name string, arity int, flags, summary string, fn handlerFunc) spec {
		return spec{name: name, arity: arity, flags: flags, group: "pubsub", since: "2.8.0",
			summary: summary, complexity: "O(N)", fn: fn}
	}
	out := []spec{
		spec{name: "subscribe", arity: -2, flags: sub, group: "pubsub", since: "2.0.0", complexity: "O(N) for the number of channels",
			summary: "Listens for messages published to channels.", fn: subscribeCommand}.withRole(roleSubscribed | rolePushReply),
		spec{name: "unsubscribe", arity: -1, flags: sub, group: "pubsub", since: "2.0.0", complexity: "O(N) for the number of channels",
			summary: "Stops listening to messages posted to channels.", fn: unsubscribeCommand}.withRole(roleSubscribed | rolePushReply),
		spec{name: "psubscribe", arity: -2, flags: sub, group: "pubsub", since: "2.0.0", complexity: "O(N) for the number of patterns",
			summary: "Listens for messages published to channels that match one or more patterns.", fn: psubscribeCommand}.withRole(roleSubscribed | rolePushReply),
		spec{name: "punsubscribe", arity: -1, flags: sub, group: "pubsub", since: "2.0.0", complexity: "O(N) for the number of patterns",
			summary: "Stops listening to messages published to channels that match one or more patterns.", fn: punsubscribeCommand}.withRole(roleSubscribed | rolePushReply),
		{name: "publish", arity: 3, flags: pub, group: "pubsub", since: "2.0.0", complexity: "O(N+M) for N subscribers and M patterns",
			summary: "Posts a message to a channel.", fn: publishCommand},
		spec{name: "ssubscribe", arity: -2, flags: sub, first: 1, last: -1, step: 1, group: "pubsub", since: "7.0.0",
			complexity: "O(N) for the number of shard channels",
			summary:    "Listens for messages published to shard channels.", fn: ssubscribeCommand}.withRole(roleSubscribed | roleConnState | rolePushReply).withKeys("not_key | index 1 | range -1 1 0"),
		spec{name: "sunsubscribe", arity: -1, flags: sub, first: 1, last: -1, step: 1, group: "pubsub", since: "7.0.0",
			complexity: "O(N) for the number of shard channels",
			summary:    "Stops listening to messages posted to shard channels.", fn: sunsubscribeCommand}.withRole(roleSubscribed | roleConnState | rolePushReply).withKeys("not_key | index 1 | range -1 1 0"),
		spec{name: "spublish", arity: 3, flags: pub, first: 1, last: 1, step: 1, group: "pubsub", since: "7.0.0",
			complexity: "O(N) for the number of subscribers", summary: "Post a message to a shard channel", fn: spublishCommand}.withKeys("not_key | index 1 | range 0 1 0"),
		{name: "pubsub", arity: -2, group: "pubsub", since: "2.8.0", summary: "A container for Pub/Sub commands.",
			complexity: "Depends on subcommand.", subs: []spec{
				ps("channels", -2, "pubsub loading stale", "Returns the active channels.", pubsubChannelsCommand),
				ps("numpat", 2, "pubsub loading stale", "Returns a count of unique pattern subscriptions.", pubsubNumpatCommand),
				ps("numsub", -2, "pubsub loading stale", "Returns a count of subscribers to channels.", pubsubNumsubCommand),
				ps("shardchannels", -2, "pubsub loading stale", "Returns the active shard channels.", pubsubShardChannelsCommand),
				ps("shardnumsub", -2, "pubsub loading stale", "Returns the count of subscribers of shard channels.", pubsubShardNumsubCommand),
				ps("help", 2, "loading stale", "Returns helpful text about the different subcommands.", pubsubHelpCommand),
			}},
	}
	return append(out, testCommands...)
}

// pubsubContextError is Redis 7.0's refusal of a command in RESP2 subscribed mode.
func pubsubContextError(name string) string {
	return "ERR Can't execute '" + name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}

// pubsubRefuses answers and returns true if cmd may not run in the client's
// subscribed context (RESP2: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING,
// QUIT, RESET). PING is answered here with Redis's subscribed form.
func pubsubRefuses(c *client, cmd *command) bool {
	if c.RESP3.Load() || !c.subscribed() {
		return false
	}
	if cmd.role&roleSubscribed != 0 { // PING is answered by session.run (subscribedPing)
		return false
	}
	c.reject(cmd, pubsubContextError(cmd.fullName))
	return true
}

// subscribedPing answers PING for a RESP2 subscribed client as Redis does:
// ["pong", message or ""]. It returns false for other clients.
func subscribedPing(c *client, args [][]byte) bool {
	if c.RESP3.Load() || !c.subscribed() {
		return false
	}
	c.Array(2)
	c.BulkString("pong")
	if len(args) > 1 {
		c.Bulk(args[1])
	} else {
		c.BulkString("")
	}
	return true
}

// subscribeReply writes one (un)subscribe confirmation: a RESP3 push or a
// RESP2 array of kind, name (nil: a null) and count.
func (c *client) subscribeReply(kind string, name []byte, null bool, count int) {
	b := c.Scratch[:0]
	if c.RESP3.Load() {
		b = protocol.AppendPush(b, 3)
	} else {
		b = protocol.AppendArray(b, 3)
	}
	b = protocol.AppendBulkString(b, kind)
	switch {
	case !null:
		b = protocol.AppendBulk(b, name)
	case c.RESP3.Load():
		b = protocol.AppendNull(b)
	default:
		b = protocol.AppendNullBulk(b)
	}
	b = protocol.AppendInt(b, int64(count))
	c.Scratch = b
	c.Raw(b)
}

// subscriptionCount is what (un)subscribe replies report: channels plus
// patterns, or shard channels for the shard commands.
func (c *client) subscriptionCount(kind pubsub.Kind) int {
	sub, psub, ssub := c.subCounts()
	if kind == pubsub.Shard {
		return ssub
	}
	return sub + psub
}

func subscribeCommand(c *client, args [][]byte) { c.subscribeTo(pubsub.Channel, "subscribe", args[1:]) }
func psubscribeCommand(c *client, args [][]byte) {
	c.subscribeTo(pubsub.Pattern, "psubscribe", args[1:])
}
func ssubscribeCommand(c *client, args [][]byte) { c.subscribeTo(pubsub.Shard, "ssubscribe", args[1:]) }

func unsubscribeCommand(c *client, args [][]byte) {
	c.unsubscribeFrom(pubsub.Channel, "unsubscribe", args[1:])
}

func punsubscribeCommand(c *client, args [][]byte) {
	c.unsubscribeFrom(pubsub.Pattern, "punsubscribe", args[1:])
}

func sunsubscribeCommand(c *client, args [][]byte) {
	c.unsubscribeFrom(pubsub.Shard, "sunsubscribe", args[1:])
}

// subscribeTo subscribes c to names, detaching it first, with one reply per name.
func (c *client) subscribeTo(kind pubsub.Kind, verb string, names [][]byte) {
	ss := c.detach()
	m := c.member()
	for _, name := range names {
		c.s.pubsub.Subscribe(m, kind, name)
		ss.subscribed.Store(true)
		c.subscribeReply(verb, name, false, c.subscriptionCount(kind))
	}
}

// unsubscribeFrom leaves names (all of kind if none), one reply per name; with
// nothing to leave, one reply with a null name, as Redis.
func (c *client) unsubscribeFrom(kind pubsub.Kind, verb string, names [][]byte) {
	m := c.ps.Load()
	if len(names) == 0 && m != nil {
		for _, n := range c.s.pubsub.Names(m, kind) {
			names = append(names, []byte(n))
		}
	}
	if len(names) == 0 {
		c.subscribeReply(verb, nil, true, c.subscriptionCount(kind))
		return
	}
	for _, name := range names {
		if m != nil {
			c.s.pubsub.Unsubscribe(m, kind, string(name))
		}
		c.subscribeReply(verb, name, false, c.subscriptionCount(kind))
	}
	if c.sess != nil && !c.subscribed() {
		c.sess.subscribed.Store(false)
	}
}

func publishCommand(c *client, args [][]byte) {
	if cs := c.s.cl; cs != nil && !c.clu.peer { // cluster: every node's subscribers (also from EXEC)
		cs.broadcastPublish(args[1], args[2])
	}
	c.Int(c.s.publishLocal(args[1], args[2]))
}

func spublishCommand(c *client, args [][]byte) {
	c.Int(c.s.pubsub.PublishShard(args[1], args[2]))
}

func pubsubChannelsCommand(c *client, args [][]byte) { c.pubsubChannels(pubsub.Channel, args) }

func pubsubShardChannelsCommand(c *client, args [][]byte) { c.pubsubChannels(pubsub.Shard, args) }

func (c *client) pubsubChannels(kind pubsub.Kind, args [][]byte) {
	if len(args) > 3 {
		name := "pubsub|channels"
		if kind == pubsub.Shard {
			name = "pubsub|shardchannels"
		}
		c.Err(protocol.WrongArity(name))
		return
	}
	var pattern []byte
	if len(args) == 3 {
		pattern = args[2]
	}
	c.Strs(c.s.pubsub.Active(kind, pattern))
}

func pubsubNumsubCommand(c *client, args [][]byte) { c.pubsubNumsub(pubsub.Channel, args[2:]) }

func pubsubShardNumsubCommand(c *client, args [][]byte) { c.pubsubNumsub(pubsub.Shard, args[2:]) }

func (c *client) pubsubNumsub(kind pubsub.Kind, names [][]byte) {
	counts := c.s.pubsub.NumSub(kind, names)
	c.Array(2 * len(names))
	for i, n := range names {
		c.Bulk(n)
		c.Int(int64(counts[i]))
	}
}

func pubsubNumpatCommand(c *client, args [][]byte) { c.Int(c.s.pubsub.Size(pubsub.Pattern)) }

func pubsubHelpCommand(c *client, args [][]byte) {
	c.HelpReply("PUBSUB", []string{
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard level channel(s)",
	})
}
