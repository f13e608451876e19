package server

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cached/cached/store"
)

// keysEffectLog records the effects a server publishes.
type keysEffectLog struct {
	mu   sync.Mutex // protects list
	list []keysEffect
}

type keysEffect struct {
	db  int
	cmd []string
}

func (l *keysEffectLog) hook(db int, cmd [][]byte) {
	r := keysEffect{db: db}
	for _, a := range cmd {
		r.cmd = append(r.cmd, string(a)) // copies: cmd dies after the call
	}
	l.mu.Lock()
	l.list = append(l.list, r)
	l.mu.Unlock()
}

// take returns the effects recorded so far and forgets them.
func (l *keysEffectLog) take() []keysEffect {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.list
	l.list = nil
	return out
}

// keysReplay applies effects to s through one connection, selecting each
// effect's database.
func keysReplay(t *testing.T, s *Server, effects []keysEffect) {
	t.Helper()
	ctx := ctxT(t)
	rc := newClient(t, s, nil)
	conn := rc.Conn()
	defer conn.Close()
	for _, e := range effects {
		if err := conn.Select(ctx, e.db).Err(); err != nil {
			t.Fatalf("SELECT %d: %v", e.db, err)
		}
		args := make([]any, len(e.cmd))
		for i, a := range e.cmd {
			args[i] = a
		}
		if err := conn.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
			t.Fatalf("replay %v in db %d: %v", e.cmd, e.db, err)
		}
	}
}

// keysSameStores asserts that every database of a and b holds the same keys,
// values and expiry times.
func keysSameStores(t *testing.T, a, b *Server) {
	t.Helper()
	for db := range a.Store().Databases() {
		da, dbb := keysDump(t, a, db), keysDump(t, b, db)
		if !maps.Equal(da, dbb) {
			t.Fatalf("db %d differs:\n primary %v\n replica %v", db, da, dbb)
		}
	}
}

