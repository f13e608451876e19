package cluster

// Defragmentation of a planned layer (step 6 of [Plan], docs/cluster.md
// "The planner"): exchanges between two members merge ranges while the
// layer has more than 1.5 ranges per member, within a budget of slots
// moved.

// run is a maximal run of slots with one holder in a layer.
type run struct {
	SlotRange
	m int
}

// layerRuns returns the layer's maximal runs in slot order (no free slots
// remain when it is called).
func (l *layer) layerRuns() []run {
	var out []run
	for s := 0; s < NumSlots; {
		e := s
		for e+1 < NumSlots && l.own[e+1] == l.own[s] {
			e++
		}
		out = append(out, run{SlotRange{s, e}, int(l.own[s])})
		s = e + 1
	}
	return out
}

// exchange is a defragmentation step between members a and b: a hands c
// slots of its run x, from the end touching a run of b, to b; b hands c
// slots of its run y, from the end touching another run of a, to a. With
// c = min(|x|, |y|) one of the runs disappears and no new one appears;
// holders' counts do not change.
type exchange struct {
	x, y SlotRange // the slots that change holder: x a -> b, y b -> a
	a, b int
}

// defrag merges ranges by exchanges while the layer has more than 1.5
// ranges per member, moving at most budget slots in all, cheapest first.
func (l *layer) defrag(budget int) {
	for {
		rs := l.layerRuns()
		if 2*len(rs) <= 3*l.k {
			return
		}
		ex, ok := l.bestExchange(rs, budget)
		if !ok {
			return
		}
		l.set(ex.x.Start, ex.x.End, int32(ex.b))
		l.set(ex.y.Start, ex.y.End, int32(ex.a))
		budget -= 2 * ex.x.size()
	}
}

// bestExchange finds the cheapest exchange whose cost (2c) fits the
// budget; ties go to the lowest slots.
func (l *layer) bestExchange(rs []run, budget int) (exchange, bool) {
	var best exchange
	found := false
	for i, x := range rs {
		for _, nb := range []int{i - 1, i + 1} {
			if nb < 0 || nb >= len(rs) {
				continue
			}
			b := rs[nb].m
			for j, y := range rs {
				if y.m != b || j == i-1 || j == i+1 {
					continue
				}
				c := min(x.size(), y.size())
				if 2*c > budget || (found && c >= best.x.size()) {
					continue
				}
				xs := end(x.SlotRange, c, nb < i)
				for _, side := range []int{j - 1, j + 1} {
					if side < 0 || side >= len(rs) || side == i || rs[side].m != x.m {
						continue
					}
					ys := end(y.SlotRange, c, side < j)
					if l.allowed(xs, b) && l.allowed(ys, x.m) {
						best, found = exchange{x: xs, y: ys, a: x.m, b: b}, true
						break
					}
				}
			}
		}
	}
	return best, found
}

// end returns the first (head) or last c slots of r.
func end(r SlotRange, c int, head bool) SlotRange {
	if head {
		return SlotRange{r.Start, r.Start + c - 1}
	}
	return SlotRange{r.End - c + 1, r.End}
}

// allowed reports whether m may hold every slot of r in this layer (none
// of them promoted: those stay with their holder).
func (l *layer) allowed(r SlotRange, m int) bool {
	for s := r.Start; s <= r.End; s++ {
		if l.forbidden(s, m) || (l.pinned != nil && l.pinned[s]) {
			return false
		}
	}
	return true
}
