package server

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/keycmd"
	"github.com/cached/cached/store"
)

// keysProtos are the client settings every keyspace test runs with: go-redis's
// default RESP3 and RESP2.
var keysProtos = []struct {
	name   string
	mutate func(o *redis.Options)
}{{"resp3", nil}, {"resp2", resp2}}

// keysObj is a stand-in collection for keyspace tests: a list-like object
// that can be cloned (COPY) and names its encoding (OBJECT ENCODING).
type keysObj struct{ items []string }

func (o *keysObj) Clone() any             { return &keysObj{items: slices.Clone(o.items)} }
func (o *keysObj) Encoding() string       { return "listpack" }
func (o *keysObj) String() string         { return strings.Join(o.items, ",") }
func (o *keysObj) push(item string)       { o.items = append(o.items, item) }
func (o *keysObj) size() int64            { return int64(16 * (len(o.items) + 1)) }
func newKeysObj(items ...string) *keysObj { return &keysObj{items: items} }

// keysSeed writes a string key straight into s's store (no command, no effect).
// exp is an absolute Unix ms time, 0 for none.
func keysSeed(s *Server, db int, key, val string, exp int64) {
	s.Store().Set(db, []byte(key), []byte(val), exp, 0, "set")
}

// keysSeedObj writes a collection key of type t straight into s's store.
func keysSeedObj(s *Server, db int, key string, t store.Type, o *keysObj, exp int64) {
	tx := s.Store().Lock([]byte(key))
	tx.SetObject(db, []byte(key), t, o, o.size(), exp)
	tx.Unlock()
}

// keysState is what a key holds, for comparing two stores.
type keysState struct {
	t   store.Type
	val string // string value, or the object's String()
	exp int64
}

// keysPeek reads key's state from s's store.
func keysPeek(s *Server, db int, key string) (keysState, bool) {
	tx := s.Store().Lock([]byte(key))
	defer tx.Unlock()
	e, ok := tx.Peek(db, []byte(key))
	if !ok {
		return keysState{}, false
	}
	st := keysState{t: e.Type(), exp: e.ExpireAt(), val: string(e.Str())}
	if o, ok := e.Object().(fmt.Stringer); ok {
		st.val = o.String()
	}
	return st, true
}

// keysDump returns every key of db with its state.
func keysDump(t testing.TB, s *Server, db int) map[string]keysState {
	t.Helper()
	keys := allKeys(s, db)
	out := make(map[string]keysState, len(keys))
	for _, k := range keys {
		if st, ok := keysPeek(s, db, k); ok {
			out[k] = st
		}
	}
	return out
}

// keysWantStr asserts that key holds the string val in db (with any TTL).
func keysWantStr(t testing.TB, s *Server, db int, key, val string) {
	t.Helper()
	st, ok := keysPeek(s, db, key)
	if !ok || st.t != store.TypeString || st.val != val {
		t.Fatalf("db %d key %q = %+v (exists %v), want string %q", db, key, st, ok, val)
	}
}

// keysWantMissing asserts that key does not exist in db.
func keysWantMissing(t testing.TB, s *Server, db int, key string) {
	t.Helper()
	if st, ok := keysPeek(s, db, key); ok {
		t.Fatalf("db %d key %q exists: %+v", db, key, st)
	}
}

func keysWantInt(t testing.TB, what string, got int64, err error, want int64) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("%s = %d, %v; want %d", what, got, err, want)
	}
}

