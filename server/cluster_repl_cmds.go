package server

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
)

// Replicas in CLUSTER SHARDS, CLUSTER NODES, CLUSTER REPLICAS and ROLE.
//
// Redis Cluster has one master per shard and replicas of the whole shard;
// here every slot has its own preference list (primary, then replicas), so
// a node is primary of some slots and replica of others at once. The
// commands show that as follows (docs/replication.md):
//
//   - CLUSTER SLOTS: each range with its primary, then its replicas.
//   - CLUSTER SHARDS: one shard per distinct preference list: the ranges
//     sharing that primary and those replicas, with the primary (role
//     master) and the replicas (role replica). Every node of a shard holds
//     every slot of it; a node may appear in several shards.
//   - CLUSTER NODES: a node that is primary of any slot is "master" with
//     its primary ranges. A node that is primary of none and replicates
//     slots of exactly one primary is "slave <primary-id>" (Redis's form);
//     other nodes without primary slots are "master" with no slots.
//   - CLUSTER REPLICAS id: the CLUSTER NODES lines of the nodes that hold a
//     replica of at least one of id's slots.
//   - ROLE: "master", this node's replication offset (records appended) and
//     its replica links, as Redis's master form.

// replRelations is what the commands above derive from one table.
type replRelations struct {
	v          *clusterView
	replicaOf  []string // by member index: the one primary a node without primary slots replicates, or ""
	replicasOf [][]int  // by member index: members replicating at least one of its slots, ascending
	shards     []shard  // ranges grouped by preference list, in order of their first slot
}

// shard is one CLUSTER SHARDS entry.
type shard struct {
	ranges []cluster.SlotRange
	nodes  []cluster.Member // primary first
}

var lastReplRelations atomic.Pointer[replRelations]

// relations returns v's replica relations, computed once per table.
func relations(v *clusterView) *replRelations {
	if r := lastReplRelations.Load(); r != nil && r.v == v {
		return r
	}
	ms := v.t.Members()
	r := &replRelations{v: v, replicaOf: make([]string, len(ms)), replicasOf: make([][]int, len(ms))}
	primaries := make([]map[int]bool, len(ms)) // by member: the primaries it replicates
	replicas := make([]map[int]bool, len(ms))  // by member: its replicas
	hasSlots := make([]bool, len(ms))
	byKey := map[string]int{}
	for _, pr := range prefRanges(v) {
		p := v.t.IndexOf(pr.nodes[0].ID)
		hasSlots[p] = true
		var key strings.Builder
		for _, m := range pr.nodes {
			key.WriteString(m.ID)
		}
		i, ok := byKey[key.String()]
		if !ok {
			i = len(r.shards)
			byKey[key.String()] = i
			r.shards = append(r.shards, shard{nodes: pr.nodes})
		}
		r.shards[i].ranges = append(r.shards[i].ranges, pr.SlotRange)
		for _, m := range pr.nodes[1:] {
			q := v.t.IndexOf(m.ID)
			if primaries[q] == nil {
				primaries[q] = map[int]bool{}
			}
			if replicas[p] == nil {
				replicas[p] = map[int]bool{}
			}
			primaries[q][p], replicas[p][q] = true, true
		}
	}
	for i := range ms {
		if !hasSlots[i] && len(primaries[i]) == 1 {
			for p := range primaries[i] {
				r.replicaOf[i] = ms[p].ID
			}
		}
		for q := range ms {
			if replicas[i][q] {
				r.replicasOf[i] = append(r.replicasOf[i], q)
			}
		}
	}
	lastReplRelations.Store(r)
	return r
}

// nodeLine is member i's CLUSTER NODES line.
func nodeLine(b *strings.Builder, v *clusterView, rel *replRelations, i int, epoch string) {
	m := v.t.Member(i)
	b.WriteString(m.ID + " " + v.addrs[i] + "@" + strconv.Itoa(gossipPort(m.GossipAddr)) + " ")
	if i == v.self {
		b.WriteString("myself,")
	}
	if p := rel.replicaOf[i]; p != "" {
		b.WriteString("slave " + p)
	} else {
		b.WriteString("master -")
	}
	b.WriteString(" 0 0 " + epoch + " connected")
	for _, r := range v.t.Ranges(m.ID) {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(r.Start))
		if r.End != r.Start {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.End))
		}
	}
	b.WriteByte('\n')
}

// nodesText is CLUSTER NODES: one line per node, as Redis formats it.
func nodesText(v *clusterView) string {
	var b strings.Builder
	rel := relations(v)
	epoch := strconv.FormatUint(v.t.Version(), 10)
	for i := range v.t.Members() {
		nodeLine(&b, v, rel, i, epoch)
	}
	return b.String()
}

