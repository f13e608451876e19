package cluster

import (
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
)

// meta is what a node gossips about itself in memberlist node meta.
type meta struct {
	ID   string `json:"id"`
	Host string `json:"h,omitempty"` // "" = host of the gossip address
	Port int    `json:"p"`
	// Leaving: the node shuts down gracefully; the coordinator plans it out
	// (staged: it serves until its slots are handed over).
	Leaving bool `json:"lv,omitempty"`
	// HeldVersion and NotLive are the node's holding report (stage_report.go):
	// for table HeldVersion, the slots it holds as replica or incoming
	// member whose copy is not live yet ("a-b,c,…").
	HeldVersion uint64 `json:"rv,omitempty"`
	NotLive     string `json:"nl,omitempty"`
	// Flushed: of those, the slots whose copy was dropped for a snapshot
	// still loading (holding.flushed). Only what fits is sent; a node
	// before stop 41 neither sends nor reads it.
	Flushed string `json:"fl,omitempty"`
	// Restarted: the node's process started anew under an ID the current
	// table lists (node_restart.go): it has none of that member's data,
	// so the coordinator plans it out as if dead, then back in as a joiner.
	Restarted bool `json:"rs,omitempty"`
}

func encodeMeta(m meta) []byte {
	b, _ := json.Marshal(m) // cannot fail: strings and an int
	return b
}

// memberOf turns a memberlist node into a Member; ok is false for a node
// whose meta is missing, malformed, or names another ID than the node.
func memberOf(n *memberlist.Node) (Member, bool) {
	var md meta
	if err := json.Unmarshal(n.Meta, &md); err != nil || md.ID != n.Name || !ValidID(md.ID) || md.Port < 0 || md.Port > 65535 {
		return Member{}, false
	}
	host := md.Host
	if host == "" && n.Addr != nil {
		host = n.Addr.String()
	}
	return Member{
		ID:         md.ID,
		Host:       host,
		Port:       md.Port,
		GossipAddr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
	}, true
}

// delegate implements memberlist.Delegate and memberlist.EventDelegate for a
// Node. memberlist calls the event methods serially, sometimes with its own
// node lock held: they must not call back into the Memberlist.
type delegate struct {
	n    *Node
	meta atomic.Pointer[[]byte] // this node's encoded meta (Node.setMeta)
}

// NodeMeta implements memberlist.Delegate.
func (d *delegate) NodeMeta(limit int) []byte {
	m := *d.meta.Load()
	if len(m) > limit {
		return nil // New and setMeta check against MetaMaxSize; never reached
	}
	return m
}

// extrasOf returns a node's meta (its flags: Leaving, Restarted) and its
// holding report (zero values if the meta is unreadable).
func extrasOf(n *memberlist.Node) (md meta, h holding) {
	if json.Unmarshal(n.Meta, &md) != nil {
		return meta{}, holding{}
	}
	h.version = md.HeldVersion
	nl, ok := decodeRanges(md.NotLive)
	if !ok {
		return md, holding{}
	}
	h.notLive = nl
	h.flushed, _ = decodeRanges(md.Flushed) // malformed: none (the report without it)
	return md, h
}

// NotifyMsg implements memberlist.Delegate: a gossiped slot table.
func (d *delegate) NotifyMsg(b []byte) { d.n.receive(b) }

// GetBroadcasts implements memberlist.Delegate: the queued slot table.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.queue.GetBroadcasts(overhead, limit)
}

// LocalState implements memberlist.Delegate: the current slot table, sent
// in every push/pull exchange (at join and every PushPullInterval).
func (d *delegate) LocalState(bool) []byte { return d.n.localState() }

// MergeRemoteState implements memberlist.Delegate: a peer's slot table.
func (d *delegate) MergeRemoteState(b []byte, _ bool) { d.n.receive(b) }

// NotifyJoin implements memberlist.EventDelegate.
func (d *delegate) NotifyJoin(n *memberlist.Node) { d.n.memberUp(n) }

// NotifyUpdate implements memberlist.EventDelegate.
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.n.memberUp(n) }

// NotifyLeave implements memberlist.EventDelegate (left or declared dead).
func (d *delegate) NotifyLeave(n *memberlist.Node) { d.n.memberDown(n.Name) }

// slogWriter feeds memberlist's "[LEVEL] memberlist: text" log lines to slog.
type slogWriter struct{ l *slog.Logger }

var logLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG] ", slog.LevelDebug},
	{"[INFO] ", slog.LevelInfo},
	{"[WARN] ", slog.LevelWarn},
	{"[ERR] ", slog.LevelError},
	{"[ERROR] ", slog.LevelError},
}

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	level := slog.LevelInfo
	for _, l := range logLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, level = rest, l.level
			break
		}
	}
	w.l.Log(context.Background(), level, line, "component", "memberlist")
	return len(p), nil
}

// memberlistLogger returns the *log.Logger memberlist writes to, or nil (then
// memberlist's LogOutput is set to io.Discard).
func memberlistLogger(l *slog.Logger) *log.Logger {
	if l == nil {
		return nil
	}
	return log.New(slogWriter{l}, "", 0)
}
