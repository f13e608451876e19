package server

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/store/hash"
	"github.com/cached/cached/store/set"
)

// hsDump returns every key of db with its type, contents (sorted) and TTL.
func hsDump(s *Server, db int) map[string]string {
	out := map[string]string{}
	for _, k := range allKeys(s, db) {
		tx := s.Store().Lock([]byte(k))
		e, ok := tx.Peek(db, []byte(k))
		if ok {
			var items []string
			switch o := e.Object().(type) {
			case *hash.Hash:
				o.Each(func(f, v []byte) bool { items = append(items, string(f)+"="+string(v)); return true })
			case *set.Set:
				o.Each(func(m []byte) bool { items = append(items, string(m)); return true })
			case nil:
				items = []string{string(e.Str())}
			}
			slices.Sort(items)
			out[k] = e.Type().String() + " exp=" + strconv.FormatInt(e.ExpireAt(), 10) + " " + strings.Join(items, ",")
		}
		tx.Unlock()
	}
	return out
}

// TestHashSetEffectsReplay runs random writes, including the random ones
// (SPOP), on a primary and replays its effects on a replica: both must end
// identical, and the rewritten effects must be the documented ones.
func TestHashSetEffectsReplay(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var log keysEffectLog
	primary.SetEffectHook(log.hook)
	ctx := ctxT(t)
	rc := newClient(t, primary, nil)
	future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)

	// Rewritten effects, checked one by one.
	for _, st := range []struct {
		args []any
		want []string
	}{
		{[]any{"HSET", "h", "f", "1.5"}, []string{"HSET h f 1.5"}},
		{[]any{"PEXPIREAT", "h", future}, []string{"PEXPIREAT h " + future}},
		{[]any{"HINCRBYFLOAT", "h", "f", "0.25"}, []string{"HSET h f 1.75"}},
		{[]any{"HINCRBY", "h", "n", "2"}, []string{"HINCRBY h n 2"}},
		{[]any{"HDEL", "h", "zz"}, nil},
		{[]any{"HSETNX", "h", "f", "x"}, nil},
		{[]any{"SADD", "s", "a"}, []string{"SADD s a"}},
		{[]any{"SADD", "s", "a"}, nil},
		{[]any{"SPOP", "s"}, []string{"SREM s a"}},
		{[]any{"SADD", "s", "1", "2", "3"}, []string{"SADD s 1 2 3"}},
		{[]any{"SPOP", "s", "5"}, []string{"DEL s"}},
		{[]any{"SPOP", "s", "5"}, nil},
		{[]any{"SADD", "s", "1"}, []string{"SADD s 1"}},
		{[]any{"SINTERSTORE", "s", "nokey"}, []string{"DEL s"}},
		{[]any{"SINTERSTORE", "s", "nokey"}, nil},
		{[]any{"SRANDMEMBER", "h2", "3"}, nil},
		{[]any{"SMOVE", "nokey", "s", "1"}, nil},
	} {
		if _, err := rc.Do(ctx, st.args...).Result(); err != nil && err.Error() != "redis: nil" {
			t.Fatalf("%v: %v", st.args, err)
		}
		es := log.take()
		var got []string
		for _, e := range es {
			got = append(got, strings.Join(e.cmd, " "))
		}
		if !slices.Equal(got, st.want) {
			t.Fatalf("%v recorded %q, want %q", st.args, got, st.want)
		}
		keysReplay(t, replica, es)
	}

	// Random writes.
	g := hsGen{r: rand.New(rand.NewPCG(5, 6))}
	for i := range 1500 {
		var args []any
		switch i % 4 {
		case 0:
			args = g.hashStep().args
		case 1:
			args = g.setStep().args
		case 2:
			k := g.pick("s1", "s2", "s3", "sbig")
			args = []any{"SPOP", k, g.pick("1", "3", "0")}
			if g.r.IntN(2) == 0 {
				args = args[:2]
			}
		default:
			k := g.pick("h1", "h2", "hbig")
			args = []any{"HINCRBYFLOAT", k, g.field(k), g.pick("0.1", "1e-3", "-7.25", "1e20")}
		}
		_, _ = rc.Do(ctx, args...).Result()
	}
	keysReplay(t, replica, log.take())
	a, b := hsDump(primary, 0), hsDump(replica, 0)
	if !maps.Equal(a, b) {
		for k := range a {
			if a[k] != b[k] {
				t.Errorf("key %s:\n primary %s\n replica %s", k, a[k], b[k])
			}
		}
		t.Fatalf("stores differ (%d vs %d keys)", len(a), len(b))
	}
	if len(a) < 4 {
		t.Fatalf("only %d keys at the end: weak sequence", len(a))
	}
	if !strings.Contains(a["h"], "exp="+future) {
		t.Fatalf("HINCRBYFLOAT lost the TTL: %s", a["h"])
	}
}
