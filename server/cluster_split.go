package server

import (
	"bufio"
	"bytes"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/peer"
)

// This file splits the multi-key commands whose keys span several slots
// (proxy mode only): the commands whose table entry has a split kind (MGET,
// MSET, DEL, EXISTS, UNLINK, TOUCH) are sent in parts to each owner, and
// the parts' replies merged as one node would have answered (splitValues in
// the order asked, splitCount summed, splitPairs OK).

// splitPart is the keys (argument indexes) of one owner.
type splitPart struct {
	owner int
	idx   []int
	call  *peer.Call
	err   error
}

// split runs a cross-slot splittable command. It returns false (run here)
// when this node owns every key: one node serves keys of several slots.
func (cs *clusterState) split(c *client, cmd *command, args [][]byte, v *clusterView) bool {
	step := max(cmd.step, 1)
	if (len(args)-1)%step != 0 {
		return false // wrong arity: the handler answers
	}
	var parts []*splitPart
	byOwner := map[int]*splitPart{}
	for i := 1; i < len(args); i += step {
		o := v.t.OwnerIndex(protocol.KeySlot(args[i]))
		p := byOwner[o]
		if p == nil {
			p = &splitPart{owner: o}
			byOwner[o] = p
			parts = append(parts, p)
		}
		p.idx = append(p.idx, i)
	}
	if len(parts) == 1 && parts[0].owner == v.self {
		return false
	}
	cs.sendParts(c, args, step, parts, v)
	for _, p := range parts {
		if p.call != nil {
			p.call.Wait()
			cs.received.Add(1)
			p.err = p.call.Err
		}
	}
	cs.mergeParts(c, cmd, args, parts)
	for _, p := range parts {
		if p.call != nil {
			p.call.Release()
		}
	}
	return true
}

// sendParts sends each owner its part, all before waiting for any reply.
func (cs *clusterState) sendParts(c *client, args [][]byte, step int, parts []*splitPart, v *clusterView) {
	for _, p := range parts {
		sub := make([][]byte, 0, 1+len(p.idx)*step)
		sub = append(sub, args[0])
		for _, i := range p.idx {
			sub = append(sub, args[i:i+step]...)
		}
		addr := v.addrs[p.owner]
		if p.owner == v.self {
			addr = cs.s.Addr() // this node's part: the bound address, whatever is announced
		}
		call := peer.NewCall()
		if err := cs.sendTo(c, addr, call, sub); err != nil {
			call.Release()
			p.err = err
			continue
		}
		p.call = call
	}
}

// mergeParts writes the merged reply, or the first error of a part.
func (cs *clusterState) mergeParts(c *client, cmd *command, args [][]byte, parts []*splitPart) {
	v := cs.view.Load()
	var elems [][]byte // MGET: raw elements by argument index
	if cmd.split == splitValues {
		elems = make([][]byte, len(args))
	}
	var sum int64
	for _, p := range parts {
		if p.err != nil {
			c.Err(proxyError(v.addrOf(p.owner), p.err))
			return
		}
		r := p.call.Reply
		if len(r) > 0 && (r[0] == '-' || r[0] == '!') {
			c.Raw(r)
			return
		}
		switch cmd.split {
		case splitValues:
			es, ok := splitArray(r)
			if !ok || len(es) != len(p.idx) {
				c.Err(proxyError(v.addrOf(p.owner), protocol.ErrProtocol))
				return
			}
			for k, i := range p.idx {
				elems[i] = es[k]
			}
		case splitPairs:
		default:
			n, ok := protocol.ParseInt(bytes.TrimSuffix(bytes.TrimPrefix(r, []byte(":")), []byte("\r\n")))
			if !ok {
				c.Err(proxyError(v.addrOf(p.owner), protocol.ErrProtocol))
				return
			}
			sum += n
		}
	}
	switch cmd.split {
	case splitValues:
		c.Array(len(args) - 1)
		for _, e := range elems[1:] {
			c.Raw(e)
		}
	case splitPairs:
		c.OK()
	default:
		c.Int(sum)
	}
}

func (v *clusterView) addrOf(i int) string {
	if i >= 0 && i < len(v.addrs) {
		return v.addrs[i]
	}
	return "?"
}

// splitArray returns the raw elements of a raw array reply.
func splitArray(r []byte) ([][]byte, bool) {
	br := bufio.NewReader(bytes.NewReader(r))
	hdr, err := br.ReadSlice('\n')
	if err != nil || len(hdr) < 4 || hdr[0] != '*' {
		return nil, false
	}
	n, ok := protocol.ParseInt(hdr[1 : len(hdr)-2])
	if !ok || n < 0 {
		return nil, false
	}
	out := make([][]byte, 0, n)
	for range n {
		e, err := peer.ReadRaw(br, nil)
		if err != nil {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}
