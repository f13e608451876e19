package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/pubsub"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

func TestNotifyFlagsConfig(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	for _, tc := range []struct{ in, want string }{
		{"KEA", "AKE"},
		{"Ex", "xE"},
		{"$gK", "g$K"},
		{"AKEnm", "AKEm"}, // as Redis, A hides n in the canonical form
		{"Kn", "nK"},
		{"Km$", "$Km"},
		{"g$lshzxetd", "A"},
		{"lshzxetdg$K", "AK"},
		{"E$lshzxetd", "$lshzxetdE"},
		{"", ""},
	} {
		mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", tc.in)
		got := rc.ConfigGet(ctxT(t), "notify-keyspace-events").Val()["notify-keyspace-events"]
		if got != tc.want {
			t.Errorf("CONFIG SET %q: CONFIG GET = %q, want %q", tc.in, got, tc.want)
		}
	}
	mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "KE$")
	wantErr(t, rc, "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
		"CONFIG", "SET", "notify-keyspace-events", "KEZ")
	if got := rc.ConfigGet(ctxT(t), "notify-keyspace-events").Val()["notify-keyspace-events"]; got != "$KE" {
		t.Fatalf("a refused CONFIG SET changed the value to %q", got)
	}
	// Started with the directive (a config file or the command line).
	s2 := startServer(t, func(c *config.Config) {
		if err := c.Set("notify-keyspace-events", "Elg"); err != nil {
			t.Fatal(err)
		}
	})
	if got := newClient(t, s2, nil).ConfigGet(ctxT(t), "notify-keyspace-events").Val()["notify-keyspace-events"]; got != "glE" {
		t.Fatalf("start-up value = %q", got)
	}
}

// eventLog collects keyspace and keyevent messages from a go-redis pattern
// subscription, up to a marker message.
type eventLog struct {
	t   *testing.T
	ps  *redis.PubSub
	pub *redis.Client
}

const notifyMarker = "__keyevent@0__:zz-marker"

func newEventLog(t *testing.T, s *Server, opt func(*redis.Options)) *eventLog {
	t.Helper()
	ps := newClient(t, s, opt).PSubscribe(ctxT(t), "__key*__:*")
	if _, err := ps.Receive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return &eventLog{t: t, ps: ps, pub: newClient(t, s, nil)}
}

// next returns the messages received before a marker it publishes, as
// "channel message" lines.
func (l *eventLog) next() []string {
	l.t.Helper()
	l.pub.Publish(ctxT(l.t), notifyMarker, "m")
	var out []string
	for {
		m, err := l.ps.ReceiveMessage(ctxT(l.t))
		if err != nil {
			l.t.Fatalf("receive: %v", err)
		}
		if m.Channel == notifyMarker {
			return out
		}
		out = append(out, m.Channel+" "+m.Payload)
	}
}

// ev is the two messages (keyspace, then keyevent) of one event.
func ev(db int, event, key string) []string {
	d := strconv.Itoa(db)
	return []string{"__keyspace@" + d + "__:" + key + " " + event, "__keyevent@" + d + "__:" + event + " " + key}
}

func evs(list ...[]string) []string {
	var out []string
	for _, l := range list {
		out = append(out, l...)
	}
	return out
}

