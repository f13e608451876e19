package cluster

import (
	"net"
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
