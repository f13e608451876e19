package server

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// listFx records the effects a server publishes, as strings.
type listFx struct {
	mu  sync.Mutex // protects all
	all [][]string
}

func (f *listFx) hook(db int, cmd [][]byte) {
	parts := make([]string, len(cmd))
	for i, a := range cmd {
		parts[i] = string(a)
	}
	f.mu.Lock()
	f.all = append(f.all, parts)
	f.mu.Unlock()
}

func (f *listFx) takeRaw() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.all
	f.all = nil
	return out
}

// take returns the effects recorded so far, each joined by spaces.
func (f *listFx) take() []string {
	var out []string
	for _, e := range f.takeRaw() {
		out = append(out, strings.Join(e, " "))
	}
	return out
}

// TestListEffects checks the effect each list command records.
func TestListEffects(t *testing.T) {
	s := startServer(t, nil)
	var fx listFx
	s.SetEffectHook(fx.hook)
	rc := newClient(t, s, nil)
	for _, tc := range []struct {
		args []any
		want []string
	}{
		{[]any{"lpush", "l", "a", "b"}, []string{"LPUSH l a b"}},
		{[]any{"rpush", "l", "c"}, []string{"RPUSH l c"}},
		{[]any{"lpushx", "none", "c"}, nil},
		{[]any{"rpushx", "l", "d"}, []string{"RPUSH l d"}},
		{[]any{"lpop", "l"}, []string{"LPOP l"}},
		{[]any{"rpop", "l", "1"}, []string{"RPOP l 1"}},
		{[]any{"lpop", "l", "0"}, nil},
		{[]any{"lpop", "none"}, nil},
		{[]any{"lset", "l", "0", "x"}, []string{"LSET l 0 x"}},
		{[]any{"linsert", "l", "after", "x", "y"}, []string{"LINSERT l AFTER x y"}},
		{[]any{"linsert", "l", "after", "nope", "y"}, nil},
		{[]any{"lrem", "l", "0", "nope"}, nil},
		{[]any{"lrem", "l", "1", "y"}, []string{"LREM l 1 y"}},
		{[]any{"ltrim", "l", "0", "-1"}, nil},
		{[]any{"rpush", "l", "p", "q", "r"}, []string{"RPUSH l p q r"}},
		{[]any{"ltrim", "l", "1", "-1"}, []string{"LTRIM l 1 -1"}},
		{[]any{"lmove", "l", "m", "left", "right"}, []string{"LMOVE l m LEFT RIGHT"}},
		{[]any{"rpoplpush", "l", "m"}, []string{"RPOPLPUSH l m"}},
		{[]any{"lmpop", "2", "none", "l", "right", "count", "9"}, []string{"RPOP l 2"}},
		{[]any{"rpush", "l", "1", "2", "3"}, []string{"RPUSH l 1 2 3"}},
		{[]any{"blpop", "none", "l", "0"}, []string{"LPOP l"}},
		{[]any{"brpop", "l", "0"}, []string{"RPOP l"}},
		{[]any{"blmove", "l", "m", "right", "left", "0"}, []string{"LMOVE l m RIGHT LEFT"}},
		{[]any{"brpoplpush", "m", "l", "0"}, []string{"RPOPLPUSH m l"}},
		{[]any{"blmpop", "0", "1", "m", "left", "count", "2"}, []string{"LPOP m 2"}},
		{[]any{"lrange", "l", "0", "-1"}, nil},
		{[]any{"lpos", "l", "x"}, nil},
	} {
		_, err := do(t, rc, tc.args...)
		if err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := fx.take(); !slices.Equal(got, tc.want) {
			t.Fatalf("%v recorded %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestListEffectsReplay runs random list commands on a primary, replays
// the effects on a second server and checks both end with the same lists.
func TestListEffectsReplay(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var fx listFx
	primary.SetEffectHook(fx.hook)
	rc := newClient(t, primary, nil)
	g := listGen{r: rand.New(rand.NewPCG(9, 9))}
	for range 800 {
		args := g.next()
		if strings.HasPrefix(args[0], "B") { // keep the run quick: blocking forms only when they serve
			args[len(args)-1] = "0.001"
			if args[0] == "BLMPOP" {
				args[1] = "0.001"
			}
		}
		a := make([]any, len(args))
		for i, v := range args {
			a[i] = v
		}
		_, _ = do(t, rc, a...)
	}
	rr := newClient(t, replica, nil)
	for _, parts := range fx.takeRaw() {
		a := make([]any, len(parts))
		for i, v := range parts {
			a[i] = v
		}
		if _, err := do(t, rr, a...); err != nil && err != redis.Nil {
			t.Fatalf("replay %.100q: %v", parts, err)
		}
	}
	for _, k := range []string{"l1", "l2", "l3", "str", "none"} {
		a, errA := rc.LRange(ctxT(t), k, 0, -1).Result()
		b, errB := rr.LRange(ctxT(t), k, 0, -1).Result()
		if !slices.Equal(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("%s differs after replay: %d vs %d elements (%v %v)", k, len(a), len(b), errA, errB)
		}
	}
}

// TestListKeyspaceEvents checks the keyspace events the list commands
// publish, in Redis's order (the type event, then del).
func TestListKeyspaceEvents(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	if err := rc.ConfigSet(ctx, "notify-keyspace-events", "Elg").Err(); err != nil {
		t.Fatal(err)
	}
	sub := rc.PSubscribe(ctx, "__keyevent@0__:*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := sub.Channel()
	for _, args := range [][]any{
		{"rpush", "l", "a", "b"}, {"lpush", "l", "c"}, {"lpop", "l"}, {"lset", "l", "0", "x"},
		{"linsert", "l", "before", "x", "y"}, {"lrem", "l", "0", "y"}, {"ltrim", "l", "0", "0"},
		{"lmove", "l", "m", "left", "right"}, {"rpoplpush", "m", "m"}, {"lmpop", "1", "m", "left", "count", "5"},
		{"rpush", "n", "1"}, {"blpop", "n", "0"}, {"lpushx", "n", "1"}, {"lpop", "n"},
	} {
		_, _ = do(t, rc, args...)
	}
	want := []string{"rpush l", "lpush l", "lpop l", "lset l", "linsert l", "lrem l", "ltrim l",
		"rpush m", "lpop l", "del l", "lpush m", "rpop m", "lpop m", "del m", "rpush n", "lpop n", "del n"}
	for i, w := range want {
		select {
		case m := <-msgs:
			if got := strings.TrimPrefix(m.Channel, "__keyevent@0__:") + " " + m.Payload; got != w {
				t.Fatalf("event %d = %q, want %q", i, got, w)
			}
		case <-ctx.Done():
			t.Fatalf("event %d (%q) never came", i, w)
		}
	}
}
