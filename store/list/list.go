// Package list is cached's list value: a deque of packed nodes, as Redis's
// quicklist of listpacks. Each node is one []byte holding up to about 8 KB of
// entries by default (list-max-listpack-size -2; SetMaxListpackSize changes
// it as Redis reads the directive), so a million small elements
// cost a few thousand allocations instead of a string header and a pointer
// each, and the garbage collector has almost nothing to scan.
//
// Pushes and pops at either end are O(1) (amortized): a node keeps its free
// room before or after its entries, so a push or pop at the head moves no
// bytes as long as the room lasts (a listpack moves the whole of itself);
// positional access walks the nodes by their counts, then the
// entries of one node. The package knows nothing of RESP or of the store:
// the server keeps a *List behind a store record.
//
// A List is not safe for concurrent use: the store's shard lock guards it.
package list

import (
	"encoding/binary"
	"slices"
	"sync/atomic"
	"unsafe"
)

// NodeBytes is the size at which a node stops taking new entries and a
// new node is started (list-max-listpack-size -2: 8 KB). An element bigger
// than that sits alone in its node.
const NodeBytes = 8 << 10

// fill is list-max-listpack-size for every list of the process (as
// redis-server's configuration is server-wide): SetMaxListpackSize.
var fill atomic.Int64

func init() { SetMaxListpackSize(-2) }

// SetMaxListpackSize sets list-max-listpack-size for every list of the
// process, as Redis reads it: -1 to -5 limit a node to 4, 8, 16, 32 or
// 64 KB (below -5 as -5), a positive n to n entries within 8 KB, 0 to one
// entry. Nodes filled before keep their entries.
func SetMaxListpackSize(n int) { fill.Store(int64(n)) }

// nodeLimit returns the bytes a node may hold and the entries (0: any
// number) under the current list-max-listpack-size.
func nodeLimit() (bytes, entries int) {
	f := fill.Load()
	if f < 0 {
		return 4 << 10 << (min(-f, 5) - 1), 0
	}
	return NodeBytes, int(max(f, 1))
}

// takes reports whether node nd may take one more entry of el bytes.
func takes(nd *node, el int) bool {
	maxBytes, maxEntries := nodeLimit()
	return len(nd.b)+el <= maxBytes && (maxEntries == 0 || nd.n < maxEntries)
}

// Overheads counted by Size: the List itself (struct, slice header) and each
// node slot (a []byte header and a count).
const (
	listOverhead = 64
	nodeOverhead = 32
)

// node is one packed run of entries. An entry is uvarint(len), the bytes,
// then the entry's own length (prefix + bytes) as a uvarint written
// backwards, so entries can be walked from either end.
//
// b may start inside its buffer: front bytes before it are free, so that a
// pop at the head moves b's start instead of the bytes after it, and a push
// at the head writes into that room (a queue's head node is not moved on
// every LPUSH or LPOP, as a listpack is).
type node struct {
	b     []byte
	n     int // entries in b
	front int // free bytes of b's buffer before b
}

// alloc is the size of the node's buffer: b's capacity and the room before it.
func (nd *node) alloc() int { return nd.front + cap(nd.b) }

// widen returns b grown k bytes backwards into the room before it
// (k <= front); the caller sets b and front. b is never empty here (a
// node without entries is dropped), so its start lies inside its buffer.
func (nd *node) widen(k int) []byte {
	start := (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(nd.b)), -k))
	return unsafe.Slice(start, cap(nd.b)+k)[:len(nd.b)+k]
}

// toEnd moves the node's bytes to the end of its buffer, so that all of its
// free room is before them (for pushes at the head), and returns the room.
func (nd *node) toEnd() int {
	if tail := cap(nd.b) - len(nd.b); tail > 0 {
		whole := nd.widen(nd.front)[:nd.alloc()]
		at := len(whole) - len(nd.b)
		copy(whole[at:], nd.b)
		nd.b, nd.front = whole[at:], at
	}
	return nd.front
}

// toStart moves the node's bytes to the start of its buffer, so that all of
// its free room is after them (for pushes at the tail).
func (nd *node) toStart() {
	if nd.front > 0 {
		whole := nd.widen(nd.front)
		copy(whole, nd.b)
		nd.b, nd.front = whole[:len(nd.b)], 0
	}
}

