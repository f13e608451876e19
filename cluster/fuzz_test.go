package cluster

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/hashicorp/memberlist"
)

// FuzzMemberOf feeds arbitrary peer meta to the decoder: it must not panic,
// and whatever it accepts must be a member with a valid ID equal to the
// node's name.
func FuzzMemberOf(f *testing.F) {
	id := "0123456789abcdef0123456789abcdef01234567"
	f.Add(id, encodeMeta(meta{ID: id, Host: "10.0.0.1", Port: 6379}))
	f.Add(id, encodeMeta(meta{ID: id}))
	f.Add(id, []byte(`{"id":"`+id+`","p":-1,"h":"\u0000"}`))
	f.Add("x", []byte(`{"id":"x"}`))
	f.Add(id, []byte(`null`))
	f.Fuzz(func(t *testing.T, name string, md []byte) {
		m, ok := memberOf(&memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: md})
		if ok && (m.ID != name || !ValidID(m.ID) || m.GossipAddr != "127.0.0.1:7946" || m.Port < 0 || m.Port > 65535) {
			t.Fatalf("accepted bad member %+v from name %q meta %q", m, name, md)
		}
	})
}

// FuzzDecodeTable feeds arbitrary bytes to the table decoder: it never
// panics, and a table it accepts encodes to bytes that decode to the same
// table and are canonical (encode again to themselves).
func FuzzDecodeTable(f *testing.F) {
	for _, r := range []int{0, 1, 2} {
		tab := BuildTable(testMembers(uint64(r), 4), r, 9)
		tab.planner = tab.members[0].ID
		f.Add(encodeTable(tab))
	}
	f.Add([]byte{tableMagic, tableFormat})
	ms := testMembers(7, 4)
	staged := nextTable(stageInput{cur: BuildTable(ms[:3], 1, 3), target: ms, alive: aliveOf(ms), replicas: 1,
		version: 4, maxFlips: flipBatch, stage: true})
	staged.planner = ms[0].ID
	f.Add(encodeTable(staged))
	staged.term = 3
	f.Add(encodeTable(staged))
	termed := BuildTable(ms, 1, 5)
	termed.planner, termed.term = ms[1].ID, 1
	f.Add(encodeTable(termed))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := decodeTable(b)
		if err != nil {
			return
		}
		enc := encodeTable(tab)
		again, err := decodeTable(enc)
		if err != nil || !sameAssignment(again, tab) || again.version != tab.version || again.term != tab.term || again.planner != tab.planner || !slices.Equal(again.members, tab.members) {
			t.Fatalf("re-encoded table decodes differently (%v)", err)
		}
		if !bytes.Equal(encodeTable(again), enc) {
			t.Fatalf("encoding not canonical")
		}
	})
}
