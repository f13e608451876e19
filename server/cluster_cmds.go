package server

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/protocol"
)

// CLUSTER and its subcommands, READONLY, READWRITE and ASKING, in Redis
// 7.0's reply formats. Slots are owned by consistent hashing of the member
// set, so the commands that assign slots by hand are refused.

// clusterHandler is a handler that runs only in cluster mode.
type clusterHandler func(c *client, cs *clusterState, args [][]byte)

func clusterOnly(fn clusterHandler) handlerFunc {
	return func(c *client, args [][]byte) {
		if c.s.cl == nil {
			c.Err(protocol.ErrClusterDisabled)
			return
		}
		if c.s.cl.view.Load() == nil {
			c.Err(protocol.ErrClusterDown)
			return
		}
		fn(c, c.s.cl, args)
	}
}

// clusterCommands declares CLUSTER, READONLY, READWRITE and ASKING.
func clusterCommands() []spec {
	conn := func(name, flags, since, summary string, fn clusterHandler) spec {
		return spec{name: name, arity: 1, flags: flags, acl: "connection", group: "cluster", since: since,
			summary: summary, complexity: "O(1)", fn: clusterOnly(fn)}
	}
	return []spec{
		{name: "cluster", arity: -2, group: "cluster", since: "3.0.0",
			summary: "A container for Redis Cluster commands.", complexity: "Depends on subcommand.",
			subs: clusterSubSpecs()},
		conn("readonly", "fast loading stale", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node.",
			func(c *client, _ *clusterState, _ [][]byte) { c.clu.readonly = true; c.OK() }),
		conn("readwrite", "fast loading stale", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node.",
			func(c *client, _ *clusterState, _ [][]byte) { c.clu.readonly = false; c.OK() }),
		conn("asking", "fast", "3.0.0", "Signals that a cluster client is following an -ASK redirect.",
			func(c *client, _ *clusterState, _ [][]byte) { c.clu.asking = true; c.OK() }),
	}
}

