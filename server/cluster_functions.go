package server

// In cluster mode the function libraries (FUNCTION LOAD) are the
// cluster's, not one node's: every slot can move to another node (a
// failover, a join, a leave), and FCALL must find its function wherever
// the slot goes. Each change of a node's library set takes a version, one
// above the highest it has seen, tagged with the node's ID; the node then
// pushes its whole set (a FUNCTION DUMP payload) to every other member
// with CLUSTER X-FUNCTIONS, and pushes it to each member that appears in a
// later table (a join, a rejoin, a healed partition). A node replaces its
// set with a pushed one whose (version, origin) is higher than its own,
// so every node ends with the set of the last change (last writer wins:
// of two changes made at once on two nodes, one is lost).

import (
	"strconv"
	"sync"
)

// librarySync is clusterState's part of the above.
type librarySync struct {
	mu      sync.Mutex // serializes changes of the library set, local and pushed
	ver     uint64     // version of the set held; 0: never changed
	origin  string     // ID of the node that made that change
	pending map[string]bool
	kick    chan struct{} // cap 1: pending has addresses (push loop)
}

// changeLibraries runs change (a FUNCTION LOAD, DELETE, FLUSH or
// RESTORE), and in cluster mode, if it reports a change, gives the set a
// new version and queues a push to every other member.
func (s *Server) changeLibraries(change func() bool) bool {
	cs := s.cl
	if cs == nil {
		return change()
	}
	ls := &cs.libs
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !change() {
		return false
	}
	ls.ver++
	ls.origin = cs.node.Load().ID()
	if v := cs.view.Load(); v != nil {
		for i, addr := range v.addrs {
			if i != v.self {
				ls.queueLocked(addr)
			}
		}
	}
	return true
}

// queueLocked queues a push to addr. ls.mu must be held.
func (ls *librarySync) queueLocked(addr string) {
	if ls.pending == nil {
		ls.pending = map[string]bool{}
	}
	ls.pending[addr] = true
	select {
	case ls.kick <- struct{}{}:
	default:
	}
}

// membersAdded queues a push of a changed set to the members of next not
// in prev.
func (cs *clusterState) membersAdded(prev, next *clusterView) {
	ls := &cs.libs
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.ver == 0 {
		return
	}
	for i, m := range next.t.Members() {
		if i == next.self || prev != nil && prev.t.IndexOf(m.ID) >= 0 {
			continue
		}
		ls.queueLocked(next.addrs[i])
	}
}

// pushLibraries sends the library set to the queued members until the
// server stops. Pushes are not acknowledged: a member a push does not reach
// gets the set at its next change, or when it rejoins.
func (s *Server) pushLibraries() {
	defer s.wg.Done()
	cs := s.cl
	ls := &cs.libs
	for {
		select {
		case <-s.stop:
			return
		case <-ls.kick:
		}
		ls.mu.Lock()
		pending := ls.pending
		ls.pending = nil
		args := [][]byte{[]byte("CLUSTER"), []byte("X-FUNCTIONS"), strconv.AppendUint(nil, ls.ver, 10),
			[]byte(ls.origin), librariesPayload(s.scripts.ListLibraries())}
		ls.mu.Unlock()
		for addr := range pending {
			pc, err := cs.peers.Get(addr, false)
			if err == nil {
				err = pc.Send(nil, args)
			}
			if err != nil {
				s.log.Warn("functions: push failed", "addr", addr, "error", err)
				continue
			}
			cs.sent.Add(1)
		}
	}
}

// clusterXFunctionsCommand is CLUSTER X-FUNCTIONS version origin payload:
// another node's library set, taken if newer than this node's. The reply
// is 1 if taken, 0 if not.
func clusterXFunctionsCommand(c *client, cs *clusterState, args [][]byte) {
	ver, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil {
		c.Err("ERR invalid library version")
		return
	}
	codes, msg := parseLibrariesPayload(args[4])
	if msg != "" {
		c.Err(msg)
		return
	}
	origin := string(args[3])
	ls := &cs.libs
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ver < ls.ver || ver == ls.ver && origin <= ls.origin {
		c.Int(0)
		return
	}
	if err := c.s.scripts.RestoreLibraries(codes, true, false); err != nil {
		c.s.log.Warn("functions: pushed set refused", "origin", origin, "version", ver, "error", err.Msg)
		c.Err(err.Msg)
		return
	}
	ls.ver, ls.origin = ver, origin
	c.s.log.Info("functions: took the cluster's library set", "origin", origin, "version", ver, "libraries", len(codes))
	c.Int(1)
}
