package server

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/hashcmd"
	"github.com/cached/cached/server/setcmd"
	"github.com/redis/go-redis/v9"
)

// Generic commands on hash and set keys (their handlers are not ours: this
// checks that the objects plug into them), and the command table entries
// compared with a real redis-server's COMMAND INFO.

func TestHashSetGenericCommands(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	rc.HSet(ctx, "h", "a", "1", "b", "2")
	rc.SAdd(ctx, "s", "x", "y")
	rc.SAdd(ctx, "i", 1, 2, 3)
	rc.Set(ctx, "str", "v", 0)
	for key, want := range map[string]string{"h": "hash", "s": "set", "i": "set"} {
		if got := rc.Type(ctx, key).Val(); got != want {
			t.Errorf("TYPE %s = %s", key, got)
		}
	}
	for typ, want := range map[string][]string{"hash": {"h"}, "set": {"i", "s"}} {
		keys, _ := rc.ScanType(ctx, 0, "*", 100, typ).Val()
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("SCAN TYPE %s = %v", typ, keys)
		}
	}
	if u := rc.MemoryUsage(ctx, "h").Val(); u < 50 || u > 1000 {
		t.Errorf("MEMORY USAGE h = %d", u)
	}
	before := s.Store().UsedMemory()
	rc.HSet(ctx, "h", "big", strings.Repeat("x", 10000))
	if grown := s.Store().UsedMemory() - before; grown < 10000 || grown > 20000 {
		t.Errorf("a 10000-byte value grew used memory by %d", grown)
	}
	if enc := rc.ObjectEncoding(ctx, "h").Val(); enc != "hashtable" {
		t.Errorf("OBJECT ENCODING h = %s", enc)
	}
	// COPY is deep: changing the copy leaves the original alone.
	if n := rc.Copy(ctx, "h", "h2", 0, false).Val(); n != 1 {
		t.Fatalf("COPY h h2 = %d", n)
	}
	rc.HSet(ctx, "h2", "a", "changed")
	rc.Copy(ctx, "s", "s2", 0, false)
	rc.SAdd(ctx, "s2", "z")
	rc.Copy(ctx, "i", "i2", 0, false)
	rc.SRem(ctx, "i2", "1")
	if v := rc.HGet(ctx, "h", "a").Val(); v != "1" {
		t.Fatalf("original hash changed by its copy: %q", v)
	}
	if n := rc.SCard(ctx, "s").Val(); n != 2 || rc.SCard(ctx, "s2").Val() != 3 {
		t.Fatalf("set copy not deep: %d", n)
	}
	if n := rc.SCard(ctx, "i").Val(); n != 3 || rc.SCard(ctx, "i2").Val() != 2 {
		t.Fatalf("intset copy not deep: %d", n)
	}
	rc.Rename(ctx, "h2", "h3")
	if v := rc.HGet(ctx, "h3", "a").Val(); v != "changed" {
		t.Fatalf("RENAME: %q", v)
	}
	rc.Move(ctx, "s2", 3)
	c3 := newClient(t, s, func(o *redis.Options) { o.DB = 3 })
	if n := c3.SCard(ctx, "s2").Val(); n != 3 {
		t.Fatalf("MOVE: SCARD in db 3 = %d", n)
	}
	rc.Expire(ctx, "h", 100e9)
	rc.HSet(ctx, "h", "c", "3")
	rc.HDel(ctx, "h", "a")
	rc.HIncrByFloat(ctx, "h", "c", 1)
	if ttl := rc.TTL(ctx, "h").Val().Seconds(); ttl < 90 || ttl > 100 {
		t.Fatalf("TTL after hash writes = %v", ttl)
	}
	rc.Expire(ctx, "s", 100e9)
	rc.SAdd(ctx, "s", "q")
	rc.SRem(ctx, "s", "x")
	if ttl := rc.TTL(ctx, "s").Val().Seconds(); ttl < 90 {
		t.Fatalf("TTL after set writes = %v", ttl)
	}
	rc.SUnionStore(ctx, "s", "i")
	if ttl := rc.TTL(ctx, "s").Val(); ttl != -1 {
		t.Fatalf("SUNIONSTORE kept a TTL: %v", ttl)
	}
	if n := rc.Del(ctx, "h", "s", "i").Val(); n != 3 {
		t.Fatalf("DEL = %d", n)
	}
	keys := rc.Keys(ctx, "*").Val()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"h3", "i2", "str"}) {
		t.Fatalf("KEYS = %v", keys)
	}
}