func clusterSubSpecs() []spec {
	sub := func(name string, arity int, flags, since, summary, complexity string, fn clusterHandler) spec {
		return spec{name: name, arity: arity, flags: flags, group: "cluster", since: since,
			summary: summary, complexity: complexity, fn: clusterOnly(fn)}
	}
	const adm = "admin stale no_async_loading"
	manual := func(name string, arity int, summary string) spec {
		return sub(name, arity, adm, "3.0.0", summary, "O(1)", clusterManualCommand)
	}
	return []spec{
		sub("info", 2, "stale", "3.0.0", "Returns information about the state of a node.", "O(1)", clusterInfoCommand).withTips("nondeterministic_output"),
		sub("myid", 2, "stale", "3.0.0", "Returns the ID of a node.", "O(1)", clusterMyIDCommand),
		sub("myshardid", 2, "stale", "7.2.0", "Returns the shard ID of a node.", "O(1)", clusterMyIDCommand),
		sub("nodes", 2, "stale", "3.0.0", "Returns the cluster configuration for a node.", "O(N) where N is the total number of Cluster nodes", clusterNodesCommand).withTips("nondeterministic_output"),
		sub("slots", 2, "stale", "3.0.0", "Returns the mapping of cluster slots to nodes.", "O(N) where N is the total number of Cluster nodes", clusterSlotsCommand).withTips("nondeterministic_output"),
		sub("shards", 2, "stale", "7.0.0", "Returns the mapping of cluster slots to shards.", "O(N) where N is the total number of cluster nodes", clusterShardsCommand).withTips("nondeterministic_output"),
		sub("links", 2, "stale", "7.0.0", "Returns a list of all TCP links to and from peer nodes.", "O(N) where N is the total number of Cluster nodes", clusterLinksCommand).withTips("nondeterministic_output"),
		sub("keyslot", 3, "stale", "3.0.0", "Returns the hash slot for a key.", "O(N) where N is the number of bytes in the key", clusterKeySlotCommand),
		sub("countkeysinslot", 3, "stale", "3.0.0", "Returns the number of keys in a hash slot.", "O(1)", clusterCountKeysCommand),
		sub("getkeysinslot", 4, "stale", "3.0.0", "Returns the key names in a hash slot.", "O(N) where N is the number of requested keys", clusterGetKeysCommand).withTips("nondeterministic_output").withKeyspace(),
		sub("meet", -4, adm, "3.0.0", "Forces a node to handshake with another node.", "O(1)", clusterMeetCommand),
		sub("forget", 3, adm, "3.0.0", "Removes a node from the nodes table.", "O(1)", clusterForgetCommand),
		sub("reset", -2, "admin stale noscript", "3.0.0", "Resets a node.", "O(N) where N is the number of known nodes", clusterResetCommand),
		sub("replicas", 3, "admin stale", "5.0.0", "Lists the replica nodes of a master node.", "O(1)", clusterReplicasCommand).withTips("nondeterministic_output"),
		sub("slaves", 3, "admin stale", "3.0.0", "Lists the replica nodes of a master node.", "O(1)", clusterReplicasCommand).withTips("nondeterministic_output"),
		sub("count-failure-reports", 3, "admin stale", "3.0.0", "Returns the number of active failure reports active for a node.", "O(N) where N is the number of failure reports", clusterFailureReportsCommand).withTips("nondeterministic_output"),
		sub("saveconfig", 2, adm, "3.0.0", "Forces a node to save the cluster configuration to disk.", "O(1)",
			func(c *client, _ *clusterState, _ [][]byte) { c.OK() }),
		sub("help", 2, "loading stale", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)", clusterHelpCommand),
		manual("addslots", -3, "Assigns new hash slots to a node."),
		manual("addslotsrange", -4, "Assigns new hash slot ranges to a node."),
		manual("delslots", -3, "Sets hash slots as unbound for a node."),
		manual("delslotsrange", -4, "Sets hash slot ranges as unbound for a node."),
		manual("flushslots", 2, "Deletes all slots information from a node."),
		manual("setslot", -4, "Binds a hash slot to a node."),
		manual("failover", -2, "Forces a replica to perform a manual failover of its master."),
		manual("replicate", 3, "Configure a node as replica of a master node."),
		manual("set-config-epoch", 3, "Sets the configuration epoch for a new node."),
		manual("bumpepoch", 2, "Advances the cluster config epoch.").withTips("nondeterministic_output"),
		// Node-to-node only: mark a connection as a peer's (never forwarded
		// again), deliver a PUBLISH to this node's subscribers, take the
		// cluster's function libraries.
		sub("x-peer", 2, "stale fast", "7.0.0", "cached internal: marks a node-to-node connection.", "O(1)",
			func(c *client, _ *clusterState, _ [][]byte) { c.clu.peer = true; c.OK() }),
		sub("x-publish", 4, "pubsub loading stale fast", "7.0.0", "cached internal: delivers a message published on another node.", "O(N+M)",
			func(c *client, _ *clusterState, args [][]byte) { c.Int(c.s.publishLocal(args[2], args[3])) }),
		sub("x-functions", 5, "noscript stale", "7.0.0", "cached internal: the cluster's function libraries, pushed by another node.", "O(N) where N is the number of functions",
			clusterXFunctionsCommand),
	}
}

func clusterManualCommand(c *client, _ *clusterState, args [][]byte) {
	c.Err("ERR CLUSTER " + strings.ToUpper(string(args[1])) +
		" is not supported: cached assigns slots automatically (consistent hashing over the live nodes)")
}

func clusterMyIDCommand(c *client, cs *clusterState, _ [][]byte) {
	c.BulkString(cs.node.Load().ID())
}