func TestKeysDelExistsTouchType(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			future := time.Now().Add(time.Hour).UnixMilli()
			keysSeed(s, 0, "a", "1", 0)
			keysSeed(s, 0, "b", "2", future)
			keysSeed(s, 0, "gone", "x", 1) // expired long ago
			keysSeedObj(s, 0, "l", store.TypeList, newKeysObj("x"), 0)
			keysSeedObj(s, 0, "h", store.TypeHash, newKeysObj("f"), 0)
			keysSeedObj(s, 0, "s", store.TypeSet, newKeysObj("m"), 0)
			keysSeedObj(s, 0, "z", store.TypeZSet, newKeysObj("m"), 0)

			n, err := rc.Exists(ctx, "a", "a", "b", "gone", "nope").Result()
			keysWantInt(t, "EXISTS a a b gone nope", n, err, 3)
			n, err = rc.Touch(ctx, "a", "b", "b", "nope", "l").Result()
			keysWantInt(t, "TOUCH", n, err, 4)
			for key, want := range map[string]string{"a": "string", "l": "list", "h": "hash", "s": "set",
				"z": "zset", "nope": "none", "gone": "none"} {
				if got, err := rc.Type(ctx, key).Result(); err != nil || got != want {
					t.Fatalf("TYPE %s = %q, %v; want %q", key, got, err, want)
				}
			}
			n, err = rc.Del(ctx, "a", "a", "nope", "l").Result()
			keysWantInt(t, "DEL a a nope l", n, err, 2)
			keysWantMissing(t, s, 0, "a")
			keysWantMissing(t, s, 0, "l")
			n, err = rc.Unlink(ctx, "b", "h", "gone").Result()
			keysWantInt(t, "UNLINK b h gone", n, err, 2)
			n, err = rc.Del(ctx, "s", "z").Result()
			keysWantInt(t, "DEL s z", n, err, 2)
			if n, err := rc.DBSize(ctx).Result(); err != nil || n != 0 {
				t.Fatalf("DBSIZE = %d, %v; want 0", n, err)
			}
			for _, cmd := range []string{"del", "unlink", "exists", "touch", "type"} {
				wantErr(t, rc, "ERR wrong number of arguments for '"+cmd+"' command", cmd)
			}
			wantErr(t, rc, "ERR wrong number of arguments for 'type' command", "type", "a", "b")
		})
	}
}

// TestKeysManyShards makes DEL and EXISTS lock more shards than the store's
// allocation-free fast path covers.
func TestKeysManyShards(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	args := []any{"exists"}
	keys := make([]string, 0, 200)
	for i := range 200 {
		k := fmt.Sprintf("k%d", i)
		keysSeed(s, 0, k, "v", 0)
		keys = append(keys, k)
		args = append(args, k)
	}
	if got := mustDo(t, rc, args...); got != int64(200) {
		t.Fatalf("EXISTS 200 keys = %v", got)
	}
	n, err := rc.Del(ctxT(t), keys...).Result()
	keysWantInt(t, "DEL 200 keys", n, err, 200)
}

func TestKeysRename(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			future := time.Now().Add(time.Hour).UnixMilli()
			keysSeed(s, 0, "src", "v", future)
			keysSeed(s, 0, "dst", "old", 0)
			if got, err := rc.Rename(ctx, "src", "dst").Result(); err != nil || got != "OK" {
				t.Fatalf("RENAME = %q, %v", got, err)
			}
			keysWantMissing(t, s, 0, "src")
			if st, _ := keysPeek(s, 0, "dst"); st.val != "v" || st.exp != future {
				t.Fatalf("dst after RENAME = %+v, want v with exp %d", st, future)
			}
			wantErr(t, rc, "ERR no such key", "rename", "src", "x")
			wantErr(t, rc, "ERR no such key", "rename", "src", "src")
			wantErr(t, rc, "ERR no such key", "renamenx", "src", "x")
			// Same name: OK / 0 and nothing changes.
			if got, err := rc.Rename(ctx, "dst", "dst").Result(); err != nil || got != "OK" {
				t.Fatalf("RENAME dst dst = %q, %v", got, err)
			}
			if ok, err := rc.RenameNX(ctx, "dst", "dst").Result(); err != nil || ok {
				t.Fatalf("RENAMENX dst dst = %v, %v", ok, err)
			}
			keysWantStr(t, s, 0, "dst", "v")
			keysSeedObj(s, 0, "other", store.TypeList, newKeysObj("x"), 0)
			if ok, err := rc.RenameNX(ctx, "dst", "other").Result(); err != nil || ok {
				t.Fatalf("RENAMENX onto existing = %v, %v", ok, err)
			}
			if ok, err := rc.RenameNX(ctx, "dst", "fresh").Result(); err != nil || !ok {
				t.Fatalf("RENAMENX onto fresh = %v, %v", ok, err)
			}
			keysWantStr(t, s, 0, "fresh", "v")
			// RENAME overwrites a key of another type, and moves objects.
			if err := rc.Rename(ctx, "other", "fresh").Err(); err != nil {
				t.Fatal(err)
			}
			if st, _ := keysPeek(s, 0, "fresh"); st.t != store.TypeList || st.exp != 0 {
				t.Fatalf("fresh after RENAME list = %+v", st)
			}
			rc.Del(ctx, "fresh")
		})
	}
}