func TestNotifyEvents(t *testing.T) {
	for _, proto := range []string{"resp3", "resp2"} {
		t.Run(proto, func(t *testing.T) {
			s := startServer(t, nil)
			rc := newClient(t, s, nil)
			mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "KEA")
			var opt func(*redis.Options)
			if proto == "resp2" {
				opt = resp2
			}
			log := newEventLog(t, s, opt)
			future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
			for _, tc := range []struct {
				args []any
				want []string
			}{
				{[]any{"SET", "k", "v"}, ev(0, "set", "k")},
				{[]any{"SET", "k", "v", "EX", "100"}, evs(ev(0, "set", "k"), ev(0, "expire", "k"))},
				{[]any{"SET", "k", "v", "KEEPTTL"}, ev(0, "set", "k")},
				{[]any{"SET", "k", "v", "NX"}, nil},
				{[]any{"SETNX", "k", "v"}, nil},
				{[]any{"SETEX", "k", "10", "v"}, evs(ev(0, "set", "k"), ev(0, "expire", "k"))},
				{[]any{"PSETEX", "k", "10000", "v"}, evs(ev(0, "set", "k"), ev(0, "expire", "k"))},
				{[]any{"GETSET", "k", "w"}, ev(0, "set", "k")},
				{[]any{"MSET", "a", "1", "b", "2"}, evs(ev(0, "set", "a"), ev(0, "set", "b"))},
				{[]any{"MSETNX", "a", "1", "c", "2"}, nil},
				{[]any{"APPEND", "a", "x"}, ev(0, "append", "a")},
				{[]any{"SETRANGE", "a", "0", "z"}, ev(0, "setrange", "a")},
				{[]any{"SETRANGE", "a", "0", ""}, nil},
				{[]any{"INCR", "n"}, ev(0, "incrby", "n")},
				{[]any{"DECRBY", "n", "3"}, ev(0, "incrby", "n")},
				{[]any{"INCRBYFLOAT", "n", "1.5"}, ev(0, "incrbyfloat", "n")},
				{[]any{"GET", "k"}, nil},
				{[]any{"GET", "missing"}, nil}, // m is not part of A
				{[]any{"EXPIRE", "k", "100"}, ev(0, "expire", "k")},
				{[]any{"EXPIRE", "k", "100", "NX"}, nil},
				{[]any{"PERSIST", "k"}, ev(0, "persist", "k")},
				{[]any{"PERSIST", "k"}, nil},
				{[]any{"EXPIREAT", "k", future}, ev(0, "expire", "k")},
				{[]any{"GETEX", "k", "PERSIST"}, ev(0, "persist", "k")},
				{[]any{"GETEX", "k", "EX", "50"}, ev(0, "expire", "k")},
				{[]any{"RENAME", "k", "k2"}, evs(ev(0, "rename_from", "k"), ev(0, "rename_to", "k2"))},
				{[]any{"RENAMENX", "k2", "a"}, nil},
				{[]any{"COPY", "k2", "k3"}, ev(0, "copy_to", "k3")},
				{[]any{"COPY", "k2", "k3", "DB", "2"}, ev(2, "copy_to", "k3")},
				{[]any{"MOVE", "k3", "1"}, evs(ev(0, "move_from", "k3"), ev(1, "move_to", "k3"))},
				{[]any{"SETBIT", "bits", "7", "1"}, ev(0, "setbit", "bits")},
				{[]any{"SETBIT", "bits", "7", "1"}, nil},
				{[]any{"BITFIELD", "bits", "SET", "u8", "8", "255"}, ev(0, "setbit", "bits")},
				{[]any{"BITFIELD", "bits", "GET", "u8", "0"}, nil},
				{[]any{"BITOP", "NOT", "dest", "bits"}, ev(0, "set", "dest")},
				{[]any{"BITOP", "AND", "dest", "nothing"}, ev(0, "del", "dest")},
				{[]any{"DEL", "a", "b", "nothing"}, evs(ev(0, "del", "a"), ev(0, "del", "b"))},
				{[]any{"UNLINK", "n"}, ev(0, "del", "n")},
				{[]any{"GETDEL", "k2"}, ev(0, "del", "k2")},
				{[]any{"SET", "p", "1"}, ev(0, "set", "p")},
				{[]any{"PEXPIREAT", "p", "1"}, ev(0, "del", "p")},
				{[]any{"SET", "p", "1"}, ev(0, "set", "p")},
				{[]any{"GETEX", "p", "PXAT", "1"}, ev(0, "del", "p")},
			} {
				if _, err := do(t, rc, tc.args...); err != nil && err != redis.Nil {
					t.Fatalf("%v: %v", tc.args, err)
				}
				got := log.next()
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("%v: events\n%s\nwant\n%s", tc.args, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}

func TestNotifyClassesAndKinds(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	log := newEventLog(t, s, nil)
	for _, tc := range []struct {
		flags string
		args  []any
		want  []string
	}{
		{"", []any{"SET", "k", "v"}, nil},
		{"A", []any{"SET", "k", "v"}, nil}, // neither K nor E
		{"K$", []any{"SET", "k", "v"}, []string{"__keyspace@0__:k set"}},
		{"E$", []any{"SET", "k", "v"}, []string{"__keyevent@0__:set k"}},
		{"KEg", []any{"SET", "k", "v"}, nil}, // set is a string event
		{"KEg", []any{"DEL", "k"}, ev(0, "del", "k")},
		{"E$", []any{"DEL", "k"}, nil},
		{"Em", []any{"GET", "missing"}, []string{"__keyevent@0__:keymiss missing"}},
		{"Em", []any{"MGET", "x", "y"}, []string{"__keyevent@0__:keymiss x", "__keyevent@0__:keymiss y"}},
		{"Em", []any{"STRLEN", "x"}, []string{"__keyevent@0__:keymiss x"}},
		{"KEA", []any{"GET", "missing"}, nil},
	} {
		mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", tc.flags)
		if _, err := do(t, rc, tc.args...); err != nil && err != redis.Nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		got := log.next()
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s %v: events %q, want %q", tc.flags, tc.args, got, tc.want)
		}
	}
	// Other databases publish on their own channels.
	mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "KE$")
	rc5 := newClient(t, s, func(o *redis.Options) { o.DB = 5 })
	mustDo(t, rc5, "SET", "k5", "v")
	if got := log.next(); strings.Join(got, "\n") != strings.Join(ev(5, "set", "k5"), "\n") {
		t.Fatalf("db 5 events %q", got)
	}
}

func TestNotifyExpiredAndEvicted(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "notify-keyspace-events", "Exe")
	ctx := ctxT(t)
	ps := newClient(t, s, nil).Subscribe(ctx, "__keyevent@0__:expired", "__keyevent@0__:evicted")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	mustDo(t, rc, "SET", "short", "v", "PX", "1")
	// Lazy or active expiry: either reports it once.
	waitUntil(t, func() bool { return rc.Exists(ctx, "short").Val() == 0 }, func() string { return "short did not expire" })
	m, err := ps.ReceiveMessage(ctx)
	if err != nil || m.Channel != "__keyevent@0__:expired" || m.Payload != "short" {
		t.Fatalf("expired event: %+v %v", m, err)
	}
	mustDo(t, rc, "CONFIG", "SET", "maxmemory-policy", "allkeys-random", "maxmemory", "1mb")
	val := strings.Repeat("v", 1000)
	for i := 0; i < 3000; i++ {
		mustDo(t, rc, "SET", "key:"+strconv.Itoa(i), val)
	}
	m, err = ps.ReceiveMessage(ctx)
	if err != nil || m.Channel != "__keyevent@0__:evicted" || !strings.HasPrefix(m.Payload, "key:") {
		t.Fatalf("evicted event: %+v %v", m, err)
	}
	if rc.Exists(ctx, m.Payload).Val() != 0 {
		t.Fatalf("evicted key %s still exists", m.Payload)
	}
}

func TestNotifyRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	if err := cl.Do(ctx, cl.B().ConfigSet().ParameterValue().ParameterValue("notify-keyspace-events", "K$g").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	got := make(chan rueidis.PubSubMessage, 16)
	done := make(chan error, 1)
	go func() {
		done <- cl.Receive(ctx, cl.B().Subscribe().Channel("__keyspace@0__:rk").Build(), func(m rueidis.PubSubMessage) { got <- m })
	}()
	waitUntil(t, func() bool { return s.pubsub.Size(pubsub.Channel) == 1 }, func() string { return "rueidis SUBSCRIBE" })
	for _, cmd := range []rueidis.Completed{
		cl.B().Set().Key("rk").Value("1").Build(),
		cl.B().Incr().Key("rk").Build(),
		cl.B().Expire().Key("rk").Seconds(100).Build(),
		cl.B().Del().Key("rk").Build(),
	} {
		if err := cl.Do(ctx, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"set", "incrby", "expire", "del"} {
		m := <-got
		if m.Channel != "__keyspace@0__:rk" || m.Message != want {
			t.Fatalf("got %+v, want %s", m, want)
		}
	}
	cancel()
	<-done
}

// localCache is what an application keeps: values read from the server,
// dropped when a keyspace event says the key changed.
type localCache struct {
	mu      sync.Mutex
	m       map[string]string
	dropped chan string
}

func (lc *localCache) get(ctx context.Context, rc *redis.Client, key string) (string, bool) {
	lc.mu.Lock()
	v, ok := lc.m[key]
	lc.mu.Unlock()
	if ok {
		return v, true // served locally
	}
	v, err := rc.Get(ctx, key).Result()
	if err != nil {
		return "", false
	}
	lc.mu.Lock()
	lc.m[key] = v
	lc.mu.Unlock()
	return v, false
}

// invalidate reads __keyspace@0__:* events and drops the keys they name.
func (lc *localCache) invalidate(ch <-chan *redis.Message) {
	for m := range ch {
		key := strings.TrimPrefix(m.Channel, "__keyspace@0__:")
		lc.mu.Lock()
		delete(lc.m, key)
		lc.mu.Unlock()
		lc.dropped <- key + " " + m.Payload
	}
}

// TestNotifyApplicationCache: a client caches values locally and
// invalidates them from keyspace events, for set, del, expire and eviction.
func TestNotifyApplicationCache(t *testing.T) {
	s := startServer(t, nil)
	writer := newClient(t, s, nil)
	reader := newClient(t, s, nil)
	ctx := ctxT(t)
	mustDo(t, writer, "CONFIG", "SET", "notify-keyspace-events", "KA")
	lc := &localCache{m: map[string]string{}, dropped: make(chan string, 10000)}
	ps := reader.PSubscribe(ctx, "__keyspace@0__:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	go lc.invalidate(ps.Channel())
	waitDrop := func(want string) {
		t.Helper()
		for {
			select {
			case d := <-lc.dropped:
				if d == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no invalidation %q", want)
			}
		}
	}
	for i := 0; i < 3; i++ {
		mustDo(t, writer, "SET", fmt.Sprintf("user:%d", i), "v1")
		waitDrop(fmt.Sprintf("user:%d set", i))
	}
	for _, step := range []struct {
		key   string
		write []any
		event string
		after string // value read after the invalidation ("" = gone)
	}{
		{"user:0", []any{"SET", "user:0", "v2"}, "set", "v2"},
		{"user:1", []any{"DEL", "user:1"}, "del", ""},
		{"user:2", []any{"SET", "user:2", "v3"}, "set", "v3"},
	} {
		if v, local := lc.get(ctx, reader, step.key); local || v == "" {
			t.Fatalf("%s: first read %q local=%v", step.key, v, local)
		}
		if _, local := lc.get(ctx, reader, step.key); !local {
			t.Fatalf("%s: second read not served locally", step.key)
		}
		mustDo(t, writer, step.write...)
		waitDrop(step.key + " " + step.event)
		if v, local := lc.get(ctx, reader, step.key); local || v != step.after {
			t.Fatalf("%s after %s: %q local=%v, want %q", step.key, step.event, v, local, step.after)
		}
	}
	// user:2 is cached again; a TTL drops it, and so does its expiry
	// (whether or not it was read again in between).
	if _, local := lc.get(ctx, reader, "user:2"); !local {
		t.Fatal("user:2 not served locally")
	}
	mustDo(t, writer, "PEXPIRE", "user:2", "20")
	waitDrop("user:2 expire")
	lc.get(ctx, reader, "user:2")
	waitUntil(t, func() bool { return writer.Exists(ctx, "user:2").Val() == 0 }, func() string { return "user:2 did not expire" })
	waitDrop("user:2 expired")
	if _, local := lc.get(ctx, reader, "user:2"); local {
		t.Fatal("an expired key was served locally")
	}
	// Eviction: keys cached locally and evicted on the server are dropped.
	if v, _ := lc.get(ctx, reader, "user:0"); v != "v2" {
		t.Fatalf("user:0 = %q", v)
	}
	mustDo(t, writer, "CONFIG", "SET", "maxmemory-policy", "allkeys-random", "maxmemory", "1mb")
	val := strings.Repeat("x", 1000)
	for i := 0; writer.Exists(ctx, "user:0").Val() == 1; i++ {
		if i == 20000 {
			t.Fatal("user:0 never evicted")
		}
		mustDo(t, writer, "SET", "fill:"+strconv.Itoa(i), val)
	}
	waitDrop("user:0 evicted")
	lc.mu.Lock()
	_, stale := lc.m["user:0"]
	lc.mu.Unlock()
	if stale {
		t.Fatal("evicted key still cached locally")
	}
}