func clusterInfoCommand(c *client, cs *clusterState, _ [][]byte) {
	v := cs.view.Load()
	ms := v.t.Members()
	size, assigned := 0, 0
	for _, m := range ms {
		if rs := v.t.Ranges(m.ID); len(rs) > 0 {
			size++
			for _, r := range rs {
				assigned += r.End - r.Start + 1
			}
		}
	}
	state := "ok"
	if assigned < cluster.NumSlots || cs.down() {
		state = "fail"
	}
	var b strings.Builder
	line := func(k string, val any) {
		b.WriteString(k)
		b.WriteByte(':')
		switch x := val.(type) {
		case string:
			b.WriteString(x)
		case int:
			b.WriteString(strconv.Itoa(x))
		case uint64:
			b.WriteString(strconv.FormatUint(x, 10))
		}
		b.WriteString("\r\n")
	}
	line("cluster_state", state)
	line("cluster_slots_assigned", assigned)
	line("cluster_slots_ok", assigned)
	line("cluster_slots_pfail", 0)
	line("cluster_slots_fail", 0)
	line("cluster_known_nodes", len(ms))
	line("cluster_size", size)
	line("cluster_current_epoch", v.t.Version())
	line("cluster_my_epoch", v.t.Version())
	line("cluster_stats_messages_sent", cs.sent.Load())
	line("cluster_stats_messages_received", cs.received.Load())
	line("total_cluster_links_buffer_limit_exceeded", 0)
	c.Verbatim(b.String())
}

func clusterNodesCommand(c *client, cs *clusterState, _ [][]byte) {
	c.Verbatim(nodesText(cs.view.Load()))
}

func clusterSlotsCommand(c *client, cs *clusterState, _ [][]byte) {
	rs := prefRanges(cs.view.Load()) // repl_slots.go: primary, then the range's replicas
	c.Array(len(rs))
	for _, r := range rs {
		c.Array(2 + len(r.nodes))
		c.Int(int64(r.Start))
		c.Int(int64(r.End))
		for _, m := range r.nodes {
			c.Array(4)
			c.BulkString(m.Host)
			c.Int(int64(m.Port))
			c.BulkString(m.ID)
			c.MapLen(0)
		}
	}
}

func clusterLinksCommand(c *client, cs *clusterState, _ [][]byte) {
	v := cs.view.Load()
	ms := v.t.Members()
	c.Array(len(ms) - 1)
	for i, m := range ms {
		if i == v.self {
			continue
		}
		c.MapLen(6)
		c.BulkString("direction")
		c.BulkString("to")
		c.BulkString("node")
		c.BulkString(m.ID)
		c.BulkString("create-time")
		c.Int(0)
		c.BulkString("events")
		c.BulkString("rw")
		c.BulkString("send-buffer-allocated")
		c.Int(0)
		c.BulkString("send-buffer-used")
		c.Int(0)
	}
}

func clusterKeySlotCommand(c *client, _ *clusterState, args [][]byte) {
	c.Int(int64(protocol.KeySlot(args[2])))
}

func clusterCountKeysCommand(c *client, _ *clusterState, args [][]byte) {
	slot, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if slot < 0 || slot >= cluster.NumSlots {
		c.Err("ERR Invalid slot")
		return
	}
	c.Int(c.s.store.CountKeysInSlot(int(slot)))
}