func TestKeysCopy(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			future := time.Now().Add(time.Hour).UnixMilli()
			keysSeed(s, 0, "src", "v", future)
			keysSeed(s, 0, "taken", "old", 0)
			n, err := rc.Copy(ctx, "src", "dst", 0, false).Result()
			keysWantInt(t, "COPY src dst DB 0", n, err, 1)
			if st, _ := keysPeek(s, 0, "dst"); st.val != "v" || st.exp != future {
				t.Fatalf("dst = %+v, want v exp %d", st, future)
			}
			keysWantStr(t, s, 0, "src", "v")
			n, err = rc.Copy(ctx, "src", "taken", 0, false).Result()
			keysWantInt(t, "COPY onto existing", n, err, 0)
			keysWantStr(t, s, 0, "taken", "old")
			n, err = rc.Copy(ctx, "src", "taken", 0, true).Result()
			keysWantInt(t, "COPY REPLACE", n, err, 1)
			keysWantStr(t, s, 0, "taken", "v")
			n, err = rc.Copy(ctx, "nope", "x", 0, true).Result()
			keysWantInt(t, "COPY missing", n, err, 0)
			n, err = rc.Copy(ctx, "src", "src", 3, false).Result()
			keysWantInt(t, "COPY to db 3", n, err, 1)
			keysWantStr(t, s, 3, "src", "v")
			// Raw forms: no DB option, options in any case and order.
			if got := mustDo(t, rc, "copy", "src", "plain"); got != int64(1) {
				t.Fatalf("COPY src plain = %v", got)
			}
			if got := mustDo(t, rc, "COPY", "src", "plain", "replace", "db", "0"); got != int64(1) {
				t.Fatalf("COPY replace db 0 = %v", got)
			}
			// A copied object is independent of its source.
			o := newKeysObj("a")
			keysSeedObj(s, 0, "list", store.TypeList, o, 0)
			mustDo(t, rc, "copy", "list", "list2")
			o.push("b")
			if st, _ := keysPeek(s, 0, "list2"); st.t != store.TypeList || st.val != "a" {
				t.Fatalf("copied list = %+v, want independent [a]", st)
			}
			for _, tc := range []struct {
				msg  string
				args []any
			}{
				{"ERR source and destination objects are the same", []any{"copy", "src", "src"}},
				{"ERR source and destination objects are the same", []any{"copy", "src", "src", "db", "0"}},
				{"ERR source and destination objects are the same", []any{"copy", "nope", "nope"}},
				{"ERR DB index is out of range", []any{"copy", "src", "x", "db", "16"}},
				{"ERR DB index is out of range", []any{"copy", "src", "x", "db", "-1"}},
				{"ERR value is not an integer or out of range", []any{"copy", "src", "x", "db", "abc"}},
				{"ERR value is not an integer or out of range", []any{"copy", "src", "x", "db", "4294967296"}},
				{"ERR syntax error", []any{"copy", "src", "x", "db"}},
				{"ERR syntax error", []any{"copy", "src", "x", "foo"}},
				{"ERR syntax error", []any{"copy", "src", "x", "replace", "db", "1", "extra"}},
				{"ERR wrong number of arguments for 'copy' command", []any{"copy", "src"}},
			} {
				wantErr(t, rc, tc.msg, tc.args...)
			}
			mustDo(t, rc, "flushall")
		})
	}
}

func TestKeysMove(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			future := time.Now().Add(time.Hour).UnixMilli()
			keysSeed(s, 0, "k", "v", future)
			if ok, err := rc.Move(ctx, "k", 2).Result(); err != nil || !ok {
				t.Fatalf("MOVE k 2 = %v, %v", ok, err)
			}
			keysWantMissing(t, s, 0, "k")
			if st, _ := keysPeek(s, 2, "k"); st.val != "v" || st.exp != future {
				t.Fatalf("db2 k = %+v", st)
			}
			if ok, err := rc.Move(ctx, "k", 2).Result(); err != nil || ok {
				t.Fatalf("MOVE missing = %v, %v", ok, err)
			}
			keysSeed(s, 0, "k", "new", 0)
			if ok, err := rc.Move(ctx, "k", 2).Result(); err != nil || ok {
				t.Fatalf("MOVE onto existing = %v, %v", ok, err)
			}
			keysWantStr(t, s, 0, "k", "new")
			keysWantStr(t, s, 2, "k", "v")
			wantErr(t, rc, "ERR source and destination objects are the same", "move", "k", "0")
			wantErr(t, rc, "ERR DB index is out of range", "move", "k", "16")
			wantErr(t, rc, "ERR DB index is out of range", "move", "k", "-1")
			wantErr(t, rc, "ERR value is not an integer or out of range", "move", "k", "x")
			wantErr(t, rc, "ERR value is not an integer or out of range", "move", "k", "2147483648")
			mustDo(t, rc, "flushall")
		})
	}
}