// List is a list of byte strings. The zero value is an empty list ready to
// use.
type List struct {
	ns     []node // nodes are ns[head:]; ns[:head] are zero
	head   int
	n      int   // elements
	capSum int64 // sum of the nodes' alloc(), kept as buffers change
}

// New returns an empty list.
func New() *List { return &List{} }

// Len returns the number of elements.
func (l *List) Len() int { return l.n }

// Size returns the bytes the list costs: node buffers, node slots and the
// list header.
func (l *List) Size() int64 {
	return listOverhead + int64(cap(l.ns))*nodeOverhead + l.capSum
}

// Encoding returns "quicklist", the name redis-server 7.0 gives every list
// (7.0 has no single-listpack list encoding; 7.2 added it).
func (l *List) Encoding() string { return "quicklist" }

// Clone returns a deep copy (store.Cloner, for COPY).
func (l *List) Clone() any {
	c := &List{ns: make([]node, l.nodes()), n: l.n}
	for i, nd := range l.ns[l.head:] {
		b := append([]byte(nil), nd.b...)
		c.ns[i] = node{b: b, n: nd.n}
		c.capSum += int64(cap(b))
	}
	return c
}

func (l *List) nodes() int { return len(l.ns) - l.head }

func (l *List) nd(i int) *node { return &l.ns[l.head+i] }

// setBuf replaces node i's buffer, keeping capSum right.
func (l *List) setBuf(i int, b []byte) {
	nd := l.nd(i)
	l.capSum += int64(cap(b)) - int64(nd.alloc())
	nd.b, nd.front = b, 0
}

func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// entryLen is the packed size of an entry holding v bytes.
func entryLen(v int) int {
	k := uvarintLen(v)
	return k + v + uvarintLen(k+v)
}

func appendEntry(dst, v []byte) []byte {
	k := uvarintLen(len(v))
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	dst = append(dst, v...)
	var tmp [binary.MaxVarintLen64]byte
	m := binary.PutUvarint(tmp[:], uint64(k+len(v)))
	for i := m - 1; i >= 0; i-- {
		dst = append(dst, tmp[i])
	}
	return dst
}

// readAt decodes the entry starting at p: its value (aliasing b) and the
// offset of the next entry.
func readAt(b []byte, p int) (v []byte, next int) {
	x, k := binary.Uvarint(b[p:])
	s := p + k
	e := s + int(x)
	return b[s:e], e + uvarintLen(k+int(x))
}

// startBefore returns the start offset of the entry that ends at end.
func startBefore(b []byte, end int) int {
	var x uint64
	var shift uint
	i := end - 1
	for {
		c := b[i]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
		i--
	}
	return i - int(x)
}

// insertNode inserts an empty node at position i of the active nodes and
// returns it.
func (l *List) insertNode(i int) *node {
	switch {
	case i == 0 && l.head > 0:
		l.head--
	case len(l.ns) == 0:
		l.ns, l.head = make([]node, 1), 0 // most lists have one node: no slack
	case i == 0:
		cnt := l.nodes()
		slack := max(cnt, 4)
		ns := make([]node, slack+cnt, slack+cnt+cnt/2+1)
		copy(ns[slack:], l.ns[l.head:])
		l.ns, l.head = ns, slack-1
	case i == l.nodes() && l.head > 0 && len(l.ns) == cap(l.ns) && l.head >= l.nodes()/2:
		cnt := l.nodes()
		copy(l.ns, l.ns[l.head:])
		clear(l.ns[cnt:])
		l.ns, l.head = l.ns[:cnt+1], 0
	default:
		l.ns = append(l.ns, node{})
		at := l.head + i
		copy(l.ns[at+1:], l.ns[at:len(l.ns)-1])
		l.ns[at] = node{}
	}
	return l.nd(i)
}

// removeNode drops active node i (whose buffer is already accounted away or
// is dropped here).
func (l *List) removeNode(i int) {
	l.capSum -= int64(l.nd(i).alloc())
	at := l.head + i
	switch {
	case i == 0:
		l.ns[at] = node{}
		l.head++
	default:
		copy(l.ns[at:], l.ns[at+1:])
		l.ns[len(l.ns)-1] = node{}
		l.ns = l.ns[:len(l.ns)-1]
	}
	if l.nodes() == 0 {
		l.ns, l.head = nil, 0
	}
}