// clusterReplicasCommand is CLUSTER REPLICAS (and SLAVES) id.
func clusterReplicasCommand(c *client, cs *clusterState, args [][]byte) {
	v := cs.view.Load()
	i := v.t.IndexOf(string(args[2]))
	if i < 0 {
		c.Err("ERR Unknown node " + string(args[2]))
		return
	}
	rel := relations(v)
	epoch := strconv.FormatUint(v.t.Version(), 10)
	c.Array(len(rel.replicasOf[i]))
	for _, q := range rel.replicasOf[i] {
		var b strings.Builder
		nodeLine(&b, v, rel, q, epoch)
		c.BulkString(b.String())
	}
}

// replLocal is what this node knows of replication offsets and health:
// its own offset, its replicas' acknowledged offsets and sync state, the
// offsets it applied from each primary it follows.
type replLocal struct {
	self    string
	last    uint64
	links   map[string]repl.LinkStats // by replica ID
	applied map[string]uint64         // by primary ID
}

func (s *Server) replLocal(selfID string) replLocal {
	l := replLocal{self: selfID}
	rs := s.repl.Load()
	if rs == nil {
		return l
	}
	ps := rs.p.Stats()
	l.last, l.links, l.applied = ps.LastIndex, map[string]repl.LinkStats{}, map[string]uint64{}
	for _, ls := range ps.Links {
		l.links[ls.ID] = ls
	}
	rs.mu.Lock()
	for id, rl := range rs.replicas {
		l.applied[id] = rl.r.Stats().AckIndex
	}
	rs.mu.Unlock()
	return l
}

// shardNode describes member m of a shard whose primary is primary.
func (l replLocal) shardNode(m cluster.Member, primary string) (role string, offset uint64, health string) {
	role, health = "replica", "online"
	switch {
	case m.ID == primary:
		role = "master"
		if m.ID == l.self {
			offset = l.last
		}
	case primary == l.self: // a replica of this node: its link says how far it is
		ls, ok := l.links[m.ID]
		offset = ls.AckIndex
		if !ok || !ls.Ready || ls.SnapSlotsLeft > 0 {
			health = "loading"
		}
	case m.ID == l.self:
		offset = l.applied[primary]
	}
	return role, offset, health
}

func clusterShardsCommand(c *client, cs *clusterState, _ [][]byte) {
	v := cs.view.Load()
	rel := relations(v)
	self := ""
	if v.self >= 0 {
		self = v.t.Member(v.self).ID
	}
	loc := c.s.replLocal(self)
	c.Array(len(rel.shards))
	for _, sh := range rel.shards {
		c.MapLen(2)
		c.BulkString("slots")
		c.Array(2 * len(sh.ranges))
		for _, r := range sh.ranges {
			c.Int(int64(r.Start))
			c.Int(int64(r.End))
		}
		c.BulkString("nodes")
		c.Array(len(sh.nodes))
		for _, m := range sh.nodes {
			role, off, health := loc.shardNode(m, sh.nodes[0].ID)
			c.MapLen(7)
			c.BulkString("id")
			c.BulkString(m.ID)
			c.BulkString("port")
			c.Int(int64(m.Port))
			c.BulkString("ip")
			c.BulkString(m.Host)
			c.BulkString("endpoint")
			c.BulkString(m.Host)
			c.BulkString("role")
			c.BulkString(role)
			c.BulkString("replication-offset")
			c.Int(int64(off))
			c.BulkString("health")
			c.BulkString(health)
		}
	}
}

// roleCommand is ROLE: always the master form (a node is primary of its own
// slots): "master", the replication offset (records appended), and per
// connected replica its RESP host, port and acknowledged offset.
func roleCommand(c *client, _ [][]byte) {
	rs := c.s.repl.Load()
	if rs == nil {
		c.Array(3)
		c.BulkString("master")
		c.Int(0)
		c.Array(0)
		return
	}
	ps := rs.p.Stats()
	c.Array(3)
	c.BulkString("master")
	c.Int(int64(ps.LastIndex))
	c.Array(len(ps.Links))
	for _, l := range ps.Links {
		host, port := rs.replicaAddr(l)
		c.Array(3)
		c.BulkString(host)
		c.BulkString(port)
		c.BulkString(strconv.FormatUint(l.AckIndex, 10))
	}
}

// replicaAddr is a replica link's RESP address: the member's announced one
// (Redis shows the replica's listening port), else the link's remote
// address.
func (rs *replState) replicaAddr(l repl.LinkStats) (host, port string) {
	if v := rs.s.cl.view.Load(); v != nil {
		if i := v.t.IndexOf(l.ID); i >= 0 {
			m := v.t.Member(i)
			return m.Host, strconv.Itoa(m.Port)
		}
	}
	host, port, _ = net.SplitHostPort(l.Addr)
	return host, port
}
