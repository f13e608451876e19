package list

import "bytes"

// Iter walks a list from one element towards the tail or the head. It is
// invalid once the list changes. The zero Iter yields nothing.
type Iter struct {
	l   *List
	ni  int // node
	p   int // forward: start of the next entry; reverse: end of the next entry
	rev bool
	ok  bool
}

// Iter returns an iterator starting at element idx (0 <= idx < Len; out of
// range yields nothing), going towards the tail, or towards the head when
// reverse is set.
func (l *List) Iter(idx int, reverse bool) Iter {
	if idx < 0 || idx >= l.n {
		return Iter{}
	}
	ni, p := l.locate(idx)
	if reverse {
		_, p = readAt(l.nd(ni).b, p)
	}
	return Iter{l: l, ni: ni, p: p, rev: reverse, ok: true}
}

// Next returns the next element (aliasing the list) or false at the end.
func (it *Iter) Next() ([]byte, bool) {
	if !it.ok {
		return nil, false
	}
	l := it.l
	if !it.rev {
		for it.p >= len(l.nd(it.ni).b) {
			it.ni++
			it.p = 0
			if it.ni >= l.nodes() {
				it.ok = false
				return nil, false
			}
		}
		v, next := readAt(l.nd(it.ni).b, it.p)
		it.p = next
		return v, true
	}
	for it.p == 0 {
		it.ni--
		if it.ni < 0 {
			it.ok = false
			return nil, false
		}
		it.p = len(l.nd(it.ni).b)
	}
	s := startBefore(l.nd(it.ni).b, it.p)
	v, _ := readAt(l.nd(it.ni).b, s)
	it.p = s
	return v, true
}

// Range calls fn with elements start..stop (inclusive, 0 <= start <= stop
// < Len) in order until fn returns false. The bytes alias the list.
func (l *List) Range(start, stop int, fn func(v []byte) bool) {
	it := l.Iter(start, false)
	for i := start; i <= stop; i++ {
		v, ok := it.Next()
		if !ok || !fn(v) {
			return
		}
	}
}

// Values returns copies of all elements, head first (tests, small lists).
func (l *List) Values() [][]byte {
	out := make([][]byte, 0, l.n)
	it := l.Iter(0, false)
	for v, ok := it.Next(); ok; v, ok = it.Next() {
		out = append(out, append([]byte(nil), v...))
	}
	return out
}

// Find returns the index of the first element equal to v, or -1.
func (l *List) Find(v []byte) int {
	it := l.Iter(0, false)
	for i := 0; ; i++ {
		e, ok := it.Next()
		if !ok {
			return -1
		}
		if bytes.Equal(e, v) {
			return i
		}
	}
}

// Remove removes elements equal to v, as LREM: count > 0 the first count
// from the head, count < 0 the last -count, count 0 all. It returns how many
// went.
func (l *List) Remove(v []byte, count int) int {
	skip := 0 // matches, in head-to-tail order, to keep before removing
	limit := count
	if count < 0 {
		total := 0
		it := l.Iter(0, false)
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			if bytes.Equal(e, v) {
				total++
			}
		}
		limit = -count
		skip = max(total-limit, 0)
	}
	removed := 0
	for ni := 0; ni < l.nodes() && (limit == 0 || removed < limit); ni++ {
		removed += l.filterNode(ni, v, &skip, limit, removed)
	}
	l.compact()
	return removed
}

// filterNode rebuilds node ni without the matches of v that are due for
// removal; it returns how many it removed.
func (l *List) filterNode(ni int, v []byte, skip *int, limit, removed int) int {
	nd := l.nd(ni)
	var nb []byte
	gone := 0
	for p := 0; p < len(nd.b); {
		e, next := readAt(nd.b, p)
		drop := false
		if bytes.Equal(e, v) && (limit == 0 || removed+gone < limit) {
			if *skip > 0 {
				*skip--
			} else {
				drop = true
			}
		}
		if drop && nb == nil {
			nb = append(newBuf(len(nd.b)), nd.b[:p]...)
		}
		if drop {
			gone++
		} else if nb != nil {
			nb = append(nb, nd.b[p:next]...)
		}
		p = next
	}
	if gone > 0 {
		nd.n -= gone
		l.n -= gone
		l.setBuf(ni, nb)
		l.shrink(ni)
	}
	return gone
}

// compact drops empty nodes and merges neighbours that fit in one node.
func (l *List) compact() {
	for i := 0; i < l.nodes(); {
		if l.nd(i).n == 0 {
			l.removeNode(i)
			continue
		}
		if maxBytes, maxEntries := nodeLimit(); i+1 < l.nodes() && len(l.nd(i).b)+len(l.nd(i+1).b) <= maxBytes/2 &&
			(maxEntries == 0 || l.nd(i).n+l.nd(i+1).n <= maxEntries) {
			a, b := l.nd(i), l.nd(i+1)
			nb := append(newBuf(len(a.b)+len(b.b)), a.b...)
			nb = append(nb, b.b...)
			a.n += b.n
			b.n = 0
			l.setBuf(i, nb)
			l.removeNode(i + 1)
			continue
		}
		i++
	}
}

// Trim keeps elements start..stop (inclusive, 0 <= start <= stop < Len) and
// drops the rest, as LTRIM.
func (l *List) Trim(start, stop int) {
	l.dropBack(l.n - 1 - stop)
	l.dropFront(start)
}

// Clear removes every element.
func (l *List) Clear() { l.dropBack(l.n) }

// dropFront removes the first k elements.
func (l *List) dropFront(k int) {
	for k > 0 && l.nodes() > 0 {
		nd := l.nd(0)
		if nd.n <= k {
			k -= nd.n
			l.n -= nd.n
			l.removeNode(0)
			continue
		}
		p := 0
		for j := 0; j < k; j++ {
			_, p = readAt(nd.b, p)
		}
		nd.b, nd.front = nd.b[p:], nd.front+p // nothing moves
		nd.n -= k
		l.n -= k
		l.shrink(0)
		return
	}
}

// dropBack removes the last k elements.
func (l *List) dropBack(k int) {
	for k > 0 && l.nodes() > 0 {
		i := l.nodes() - 1
		nd := l.nd(i)
		if nd.n <= k {
			k -= nd.n
			l.n -= nd.n
			l.removeNode(i)
			continue
		}
		p := len(nd.b)
		for j := 0; j < k; j++ {
			p = startBefore(nd.b, p)
		}
		nd.b = nd.b[:p]
		nd.n -= k
		l.n -= k
		l.shrink(i)
		return
	}
}