// PushBack appends v (copied) at the tail.
func (l *List) PushBack(v []byte) {
	el := entryLen(len(v))
	cnt := l.nodes()
	if cnt == 0 || !takes(l.nd(cnt-1), el) {
		l.insertNode(cnt)
		cnt++
	}
	nd := l.nd(cnt - 1)
	if need := len(nd.b) + el; cap(nd.b) < need {
		if nd.alloc() >= need {
			nd.toStart()
		} else {
			l.setBuf(cnt-1, append(newBuf(l.growCap(cnt-1, len(nd.b), need, true)), nd.b...))
		}
	}
	nd.b = appendEntry(nd.b, v) // within its capacity
	nd.n++
	l.n++
}

// PushBackAll appends vs (copied) in order, as PushBack on each, but grows
// each node it fills once, for all of its new entries: a new node gets a
// buffer of the exact size, so RPUSH of many elements copies nothing on the
// way and leaves no slack. One element is pushed as PushBack does.
func (l *List) PushBackAll(vs [][]byte) {
	single := len(vs) == 1
	for len(vs) > 0 {
		cnt := l.nodes()
		if cnt == 0 || !takes(l.nd(cnt-1), entryLen(len(vs[0]))) {
			l.insertNode(cnt)
			cnt++
		}
		nd := l.nd(cnt - 1)
		k, size := fitting(nd, vs)
		if cap(nd.b) < size {
			if nd.alloc() >= size {
				nd.toStart()
			} else {
				l.setBuf(cnt-1, append(newBuf(l.growCap(cnt-1, len(nd.b), size, single)), nd.b...))
			}
		}
		for _, v := range vs[:k] {
			nd.b = appendEntry(nd.b, v) // within its capacity
		}
		nd.n += k
		l.n += k
		vs = vs[k:]
	}
}

// PushFrontAll inserts vs (copied) at the head one after the other, as
// PushFront on each (so the last of vs becomes the head, as LPUSH does),
// sizing buffers as PushBackAll.
func (l *List) PushFrontAll(vs [][]byte) {
	single := len(vs) == 1
	for len(vs) > 0 {
		if l.nodes() == 0 || !takes(l.nd(0), entryLen(len(vs[0]))) {
			l.insertNode(0)
		}
		nd := l.nd(0)
		k, size := fitting(nd, vs)
		l.growHead(0, size-len(nd.b), single)
		w := nd.b[:0]
		for i := k - 1; i >= 0; i-- {
			w = appendEntry(w, vs[i]) // within b's room: in place
		}
		nd.n += k
		l.n += k
		vs = vs[k:]
	}
}

// fitting returns how many of vs (at least one) node nd takes before it
// would pass the node limits, and the node's size with them.
func fitting(nd *node, vs [][]byte) (k, size int) {
	maxBytes, maxEntries := nodeLimit()
	size = len(nd.b) + entryLen(len(vs[0]))
	for k = 1; k < len(vs) && (maxEntries == 0 || nd.n+k < maxEntries); k++ {
		e := entryLen(len(vs[k]))
		if size+e > maxBytes {
			break
		}
		size += e
	}
	return k, size
}

// PushFront inserts v (copied) at the head.
func (l *List) PushFront(v []byte) {
	el := entryLen(len(v))
	if l.nodes() == 0 || !takes(l.nd(0), el) {
		l.insertNode(0)
	}
	l.insertBytes(0, 0, v)
}

// growHead makes node i's b add bytes longer at its head, for the caller
// to fill. The bytes come from the room before b; if there is too little,
// the entries move to the end of the buffer when it is big enough, else to
// the end of a new one, sized by growCap (single: the bytes are one pushed
// element).
func (l *List) growHead(i, add int, single bool) {
	nd := l.nd(i)
	old := len(nd.b)
	size := old + add
	if nd.front >= add || nd.alloc() >= size && nd.toEnd() >= add {
		nd.b = nd.widen(add)
		nd.front -= add
		return
	}
	buf := newBuf(l.growCap(i, old, size, single))
	buf = buf[:cap(buf)]
	at := len(buf) - size
	copy(buf[at+add:], nd.b)
	l.capSum += int64(len(buf)) - int64(nd.alloc())
	nd.b, nd.front = buf[at:], at
}

