package zset

import "sort"

// entry is one member of a big sorted set: its score and the offset of
// its record in the arena. It holds no pointer, so the garbage collector
// never scans the tree's leaves.
type entry struct {
	score float64
	ref   uint64
}

// lessFunc orders entries: by score, then by member bytes (Redis's order).
type lessFunc func(a, b entry) bool

const (
	maxLeaf  = 128 // entries per leaf
	maxInner = 64  // children per inner node
)

// node is a B+tree node: a leaf holds entries, an inner node its children
// with, for each, the number of entries below it and its greatest entry.
// Leaves are linked both ways for range walks.
type node struct {
	ents       []entry // leaf only
	kids       []*node // inner only
	cnts       []int   // inner only: entries under kids[i]
	maxs       []entry // inner only: greatest entry under kids[i]
	prev, next *node   // leaf only
}

func (n *node) leaf() bool { return n.kids == nil }

func (n *node) width() int {
	if n.leaf() {
		return len(n.ents)
	}
	return len(n.kids)
}

func (n *node) max() entry {
	if n.leaf() {
		return n.ents[len(n.ents)-1]
	}
	return n.maxs[len(n.maxs)-1]
}

func (n *node) count() int {
	if n.leaf() {
		return len(n.ents)
	}
	c := 0
	for _, k := range n.cnts {
		c += k
	}
	return c
}

// tree is an order-statistic B+tree of entries: insert, delete, rank and
// select in O(log n).
type tree struct {
	root           *node
	n              int
	less           lessFunc
	leaves, inners int // node counts, for Size
}

func newTree(less lessFunc) *tree {
	return &tree{root: newLeaf(0), less: less, leaves: 1}
}

func newLeaf(n int) *node { return &node{ents: make([]entry, n, maxLeaf+1)} }

func newInner() *node {
	return &node{kids: make([]*node, 0, maxInner+1), cnts: make([]int, 0, maxInner+1), maxs: make([]entry, 0, maxInner+1)}
}

// kidFor is the index of the child of inner node n whose range holds e.
func (n *node) kidFor(e entry, less lessFunc) int {
	i := sort.Search(len(n.maxs), func(i int) bool { return !less(n.maxs[i], e) })
	if i == len(n.maxs) {
		i--
	}
	return i
}

// insert adds e (absent from the tree).
func (t *tree) insert(e entry) {
	t.n++
	if right := t.insertAt(t.root, e, true, true); right != nil {
		old := t.root
		t.root = newInner()
		t.inners++
		t.root.kids = append(t.root.kids, old, right)
		t.root.cnts = append(t.root.cnts, old.count(), right.count())
		t.root.maxs = append(t.root.maxs, old.max(), right.max())
	}
}

// insertAt adds e under n and returns the new right sibling if n split.
// first and last tell whether n is on the tree's left or right edge.
func (t *tree) insertAt(n *node, e entry, first, last bool) *node {
	if n.leaf() {
		i := sort.Search(len(n.ents), func(i int) bool { return t.less(e, n.ents[i]) })
		n.ents = insertAt(n.ents, i, e)
		if len(n.ents) <= maxLeaf {
			return nil
		}
		half := splitPoint(len(n.ents), i, first, last)
		r := newLeaf(len(n.ents) - half)
		t.leaves++
		copy(r.ents, n.ents[half:])
		n.ents = n.ents[:half]
		r.prev, r.next = n, n.next
		if n.next != nil {
			n.next.prev = r
		}
		n.next = r
		return r
	}
	i := n.kidFor(e, t.less)
	k := n.kids[i]
	right := t.insertAt(k, e, first && i == 0, last && i == len(n.kids)-1)
	n.cnts[i] = k.count()
	n.maxs[i] = k.max()
	if right == nil {
		return nil
	}
	n.kids = insertAt(n.kids, i+1, right)
	n.cnts = insertAt(n.cnts, i+1, right.count())
	n.maxs = insertAt(n.maxs, i+1, right.max())
	if len(n.kids) <= maxInner {
		return nil
	}
	half := splitPoint(len(n.kids), i+1, first, last)
	r := newInner()
	t.inners++
	r.kids = append(r.kids, n.kids[half:]...)
	r.cnts = append(r.cnts, n.cnts[half:]...)
	r.maxs = append(r.maxs, n.maxs[half:]...)
	clear(n.kids[half:])
	n.kids, n.cnts, n.maxs = n.kids[:half], n.cnts[:half], n.maxs[:half]
	return r
}