// keysSeedEffects writes the same starting data into s.
func keysSeedEffects(s *Server, future int64) {
	for i := range 10 {
		keysSeed(s, 0, "k"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
	}
	keysSeed(s, 0, "ttl", "t", future)
	keysSeed(s, 0, "ttl2", "t", future+1000)
	keysSeedObj(s, 0, "list", store.TypeList, newKeysObj("a", "b"), 0)
	keysSeed(s, 2, "k1", "db2", 0)
	keysSeed(s, 3, "dst", "old", 0)
	keysSeed(s, 5, "five", "5", 0)
}

func TestKeysEffectsReplay(t *testing.T) {
	primary, replica := startServer(t, nil), startServer(t, nil)
	var log keysEffectLog
	primary.SetEffectHook(log.hook)
	future := time.Now().Add(time.Hour).UnixMilli()
	keysSeedEffects(primary, future)
	keysSeedEffects(replica, future)

	ctx := ctxT(t)
	rc := newClient(t, primary, nil)
	rc5 := newClient(t, primary, func(o *redis.Options) { o.DB = 5; o.Protocol = 2 })
	steps := []struct {
		c    *redis.Client
		args []any
		want []string // the effects this step must record, "" joined by spaces
	}{
		{rc, []any{"del", "k0", "k0", "nope", "k1"}, []string{"DEL k0", "DEL k1"}},
		{rc, []any{"unlink", "k2"}, []string{"DEL k2"}},
		{rc, []any{"touch", "k3", "k4"}, nil},
		{rc, []any{"exists", "k3"}, nil},
		{rc, []any{"expire", "k3", "1000"}, []string{"PEXPIREAT k3 *"}},
		{rc, []any{"pexpire", "k4", "500000", "nx"}, []string{"PEXPIREAT k4 *"}},
		{rc, []any{"expire", "k4", "10", "gt"}, nil},
		{rc, []any{"expireat", "k5", "1"}, []string{"DEL k5"}},
		{rc, []any{"pexpireat", "k6", strconv.FormatInt(future+5, 10)}, []string{"PEXPIREAT k6 " + strconv.FormatInt(future+5, 10)}},
		{rc, []any{"persist", "ttl"}, []string{"PERSIST ttl"}},
		{rc, []any{"persist", "ttl"}, nil},
		{rc, []any{"rename", "k7", "k8"}, []string{"RENAME k7 k8"}},
		{rc, []any{"renamenx", "k8", "k9"}, nil},
		{rc, []any{"rename", "k8", "k8"}, nil},
		{rc, []any{"renamenx", "k8", "k10"}, []string{"RENAMENX k8 k10"}},
		{rc, []any{"copy", "ttl2", "dst", "db", "3", "replace"}, []string{"COPY ttl2 dst DB 3 REPLACE"}},
		{rc, []any{"copy", "list", "list2"}, []string{"COPY list list2"}},
		{rc, []any{"copy", "list", "list2"}, nil},
		{rc, []any{"move", "k9", "2"}, []string{"MOVE k9 2"}},
		{rc, []any{"move", "k1", "2"}, nil},
		{rc, []any{"swapdb", "2", "4"}, []string{"SWAPDB 2 4"}},
		{rc5, []any{"flushdb", "async"}, []string{"FLUSHDB"}},
	}
	for _, st := range steps {
		if err := st.c.Do(ctx, st.args...).Err(); err != nil {
			t.Fatalf("%v: %v", st.args, err)
		}
		got := log.take()
		if len(got) != len(st.want) {
			t.Fatalf("%v recorded %v, want %v", st.args, got, st.want)
		}
		for i, e := range got {
			want := st.want[i]
			line := fmt.Sprint(e.cmd)
			if n := len(want); n > 0 && want[n-1] == '*' {
				if len(line) < n || line[1:n] != want[:n-1] {
					t.Fatalf("%v recorded %s, want %s", st.args, line, want)
				}
			} else if line != "["+want+"]" {
				t.Fatalf("%v recorded %s, want [%s]", st.args, line, want)
			}
			keysReplay(t, replica, []keysEffect{e})
		}
	}
	// EXPIRE's effect carries the absolute time the primary stored.
	if a, b := keysMustPeek(t, primary, 0, "k3"), keysMustPeek(t, replica, 0, "k3"); a.exp == 0 || a.exp != b.exp {
		t.Fatalf("k3 exp primary %d replica %d", a.exp, b.exp)
	}
	keysSameStores(t, primary, replica)

	mustDo(t, rc, "flushall")
	got := log.take()
	if len(got) != 1 || fmt.Sprint(got[0].cmd) != "[FLUSHALL]" {
		t.Fatalf("FLUSHALL recorded %v", got)
	}
	keysReplay(t, replica, got)
	keysSameStores(t, primary, replica)
	if n := replica.Store().DBSize(3); n != 0 {
		t.Fatalf("replica db 3 has %d keys after FLUSHALL", n)
	}
}

func keysMustPeek(t *testing.T, s *Server, db int, key string) keysState {
	t.Helper()
	st, ok := keysPeek(s, db, key)
	if !ok {
		t.Fatalf("db %d key %q missing", db, key)
	}
	return st
}

// TestKeysRueidis drives a representative part of the keyspace commands
// through rueidis's typed builder (RESP3).
func TestKeysRueidis(t *testing.T) {
	s := startServer(t, nil)
	cl, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 30 {
		keysSeed(s, 0, "r:"+strconv.Itoa(i), "v", 0)
	}
	keysSeedObj(s, 0, "rl", store.TypeList, newKeysObj("x"), 0)

	n, err := cl.Do(ctx, cl.B().Exists().Key("r:0", "r:1", "nope").Build()).AsInt64()
	keysWantInt(t, "EXISTS", n, err, 2)
	typ, err := cl.Do(ctx, cl.B().Type().Key("rl").Build()).ToString()
	if err != nil || typ != "list" {
		t.Fatalf("TYPE = %q, %v", typ, err)
	}
	n, err = cl.Do(ctx, cl.B().Expire().Key("r:0").Seconds(100).Gt().Build()).AsInt64()
	keysWantInt(t, "EXPIRE GT without TTL", n, err, 0)
	n, err = cl.Do(ctx, cl.B().Expire().Key("r:0").Seconds(100).Build()).AsInt64()
	keysWantInt(t, "EXPIRE", n, err, 1)
	if n, err = cl.Do(ctx, cl.B().Ttl().Key("r:0").Build()).AsInt64(); err != nil || n < 99 || n > 100 {
		t.Fatalf("TTL = %d, %v", n, err)
	}
	if err := cl.Do(ctx, cl.B().Rename().Key("r:0").Newkey("r:renamed").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	err = cl.Do(ctx, cl.B().Rename().Key("r:0").Newkey("x").Build()).Error()
	if err == nil || err.Error() != "no such key" { // rueidis strips "ERR "
		t.Fatalf("RENAME missing: %v", err)
	}
	n, err = cl.Do(ctx, cl.B().Copy().Source("r:1").Destination("r:copy").Db(1).Replace().Build()).AsInt64()
	keysWantInt(t, "COPY DB 1 REPLACE", n, err, 1)
	keysWantStr(t, s, 1, "r:copy", "v")
	n, err = cl.Do(ctx, cl.B().Del().Key("r:2", "r:3").Build()).AsInt64()
	keysWantInt(t, "DEL", n, err, 2)

	seen := map[string]bool{}
	var cursor uint64
	for {
		e, err := cl.Do(ctx, cl.B().Scan().Cursor(cursor).Match("r:*").Count(4).Type("string").Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		for _, k := range e.Elements {
			seen[k] = true
		}
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	if len(seen) != 28 || !seen["r:renamed"] || seen["r:2"] {
		t.Fatalf("SCAN saw %d keys: %v", len(seen), seen)
	}
	keys, err := cl.Do(ctx, cl.B().Keys().Pattern("r:1?").Build()).AsStrSlice()
	if err != nil || len(keys) != 10 {
		t.Fatalf("KEYS r:1? = %v, %v", keys, err)
	}
	enc, err := cl.Do(ctx, cl.B().ObjectEncoding().Key("r:1").Build()).ToString()
	if err != nil || enc != "embstr" {
		t.Fatalf("OBJECT ENCODING = %q, %v", enc, err)
	}
	if err := cl.Do(ctx, cl.B().ObjectEncoding().Key("nope").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("OBJECT ENCODING missing: %v, want nil", err)
	}
	if n, err = cl.Do(ctx, cl.B().Dbsize().Build()).AsInt64(); err != nil || n != 29 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	if err := cl.Do(ctx, cl.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if n, err = cl.Do(ctx, cl.B().Dbsize().Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL = %d, %v", n, err)
	}
}
