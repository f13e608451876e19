package pubsub

import (
	"slices"
	"testing"
)

// recorder is a Subscriber that keeps what it was delivered.
type recorder struct {
	resp3  bool
	frames []string
}

func (r *recorder) Deliver(frame []byte) { r.frames = append(r.frames, string(frame)) }
func (r *recorder) WantsRESP3() bool     { return r.resp3 }

func TestHubSubscribeCountsAndSizes(t *testing.T) {
	var h Hub
	a, b := &recorder{}, &recorder{}
	ma, mb := h.Join(a), h.Join(b)
	if !h.Subscribe(ma, Channel, []byte("news")) || h.Subscribe(ma, Channel, []byte("news")) {
		t.Fatal("first Subscribe must add, the second must not")
	}
	h.Subscribe(mb, Channel, []byte("news"))
	h.Subscribe(mb, Pattern, []byte("n*"))
	h.Subscribe(mb, Shard, []byte("{s}1"))
	if got := []int64{h.Size(Channel), h.Size(Pattern), h.Size(Shard)}; !slices.Equal(got, []int64{1, 1, 1}) {
		t.Fatalf("sizes %v", got)
	}
	if sub, psub, ssub := h.Counts(mb); sub != 1 || psub != 1 || ssub != 1 {
		t.Fatalf("counts of b: %d %d %d", sub, psub, ssub)
	}
	if sub, psub, ssub := h.Counts(nil); sub+psub+ssub != 0 {
		t.Fatal("a nil member has subscriptions")
	}
	if got := h.NumSub(Channel, [][]byte{[]byte("news"), []byte("none")}); !slices.Equal(got, []int{2, 0}) {
		t.Fatalf("NumSub %v", got)
	}
	if h.Unsubscribe(ma, Pattern, "n*") {
		t.Fatal("a left a pattern it never joined")
	}
	if !h.Unsubscribe(ma, Channel, "news") || h.Size(Channel) != 1 {
		t.Fatal("the channel must stay while b listens")
	}
	h.LeaveAll(mb)
	if h.Size(Channel)+h.Size(Pattern)+h.Size(Shard) != 0 {
		t.Fatalf("sizes after everyone left: %d %d %d", h.Size(Channel), h.Size(Pattern), h.Size(Shard))
	}
	if sub, psub, ssub := h.Counts(mb); sub+psub+ssub != 0 {
		t.Fatal("b still counts subscriptions after LeaveAll")
	}
}

func TestHubPublishFrames(t *testing.T) {
	var h Hub
	r2, r3 := &recorder{}, &recorder{resp3: true}
	m2, m3 := h.Join(r2), h.Join(r3)
	h.Subscribe(m2, Channel, []byte("ch"))
	h.Subscribe(m2, Pattern, []byte("c?"))
	h.Subscribe(m3, Pattern, []byte("c*"))
	h.Subscribe(m3, Shard, []byte("ch"))
	// r2 twice (channel and pattern), r3 once: Redis counts each delivery.
	if n := h.Publish([]byte("ch"), []byte("hi")); n != 3 {
		t.Fatalf("Publish reached %d, want 3", n)
	}
	want2 := []string{
		"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
		"*4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n$2\r\nhi\r\n",
	}
	if !slices.Equal(r2.frames, want2) {
		t.Fatalf("RESP2 frames %q", r2.frames)
	}
	if want := ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n"; len(r3.frames) != 1 || r3.frames[0] != want {
		t.Fatalf("RESP3 frames %q", r3.frames)
	}
	if n := h.PublishShard([]byte("ch"), []byte("s")); n != 1 || r3.frames[1] != ">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$1\r\ns\r\n" {
		t.Fatalf("PublishShard reached %d: %q", n, r3.frames)
	}
	if n := h.Publish([]byte("other"), []byte("x")); n != 0 {
		t.Fatalf("a channel nobody matches reached %d", n)
	}
	if got := h.Active(Channel, nil); !slices.Equal(got, []string{"ch"}) {
		t.Fatalf("Active %v", got)
	}
	if got := h.Active(Shard, []byte("x*")); len(got) != 0 {
		t.Fatalf("Active with a pattern that matches nothing: %v", got)
	}
	if got := h.Names(m2, Pattern); !slices.Equal(got, []string{"c?"}) {
		t.Fatalf("Names %v", got)
	}
}