func TestKeysSwapDB(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			ctx := ctxT(t)
			c0 := newClient(t, s, func(o *redis.Options) {
				if p.mutate != nil {
					p.mutate(o)
				}
				o.DB = 0
			})
			c1 := newClient(t, s, func(o *redis.Options) {
				if p.mutate != nil {
					p.mutate(o)
				}
				o.DB = 1
			})
			keysSeed(s, 0, "only0", "zero", 0)
			keysSeed(s, 1, "only1", "one", 0)
			keysSeed(s, 1, "one-more", "one", 0)
			if got := mustDo(t, c0, "swapdb", "0", "1"); got != "OK" {
				t.Fatalf("SWAPDB = %v", got)
			}
			// Each client stays on its db number and now sees the other data.
			if n, err := c0.DBSize(ctx).Result(); err != nil || n != 2 {
				t.Fatalf("db0 size after swap = %d, %v", n, err)
			}
			if n, err := c0.Exists(ctx, "only1", "one-more", "only0").Result(); err != nil || n != 2 {
				t.Fatalf("db0 EXISTS = %d, %v", n, err)
			}
			if n, err := c1.Exists(ctx, "only0").Result(); err != nil || n != 1 {
				t.Fatalf("db1 EXISTS only0 = %d, %v", n, err)
			}
			if n, err := c1.DBSize(ctx).Result(); err != nil || n != 1 {
				t.Fatalf("db1 size after swap = %d, %v", n, err)
			}
			mustDo(t, c1, "swapdb", "1", "1") // same db: OK, no change
			if n, _ := c1.DBSize(ctx).Result(); n != 1 {
				t.Fatalf("db1 size after self swap = %d", n)
			}
			for _, tc := range []struct {
				msg  string
				args []any
			}{
				{"ERR invalid first DB index", []any{"swapdb", "x", "1"}},
				{"ERR invalid first DB index", []any{"swapdb", "x", "y"}},
				{"ERR invalid first DB index", []any{"swapdb", "2147483648", "1"}},
				{"ERR invalid second DB index", []any{"swapdb", "0", "y"}},
				{"ERR invalid second DB index", []any{"swapdb", "99", "y"}},
				{"ERR DB index is out of range", []any{"swapdb", "0", "16"}},
				{"ERR DB index is out of range", []any{"swapdb", "-1", "0"}},
				{"ERR wrong number of arguments for 'swapdb' command", []any{"swapdb", "0"}},
			} {
				wantErr(t, c0, tc.msg, tc.args...)
			}
			mustDo(t, c0, "flushall")
		})
	}
}

func TestKeysRandomKeyDBSizeFlush(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			if _, err := rc.RandomKey(ctx).Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("RANDOMKEY on empty db: err %v, want nil reply", err)
			}
			keysSeed(s, 0, "dead", "x", 1)
			if _, err := rc.RandomKey(ctx).Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("RANDOMKEY with only an expired key: err %v, want nil reply", err)
			}
			want := map[string]bool{}
			for i := range 20 {
				k := fmt.Sprintf("r%d", i)
				want[k] = true
				keysSeed(s, 0, k, "v", 0)
			}
			keysSeed(s, 1, "other-db", "v", 0)
			for range 50 {
				k, err := rc.RandomKey(ctx).Result()
				if err != nil || !want[k] {
					t.Fatalf("RANDOMKEY = %q, %v", k, err)
				}
			}
			if n, err := rc.DBSize(ctx).Result(); err != nil || n != 20 {
				t.Fatalf("DBSIZE = %d, %v", n, err)
			}
			if got, err := rc.FlushDB(ctx).Result(); err != nil || got != "OK" {
				t.Fatalf("FLUSHDB = %q, %v", got, err)
			}
			if n, _ := rc.DBSize(ctx).Result(); n != 0 {
				t.Fatalf("DBSIZE after FLUSHDB = %d", n)
			}
			keysWantStr(t, s, 1, "other-db", "v") // other dbs untouched
			keysSeed(s, 0, "a", "v", 0)
			if err := rc.FlushDBAsync(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			mustDo(t, rc, "flushdb", "SYNC")
			keysWantMissing(t, s, 0, "a")
			keysSeed(s, 0, "a", "v", 0)
			keysSeed(s, 5, "b", "v", 0)
			if got, err := rc.FlushAll(ctx).Result(); err != nil || got != "OK" {
				t.Fatalf("FLUSHALL = %q, %v", got, err)
			}
			for db := range 16 {
				if n := s.Store().DBSize(db); n != 0 {
					t.Fatalf("db %d has %d keys after FLUSHALL", db, n)
				}
			}
			keysSeed(s, 3, "c", "v", 0)
			if err := rc.FlushAllAsync(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			mustDo(t, rc, "FLUSHALL", "sync")
			keysWantMissing(t, s, 3, "c")
			for _, cmd := range []string{"flushdb", "flushall"} {
				wantErr(t, rc, "ERR syntax error", cmd, "now")
				wantErr(t, rc, "ERR syntax error", cmd, "async", "sync")
			}
			wantErr(t, rc, "ERR wrong number of arguments for 'dbsize' command", "dbsize", "x")
			wantErr(t, rc, "ERR wrong number of arguments for 'randomkey' command", "randomkey", "x")
		})
	}
}