// insertBytes inserts entry v at byte offset p of node i. At p 0 it is one
// element pushed at the node's head: only PushFront gives it a new node
// (Insert's node holds entries), which growCap may size as its neighbour.
func (l *List) insertBytes(i, p int, v []byte) {
	nd := l.nd(i)
	el := entryLen(len(v))
	if p == 0 {
		l.growHead(i, el, true)
		appendEntry(nd.b[:0], v) // within b: in place
		nd.n++
		l.n++
		return
	}
	old := len(nd.b)
	if b := nd.b; cap(b) >= old+el {
		nd.b = b[:old+el] // same buffer: front stays
		copy(nd.b[p+el:], b[p:old])
	} else {
		nb := newBuf(grownCap(old, old+el))[:old+el]
		copy(nb, b[:p])
		copy(nb[p+el:], b[p:old])
		l.setBuf(i, nb)
	}
	appendEntry(nd.b[p:p], v)
	nd.n++
	l.n++
}

// newBuf returns an empty node buffer for n bytes. Its capacity is the
// whole Go size class that holds n (slices.Grow rounds up as append does),
// so Size counts what the heap really hands out.
func newBuf(n int) []byte { return slices.Grow([]byte(nil), n) }

// growCap is the capacity for node i's buffer of old bytes that must hold
// need bytes: a growing node's by grownCap, a new node's exactly, except
// where one pushed element (single) starts a new end node of a list of
// three nodes or more. That node starts as long as its neighbour, the node
// that just filled: a long list fed one element at a time (a queue, a log)
// keeps feeding it, and a node grown by halves from one entry to 8 KB is
// allocated about three times over and copied as often on the way, garbage
// that made the collector run several times a second under RPUSH. The
// slack is one node at each end of a list at least twice a node long.
func (l *List) growCap(i, old, need int, single bool) int {
	if old > 0 {
		return grownCap(old, need)
	}
	cnt := l.nodes()
	if !single || cnt < 3 || i != 0 && i != cnt-1 {
		return need
	}
	nb := l.nd(1)
	if i != 0 {
		nb = l.nd(i - 1)
	}
	maxBytes, _ := nodeLimit()
	return max(need, min(len(nb.b), maxBytes))
}

// grownCap is the capacity for a node buffer of old bytes that must hold
// need bytes after single pushes: half again as much as old (so a node is
// copied O(log) times while it fills, each copy leaving at most a third of
// slack, where doubling left up to half; a quarter copied twice as many
// bytes per push), within the node limit unless need is larger. Batches
// (PushBackAll, PushFrontAll) size new nodes exactly instead.
func grownCap(old, need int) int {
	c := max(need, old+old/2)
	if maxBytes, _ := nodeLimit(); need <= maxBytes {
		c = min(c, maxBytes)
	}
	return c
}

// PopFrontTo removes the head element and returns dst with it appended
// (with dst nil, a fresh copy); false for an empty list.
func (l *List) PopFrontTo(dst []byte) ([]byte, bool) {
	if l.n == 0 {
		return dst, false
	}
	nd := l.nd(0)
	v, next := readAt(nd.b, 0)
	dst = append(dst, v...)
	l.cut(0, 0, next)
	return dst, true
}

// PopBackTo removes the tail element and returns dst with it appended
// (with dst nil, a fresh copy); false for an empty list.
func (l *List) PopBackTo(dst []byte) ([]byte, bool) {
	if l.n == 0 {
		return dst, false
	}
	i := l.nodes() - 1
	nd := l.nd(i)
	s := startBefore(nd.b, len(nd.b))
	v, _ := readAt(nd.b, s)
	dst = append(dst, v...)
	l.cut(i, s, len(nd.b))
	return dst, true
}