func clusterGetKeysCommand(c *client, _ *clusterState, args [][]byte) {
	slot, ok1 := protocol.ParseInt(args[2])
	count, ok2 := protocol.ParseInt(args[3])
	if !ok1 || !ok2 {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if slot < 0 || slot >= cluster.NumSlots || count < 0 {
		c.Err("ERR Invalid slot or number of keys")
		return
	}
	c.Bulks(c.View().KeysInSlot(int(slot), int(min(count, 1<<30))))
}

func clusterMeetCommand(c *client, cs *clusterState, args [][]byte) {
	if len(args) > 5 {
		c.Err(protocol.ErrSyntax)
		return
	}
	port, ok := protocol.ParseInt(args[3])
	if !ok || port < 0 || port > 65535-10000 && len(args) == 4 || port > 65535 {
		c.Err("ERR Invalid base port specified: " + string(args[3]))
		return
	}
	cport := port + 10000
	if len(args) == 5 {
		cport, ok = protocol.ParseInt(args[4])
		if !ok || cport < 0 || cport > 65535 {
			c.Err("ERR Invalid bus port specified: " + string(args[4]))
			return
		}
	}
	host := string(args[2])
	if net.ParseIP(host) == nil {
		c.Err("ERR Invalid node address specified: " + host + ":" + string(args[3]))
		return
	}
	if _, err := cs.node.Load().Join([]string{net.JoinHostPort(host, strconv.FormatInt(cport, 10))}); err != nil {
		c.Err("ERR " + err.Error())
		return
	}
	c.OK()
}

func clusterForgetCommand(c *client, cs *clusterState, args [][]byte) {
	n := cs.node.Load()
	id := string(args[2])
	if id == n.ID() {
		c.Err("ERR I tried hard but I can't forget myself...")
		return
	}
	if err := n.Forget(id); err != nil {
		if errors.Is(err, cluster.ErrUnknownNode) {
			c.Err("ERR Unknown node " + id)
		} else {
			c.Err("ERR " + err.Error())
		}
		return
	}
	c.OK()
}

func clusterResetCommand(c *client, cs *clusterState, args [][]byte) {
	hard := false
	if len(args) == 3 {
		switch strings.ToLower(string(args[2])) {
		case "hard":
			hard = true
		case "soft":
		default:
			c.Err(protocol.ErrSyntax)
			return
		}
	} else if len(args) > 3 {
		c.Err(protocol.ErrSyntax)
		return
	}
	if c.s.store.DBSize(0) > 0 {
		c.Err("ERR CLUSTER RESET can't be called with master nodes containing keys")
		return
	}
	if err := cs.reset(hard); err != nil {
		c.Err("ERR " + err.Error())
		return
	}
	c.OK()
}

// knownNode reports whether id is a member, answering the error if not.
func knownNode(c *client, cs *clusterState, id []byte) bool {
	for _, m := range cs.view.Load().t.Members() {
		if m.ID == string(id) {
			return true
		}
	}
	c.Err("ERR Unknown node " + string(id))
	return false
}

func clusterFailureReportsCommand(c *client, cs *clusterState, args [][]byte) {
	if knownNode(c, cs, args[2]) {
		c.Int(0)
	}
}

var clusterHelp = []string{
	"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"COUNTKEYSINSLOT <slot>",
	"    Return the number of keys in <slot>.",
	"GETKEYSINSLOT <slot> <count>",
	"    Return key names stored by current node in a slot.",
	"FORGET <node-id>",
	"    Remove a node from the cluster (gossip may bring it back while it is alive).",
	"INFO",
	"    Return information about the cluster.",
	"KEYSLOT <key>",
	"    Return the hash slot for <key>.",
	"LINKS",
	"    Return information about all network links between this node and its peers.",
	"MEET <ip> <port> [<bus-port>]",
	"    Connect nodes into a working cluster (bus-port: the peer's cluster-port, default port+10000).",
	"MYID",
	"    Return the node id.",
	"MYSHARDID",
	"    Return the node's shard id.",
	"NODES",
	"    Return cluster configuration seen by node. Output format:",
	"    <id> <ip:port@cport> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
	"REPLICAS <node-id>",
	"    Return <node-id> replicas.",
	"RESET [HARD|SOFT]",
	"    Leave the cluster and become a one-node cluster (HARD: with a new node id).",
	"SHARDS",
	"    Return information about slot range mappings and the nodes associated with them.",
	"SLOTS",
	"    Return information about slots range mappings. Each range is made of:",
	"    start, end, master and replicas IP addresses, ports and ids",
	"ADDSLOTS, ADDSLOTSRANGE, DELSLOTS, DELSLOTSRANGE, FLUSHSLOTS, SETSLOT, FAILOVER, REPLICATE",
	"    Not supported: slots are assigned automatically by consistent hashing over the live nodes.",
	"HELP",
	"    Prints this help.",
}

func clusterHelpCommand(c *client, _ *clusterState, _ [][]byte) {
	c.Array(len(clusterHelp))
	for _, l := range clusterHelp {
		c.Simple(l)
	}
}