// TestHashSetCommandInfoVsRedis compares COMMAND INFO of every hash and set
// command with redis-server's, and COMMAND GETKEYS of the key-juggling ones.
func TestHashSetCommandInfoVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	theirs := mk(false, 0)
	s := startServer(t, nil)
	ours := newClient(t, s, resp2)
	ctx := ctxT(t)
	var names []string
	for _, sp := range append(hashcmd.Commands(), setcmd.Commands()...) {
		names = append(names, sp.Name)
	}
	want, err := theirs.Command(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ours.Command(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		w, g := want[n], got[n]
		if w == nil || g == nil {
			t.Errorf("%s: redis %v, cached %v", n, w, g)
			continue
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s:\n cached %+v\n  redis %+v", n, g, w)
		}
	}
	for _, args := range [][]any{
		{"SINTERCARD", "2", "a", "b", "LIMIT", "1"},
		{"SMOVE", "a", "b", "m"},
		{"SINTERSTORE", "d", "a", "b"},
		{"HSET", "h", "f", "v"},
	} {
		w, _ := theirs.CommandGetKeys(ctx, args...).Result()
		g, err := ours.CommandGetKeys(ctx, args...).Result()
		if err != nil || !slices.Equal(w, g) {
			t.Errorf("COMMAND GETKEYS %v: cached %v %v, redis %v", args, g, err, w)
		}
	}
}

// TestHashSetWatch checks that hash and set writes invalidate WATCH and run
// inside MULTI/EXEC.
func TestHashSetWatch(t *testing.T) {
	s := startServer(t, nil)
	rc, other := newClient(t, s, nil), newClient(t, s, nil)
	ctx := ctxT(t)
	rc.HSet(ctx, "h", "a", "1")
	rc.SAdd(ctx, "s", "x")
	for _, write := range [][]any{
		{"HSET", "h", "a", "2"}, {"HDEL", "h", "zz", "a"}, {"HINCRBYFLOAT", "h", "n", "1"},
		{"SADD", "s", "y"}, {"SPOP", "s"}, {"SINTERSTORE", "h", "s"},
	} {
		key := write[1].(string)
		err := rc.Watch(ctx, func(tx *redis.Tx) error {
			if err := other.Do(ctx, write...).Err(); err != nil && err != redis.Nil {
				t.Fatalf("%v: %v", write, err)
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Exists(ctx, key)
				return nil
			})
			return err
		}, key)
		if err != redis.TxFailedErr {
			t.Errorf("%v under WATCH %s: EXEC error %v, want aborted", write, key, err)
		}
	}
	cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, "m", "f", "v")
		p.SAdd(ctx, "ms", "1", "2")
		p.HGetAll(ctx, "m")
		p.SCard(ctx, "ms")
		return nil
	})
	if err != nil || len(cmds) != 4 || cmds[3].(*redis.IntCmd).Val() != 2 || cmds[2].(*redis.MapStringStringCmd).Val()["f"] != "v" {
		t.Fatalf("MULTI/EXEC: %v %v", cmds, err)
	}
}

// TestHashSetMaxmemory checks that hash and set growth counts against
// maxmemory: denied under noeviction, evicted under allkeys-lru.
func TestHashSetMaxmemory(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MaxMemory = 1 << 20 })
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	val := strings.Repeat("v", 1000)
	var oom error
	for i := 0; i < 5000 && oom == nil; i++ {
		oom = rc.HSet(ctx, "h", "f"+strconv.Itoa(i), val).Err()
	}
	if oom == nil || oom.Error() != "OOM command not allowed when used memory > 'maxmemory'." {
		t.Fatalf("HSET past maxmemory: %v", oom)
	}
	if err := rc.SRem(ctx, "nokey", "x").Err(); err != nil {
		t.Fatalf("SREM (not denyoom) refused: %v", err)
	}
	rc.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru")
	for i := range 300 {
		k := "s" + strconv.Itoa(i)
		if err := rc.SAdd(ctx, k, val+"a", val+"b").Err(); err != nil {
			t.Fatalf("SADD under allkeys-lru: %v", err)
		}
	}
	if used := s.Store().UsedMemory(); used > 1<<20+64<<10 {
		t.Fatalf("used memory %d over maxmemory", used)
	}
	// An expired hash is gone for every command.
	rc.HSet(ctx, "gone", "f", "v")
	rc.PExpireAt(ctx, "gone", time.UnixMilli(1))
	if v, err := rc.HGet(ctx, "gone", "f").Result(); err != redis.Nil {
		t.Fatalf("HGET of an expired hash = %q %v", v, err)
	}
}