func TestKeysObject(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			keysSeed(s, 0, "int", "12345", 0)
			keysSeed(s, 0, "emb", "hello", 0)
			keysSeed(s, 0, "raw", strings.Repeat("x", 45), 0)
			keysSeedObj(s, 0, "list", store.TypeList, newKeysObj("a"), 0)
			for key, want := range map[string]string{"int": "int", "emb": "embstr", "raw": "raw", "list": "listpack"} {
				if got, err := rc.ObjectEncoding(ctx, key).Result(); err != nil || got != want {
					t.Fatalf("OBJECT ENCODING %s = %q, %v; want %q", key, got, err, want)
				}
			}
			if d, err := rc.ObjectIdleTime(ctx, "int").Result(); err != nil || d < 0 || d > time.Minute {
				t.Fatalf("OBJECT IDLETIME = %v, %v", d, err)
			}
			n, err := rc.ObjectRefCount(ctx, "emb").Result()
			keysWantInt(t, "OBJECT REFCOUNT", n, err, 1)
			_, err = rc.ObjectFreq(ctx, "emb").Result()
			if err == nil || err.Error() != keycmd.ErrLFUNotSelected {
				t.Fatalf("OBJECT FREQ: %v", err)
			}
			// A missing key gives a nil reply for every subcommand.
			for _, sub := range []string{"encoding", "idletime", "refcount", "freq"} {
				if v, err := do(t, rc, "object", sub, "nope"); !errors.Is(err, redis.Nil) {
					t.Fatalf("OBJECT %s nope = %v, %v; want nil", sub, v, err)
				}
			}
			help, err := do(t, rc, "OBJECT", "help")
			lines, _ := help.([]any)
			if err != nil || len(lines) != 15 || lines[0] != "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" ||
				lines[13] != "HELP" {
				t.Fatalf("OBJECT HELP = %v, %v", help, err)
			}
			wantErr(t, rc, "ERR unknown subcommand 'foo'. Try OBJECT HELP.", "object", "foo", "k")
			wantErr(t, rc, "ERR wrong number of arguments for 'object' command", "object")
			wantErr(t, rc, "ERR wrong number of arguments for 'object|encoding' command", "object", "encoding")
			wantErr(t, rc, "ERR wrong number of arguments for 'object|help' command", "object", "help", "x")
			mustDo(t, rc, "flushall")
		})
	}
}