// cut removes the single entry at bytes [s, e) of node i, dropping the node
// when it empties.
func (l *List) cut(i, s, e int) {
	nd := l.nd(i)
	nd.n--
	l.n--
	if nd.n == 0 {
		l.removeNode(i)
		return
	}
	if s == 0 { // the head: b starts later, nothing moves
		nd.b, nd.front = nd.b[e:], nd.front+e
	} else {
		nd.b = append(nd.b[:s], nd.b[e:]...)
	}
	l.shrink(i)
}

// shrink reallocates node i's buffer to its size when it uses less than
// half of its capacity, so popped memory goes back (Redis reallocates a
// listpack on every delete; the half leaves room for pushes to come).
func (l *List) shrink(i int) {
	nd := l.nd(i)
	if c := nd.alloc(); c > 64 && len(nd.b) < c/2 {
		l.setBuf(i, append(newBuf(len(nd.b)), nd.b...))
	}
}

// locate finds element idx (0 <= idx < Len): its node and byte offset.
func (l *List) locate(idx int) (ni, p int) {
	cnt := l.nodes()
	if idx < l.n/2 {
		for ni = 0; idx >= l.nd(ni).n; ni++ {
			idx -= l.nd(ni).n
		}
	} else {
		back := l.n - 1 - idx // position counted from the tail
		for ni = cnt - 1; back >= l.nd(ni).n; ni-- {
			back -= l.nd(ni).n
		}
		idx = l.nd(ni).n - 1 - back
	}
	nd := l.nd(ni)
	if idx <= nd.n/2 {
		for ; idx > 0; idx-- {
			_, p = readAt(nd.b, p)
		}
		return ni, p
	}
	p = len(nd.b)
	for k := nd.n - idx; k > 0; k-- {
		p = startBefore(nd.b, p)
	}
	return ni, p
}

// norm turns a Redis index (negative counts from the tail) into 0..Len-1,
// or -1 when out of range.
func (l *List) norm(idx int) int {
	if idx < 0 {
		idx += l.n
	}
	if idx < 0 || idx >= l.n {
		return -1
	}
	return idx
}

// Index returns element idx (negative counts from the tail). The bytes alias
// the list: valid until the next change.
func (l *List) Index(idx int) ([]byte, bool) {
	if idx = l.norm(idx); idx < 0 {
		return nil, false
	}
	ni, p := l.locate(idx)
	v, _ := readAt(l.nd(ni).b, p)
	return v, true
}

// Set replaces element idx (negative counts from the tail) with v; false if
// idx is out of range.
func (l *List) Set(idx int, v []byte) bool {
	if idx = l.norm(idx); idx < 0 {
		return false
	}
	ni, p := l.locate(idx)
	nd := l.nd(ni)
	_, next := readAt(nd.b, p)
	nb := newBuf(len(nd.b) - (next - p) + entryLen(len(v)))
	nb = append(nb, nd.b[:p]...)
	nb = appendEntry(nb, v)
	nb = append(nb, nd.b[next:]...)
	l.setBuf(ni, nb)
	l.split(ni)
	return true
}

// Insert inserts v so that it becomes element idx, 0 <= idx <= Len.
func (l *List) Insert(idx int, v []byte) {
	switch {
	case idx <= 0:
		l.PushFront(v)
	case idx >= l.n:
		l.PushBack(v)
	default:
		ni, p := l.locate(idx)
		l.insertBytes(ni, p, v)
		l.split(ni)
	}
}

// split halves node i if it grew past the node limits and holds more
// than one entry.
func (l *List) split(i int) {
	nd := l.nd(i)
	if maxBytes, maxEntries := nodeLimit(); len(nd.b) <= maxBytes && (maxEntries == 0 || nd.n <= maxEntries) || nd.n < 2 {
		return
	}
	p, k := 0, 0
	for p < len(nd.b)/2 && k < nd.n-1 {
		_, p = readAt(nd.b, p)
		k++
	}
	if k == 0 {
		_, p = readAt(nd.b, p)
		k = 1
	}
	right := append(newBuf(len(nd.b)-p), nd.b[p:]...)
	left := append(newBuf(p), nd.b[:p]...)
	total := nd.n
	l.setBuf(i, left)
	nd.n = k
	r := l.insertNode(i + 1)
	r.n = total - k
	l.setBuf(i+1, right)
}
