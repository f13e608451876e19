package server

import (
	"fmt"
	"testing"

	"github.com/cached/cached/cluster"
)

// TestClusterViewOwners checks routing's byte per slot (clusterView.owners)
// against the table's OwnerIndex for every slot: a five-member table, the
// same with slots staged and flipped to another member, an empty table,
// and one with more members than a byte holds (no owners: the table is
// read).
func TestClusterViewOwners(t *testing.T) {
	members := func(n int) []cluster.Member {
		ms := make([]cluster.Member, n)
		for i := range ms {
			ms[i] = cluster.Member{ID: fmt.Sprintf("%040x", i+1), Host: "127.0.0.1", Port: 7000 + i}
		}
		return ms
	}
	five := cluster.BuildTable(members(5), 1, 2)
	to := five.Member(4).ID
	staged := cluster.Stage(five, []int{0, 1, 5000, 16383}, to, 3)
	tables := map[string]*cluster.Table{
		"five":    five,
		"staged":  staged,
		"flipped": cluster.Flip(staged, []int{0, 1, 5000, 16383}, to, 4),
		"empty":   cluster.BuildTable(nil, 1, 1),
		"300":     cluster.BuildTable(members(300), 1, 1),
	}
	for name, tab := range tables {
		v := newClusterView(tab, tab.Member(0).ID)
		if (v.owners == nil) != (len(tab.Members()) >= noOwner) {
			t.Errorf("%s: %d members, owners %v", name, len(tab.Members()), v.owners != nil)
		}
		for _, slot := range []int{-1, cluster.NumSlots} {
			if got := v.ownerIndex(slot); got != -1 {
				t.Errorf("%s: ownerIndex(%d) = %d, want -1", name, slot, got)
			}
		}
		for slot := range cluster.NumSlots {
			if got, want := v.ownerIndex(slot), tab.OwnerIndex(slot); got != want {
				t.Fatalf("%s: slot %d: ownerIndex %d, table %d", name, slot, got, want)
			}
		}
	}
}
