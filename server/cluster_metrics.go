package server

import "github.com/cached/cached/cluster"

// servedSlots counts the slots this node is primary of in the view.
func (v *clusterView) servedSlots() int {
	if v.self < 0 {
		return 0
	}
	n := 0
	for slot := 0; slot < cluster.NumSlots; slot++ {
		if v.t.OwnerIndex(slot) == v.self {
			n++
		}
	}
	return n
}