// splitPoint is where a node of n items that just got item i splits: in
// the middle, but right before (or after) the new item when it went to
// the end of the tree's last (or the start of its first) node, so that
// ascending (or descending) loads leave full nodes behind.
func splitPoint(n, i int, first, last bool) int {
	switch {
	case last && i == n-1:
		return n - 1
	case first && i == 0:
		return 1
	}
	return n / 2
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	var zero T
	copy(s[i:], s[i+1:])
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// delete removes e (same score and ref); it reports whether e was present.
func (t *tree) delete(e entry) bool {
	if !t.deleteAt(t.root, e) {
		return false
	}
	t.n--
	for !t.root.leaf() && len(t.root.kids) == 1 {
		t.root = t.root.kids[0]
		t.inners--
	}
	return true
}

func (t *tree) deleteAt(n *node, e entry) bool {
	if n.leaf() {
		i := sort.Search(len(n.ents), func(i int) bool { return !t.less(n.ents[i], e) })
		if i == len(n.ents) || n.ents[i].ref != e.ref {
			return false
		}
		n.ents = removeAt(n.ents, i)
		return true
	}
	i := sort.Search(len(n.maxs), func(i int) bool { return !t.less(n.maxs[i], e) })
	if i == len(n.maxs) || !t.deleteAt(n.kids[i], e) {
		return false
	}
	t.fix(n, i)
	return true
}

// fix refreshes the summary of child i of n after a removal under it and
// merges it with a neighbour when it became small.
func (t *tree) fix(n *node, i int) {
	k := n.kids[i]
	if k.width() == 0 {
		t.unlink(n, i)
		return
	}
	n.cnts[i], n.maxs[i] = k.count(), k.max()
	limit := maxLeaf
	if !k.leaf() {
		limit = maxInner
	}
	if k.width() >= limit/4 {
		return
	}
	j := i + 1 // merge the right one of the pair into the left one
	if j == len(n.kids) {
		i, j = i-1, i
	}
	if i < 0 || n.kids[i].width()+n.kids[j].width() > limit*3/4 {
		return
	}
	a, b := n.kids[i], n.kids[j]
	if a.leaf() {
		a.ents = append(a.ents, b.ents...)
	} else {
		a.kids = append(a.kids, b.kids...)
		a.cnts = append(a.cnts, b.cnts...)
		a.maxs = append(a.maxs, b.maxs...)
	}
	n.cnts[i], n.maxs[i] = a.count(), a.max()
	t.unlink(n, j)
}

// unlink drops child i of n (empty or merged into its left neighbour).
func (t *tree) unlink(n *node, i int) {
	k := n.kids[i]
	if k.leaf() {
		t.leaves--
		if k.prev != nil {
			k.prev.next = k.next
		}
		if k.next != nil {
			k.next.prev = k.prev
		}
	} else {
		t.inners--
	}
	n.kids = removeAt(n.kids, i)
	n.cnts = removeAt(n.cnts, i)
	n.maxs = removeAt(n.maxs, i)
}

// countBefore is the number of entries for which before returns true;
// before must hold for a prefix of the order.
func (t *tree) countBefore(before func(e entry) bool) int {
	r := 0
	n := t.root
	for !n.leaf() {
		i := sort.Search(len(n.maxs), func(i int) bool { return !before(n.maxs[i]) })
		if i == len(n.maxs) {
			return t.n
		}
		for _, c := range n.cnts[:i] {
			r += c
		}
		n = n.kids[i]
	}
	return r + sort.Search(len(n.ents), func(i int) bool { return !before(n.ents[i]) })
}

// seek returns the leaf holding rank r (0 <= r < t.n) and its index there.
func (t *tree) seek(r int) (*node, int) {
	n := t.root
	for !n.leaf() {
		i := 0
		for r >= n.cnts[i] {
			r -= n.cnts[i]
			i++
		}
		n = n.kids[i]
	}
	return n, r
}

// walk calls fn for the entries from rank start on, upwards (or downwards
// if rev), until fn returns false or the set ends.
func (t *tree) walk(start int, rev bool, fn func(e entry) bool) {
	if start < 0 || start >= t.n {
		return
	}
	n, i := t.seek(start)
	for n != nil {
		if rev {
			for ; i >= 0; i-- {
				if !fn(n.ents[i]) {
					return
				}
			}
			n = n.prev
			if n != nil {
				i = len(n.ents) - 1
			}
			continue
		}
		for ; i < len(n.ents); i++ {
			if !fn(n.ents[i]) {
				return
			}
		}
		n, i = n.next, 0
	}
}

// remap rewrites every entry's ref through f (after the arena moved) and
// refreshes the inner nodes' copies.
func (t *tree) remap(f func(ref uint64) uint64) {
	var fix func(n *node) entry
	fix = func(n *node) entry {
		if n.leaf() {
			for i := range n.ents {
				n.ents[i].ref = f(n.ents[i].ref)
			}
		} else {
			for i, k := range n.kids {
				n.maxs[i] = fix(k)
			}
		}
		if n.width() == 0 {
			return entry{}
		}
		return n.max()
	}
	fix(t.root)
}