// TestKeysCommandSpecs checks the table entries clients see in COMMAND.
func TestKeysCommandSpecs(t *testing.T) {
	s := startServer(t, nil)
	for _, tc := range []struct {
		name, flags       string
		arity, first, lst int
		acl               []string
	}{
		{"del", "write", -2, 1, -1, []string{"write", "slow", "keyspace"}},
		{"exists", "readonly fast", -2, 1, -1, []string{"read", "fast", "keyspace"}},
		{"copy", "write denyoom", -3, 1, 2, []string{"write", "slow", "keyspace"}},
		{"keys", "readonly", 2, 0, 0, []string{"read", "slow", "keyspace", "dangerous"}},
		{"swapdb", "write fast", 3, 0, 0, []string{"write", "fast", "keyspace", "dangerous"}},
		{"flushall", "write", -1, 0, 0, []string{"write", "slow", "keyspace", "dangerous"}},
		{"dbsize", "readonly fast", 1, 0, 0, []string{"read", "fast", "keyspace"}},
		{"expire", "write fast", -3, 1, 1, []string{"write", "fast", "keyspace"}},
		{"scan", "readonly", -2, 0, 0, []string{"read", "slow", "keyspace"}},
	} {
		c := s.cmds.lookup([]byte(tc.name))
		if c == nil {
			t.Fatalf("%s not in the table", tc.name)
		}
		if c.flags != parseFlags(tc.flags) || c.arity != tc.arity || c.first != tc.first || c.last != tc.lst {
			t.Errorf("%s: flags %b arity %d keys %d..%d", tc.name, c.flags, c.arity, c.first, c.last)
		}
		if !slices.Equal(c.acl, tc.acl) {
			t.Errorf("%s: acl %v, want %v", tc.name, c.acl, tc.acl)
		}
	}
	if c := s.cmds.lookup([]byte("object")).lookupSub([]byte("encoding")); c == nil ||
		!slices.Equal(c.keyPositions([][]byte{[]byte("object"), []byte("encoding"), []byte("k")}), []int{2}) {
		t.Errorf("object|encoding key positions wrong")
	}
}

// BenchmarkKeysPipelined measures keyspace commands end to end (client
// write, redcon parse, handler, reply) with 100 commands per round trip on
// one in-process server; allocs/op include the server's.
func BenchmarkKeysPipelined(b *testing.B) {
	s := startServer(b, nil)
	for i := range 1000 {
		keysSeed(s, 0, "bench:"+strconv.Itoa(i), "v", 0)
	}
	for _, bc := range []struct {
		name string
		cmd  func(i int) string
	}{
		{"exists", func(i int) string { return keysRESP("EXISTS", "bench:"+strconv.Itoa(i%1000)) }},
		{"ttl", func(i int) string { return keysRESP("TTL", "bench:"+strconv.Itoa(i%1000)) }},
		{"expire", func(i int) string { return keysRESP("EXPIRE", "bench:"+strconv.Itoa(i%1000), "1000") }},
		{"persist", func(i int) string { return keysRESP("PERSIST", "bench:"+strconv.Itoa(i%1000)) }},
		{"type", func(i int) string { return keysRESP("TYPE", "bench:"+strconv.Itoa(i%1000)) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			nc, r := rawConn(b, s)
			const batch = 100
			var req strings.Builder
			for i := range batch {
				req.WriteString(bc.cmd(i))
			}
			payload := req.String()
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				send(b, nc, payload)
				for range batch {
					readLine(b, r)
				}
			}
		})
	}
}

// keysRESP encodes a command in RESP request form.
func keysRESP(args ...string) string {
	var sb strings.Builder
	sb.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		sb.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return sb.String()
}

// FuzzKeysCommands sends one keyspace command with fuzzed arguments (split
// on spaces) and checks the server answers it and keeps serving.
func FuzzKeysCommands(f *testing.F) {
	names := []string{"del", "exists", "type", "touch", "expire", "pexpire", "expireat", "pexpireat",
		"ttl", "pttl", "expiretime", "pexpiretime", "persist", "rename", "renamenx", "copy", "move",
		"swapdb", "keys", "scan", "randomkey", "dbsize", "flushdb", "object", "unlink"}
	for _, seed := range []struct {
		cmd  uint8
		args string
	}{
		{4, "k 9223372036854775807 nx"}, {7, "k -9223372036854775808 gt"}, {15, "a b db 3 replace"},
		{16, "k 2147483648"}, {17, "0 -1"}, {18, "*[a-"}, {19, "18446744073709551615 count 9223372036854775807 type string"},
		{23, "encoding k"}, {23, "freq"}, {22, "async sync"}, {13, "k k"},
	} {
		f.Add(seed.cmd, seed.args)
	}
	s := startServer(f, func(c *config.Config) { c.Databases = 4 })
	keysSeed(s, 0, "k", "v", 0)
	keysSeed(s, 0, "a", "v", 0)
	rc := newClient(f, s, nil)
	f.Fuzz(func(t *testing.T, cmd uint8, args string) {
		call := []any{names[int(cmd)%len(names)]}
		for _, a := range strings.Split(args, " ") {
			call = append(call, a)
		}
		ctx := ctxT(t)
		if err := rc.Do(ctx, call...).Err(); err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "ERR ") {
			t.Fatalf("%q: %v", call, err)
		}
		if err := rc.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after %q: %v", call, err)
		}
		keysSeed(s, 0, "k", "v", 0)
		keysSeed(s, 0, "a", "v", 0)
	})
}
