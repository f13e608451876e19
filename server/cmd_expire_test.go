package server

import (
	"testing"
	"time"
)

func TestKeysExpireSetsTTL(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			keysSeed(s, 0, "k", "v", 0)
			if ok, err := rc.Expire(ctx, "k", 100*time.Second).Result(); err != nil || !ok {
				t.Fatalf("EXPIRE = %v, %v", ok, err)
			}
			if d, err := rc.TTL(ctx, "k").Result(); err != nil || d < 99*time.Second || d > 100*time.Second {
				t.Fatalf("TTL = %v, %v", d, err)
			}
			if d, err := rc.PTTL(ctx, "k").Result(); err != nil || d < 90*time.Second || d > 100*time.Second {
				t.Fatalf("PTTL = %v, %v", d, err)
			}
			if ok, err := rc.PExpire(ctx, "k", 5500*time.Millisecond).Result(); err != nil || !ok {
				t.Fatalf("PEXPIRE = %v, %v", ok, err)
			}
			if d, err := rc.PTTL(ctx, "k").Result(); err != nil || d < 4*time.Second || d > 5500*time.Millisecond {
				t.Fatalf("PTTL after PEXPIRE = %v, %v", d, err)
			}
			at := time.Now().Add(time.Hour).Truncate(time.Second)
			if ok, err := rc.ExpireAt(ctx, "k", at).Result(); err != nil || !ok {
				t.Fatalf("EXPIREAT = %v, %v", ok, err)
			}
			if st, _ := keysPeek(s, 0, "k"); st.exp != at.UnixMilli() {
				t.Fatalf("exp after EXPIREAT = %d, want %d", st.exp, at.UnixMilli())
			}
			if d, err := rc.ExpireTime(ctx, "k").Result(); err != nil || d != time.Duration(at.Unix())*time.Second {
				t.Fatalf("EXPIRETIME = %v, %v; want %d s", d, err, at.Unix())
			}
			atMs := time.Now().Add(2*time.Hour).UnixMilli() + 7 // not a whole second
			if ok, err := rc.PExpireAt(ctx, "k", time.UnixMilli(atMs)).Result(); err != nil || !ok {
				t.Fatalf("PEXPIREAT = %v, %v", ok, err)
			}
			if d, err := rc.PExpireTime(ctx, "k").Result(); err != nil || d != time.Duration(atMs)*time.Millisecond {
				t.Fatalf("PEXPIRETIME = %v, %v; want %d ms", d, err, atMs)
			}
			// EXPIRETIME rounds to the nearest second, as Redis.
			if got := mustDo(t, rc, "expiretime", "k"); got != (atMs+500)/1000 {
				t.Fatalf("EXPIRETIME = %v, want %d", got, (atMs+500)/1000)
			}
			if ok, err := rc.Persist(ctx, "k").Result(); err != nil || !ok {
				t.Fatalf("PERSIST = %v, %v", ok, err)
			}
			if ok, err := rc.Persist(ctx, "k").Result(); err != nil || ok {
				t.Fatalf("PERSIST without TTL = %v, %v", ok, err)
			}
			if ok, err := rc.Persist(ctx, "nope").Result(); err != nil || ok {
				t.Fatalf("PERSIST missing = %v, %v", ok, err)
			}
			// -1 without TTL, -2 without key, for all four readers.
			for _, cmd := range []string{"ttl", "pttl", "expiretime", "pexpiretime"} {
				if got := mustDo(t, rc, cmd, "k"); got != int64(-1) {
					t.Fatalf("%s k = %v, want -1", cmd, got)
				}
				if got := mustDo(t, rc, cmd, "nope"); got != int64(-2) {
					t.Fatalf("%s nope = %v, want -2", cmd, got)
				}
			}
			if d, err := rc.TTL(ctx, "nope").Result(); err != nil || d != -2 {
				t.Fatalf("TTL nope = %v, %v", d, err)
			}
			for _, cmd := range []string{"expire", "pexpire", "expireat", "pexpireat"} {
				if got := mustDo(t, rc, cmd, "nope", "100"); got != int64(0) {
					t.Fatalf("%s on a missing key = %v", cmd, got)
				}
			}
			rc.Del(ctx, "k")
		})
	}
}

func TestKeysExpirePastDeletes(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	past := time.Now().Add(-time.Hour)
	for _, args := range [][]any{
		{"expire", "k", "0"},
		{"expire", "k", "-5"},
		{"pexpire", "k", "-1"},
		{"expireat", "k", "1"},
		{"expireat", "k", past.Unix()},
		{"pexpireat", "k", past.UnixMilli()},
		{"pexpireat", "k", "0"},
		{"pexpireat", "k", "-9223372036854775808"},
		{"EXPIRE", "k", "-1", "lt"},
		{"expire", "k", "0", "NX"},
	} {
		keysSeed(s, 0, "k", "v", 0)
		if got := mustDo(t, rc, args...); got != int64(1) {
			t.Fatalf("%v = %v, want 1", args, got)
		}
		keysWantMissing(t, s, 0, "k")
	}
	// A past time that a flag refuses leaves the key alone.
	keysSeed(s, 0, "k", "v", 0)
	if got := mustDo(t, rc, "expireat", "k", "1", "xx"); got != int64(0) {
		t.Fatalf("EXPIREAT past XX without TTL = %v", got)
	}
	keysWantStr(t, s, 0, "k", "v")
}

func TestKeysExpireFlags(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			ctx := ctxT(t)
			hour := time.Hour
			keysSeed(s, 0, "k", "v", 0)
			// Without a TTL: XX and GT refuse, LT and NX accept.
			for _, tc := range []struct {
				name string
				got  func() (bool, error)
				want bool
			}{
				{"XX no ttl", func() (bool, error) { return rc.ExpireXX(ctx, "k", hour).Result() }, false},
				{"GT no ttl", func() (bool, error) { return rc.ExpireGT(ctx, "k", hour).Result() }, false},
				{"NX no ttl", func() (bool, error) { return rc.ExpireNX(ctx, "k", hour).Result() }, true},
				{"NX with ttl", func() (bool, error) { return rc.ExpireNX(ctx, "k", 2*hour).Result() }, false},
				{"XX with ttl", func() (bool, error) { return rc.ExpireXX(ctx, "k", 2*hour).Result() }, true},
				{"GT smaller", func() (bool, error) { return rc.ExpireGT(ctx, "k", hour).Result() }, false},
				{"GT larger", func() (bool, error) { return rc.ExpireGT(ctx, "k", 3*hour).Result() }, true},
				{"LT larger", func() (bool, error) { return rc.ExpireLT(ctx, "k", 4*hour).Result() }, false},
				{"LT smaller", func() (bool, error) { return rc.ExpireLT(ctx, "k", hour).Result() }, true},
			} {
				got, err := tc.got()
				if err != nil || got != tc.want {
					t.Fatalf("%s = %v, %v; want %v", tc.name, got, err, tc.want)
				}
			}
			if d, _ := rc.TTL(ctx, "k").Result(); d < hour-time.Minute || d > hour {
				t.Fatalf("TTL after flags = %v, want about 1h", d)
			}
			// Equal times: GT and LT both refuse; XX GT combine.
			at := time.Now().Add(5 * hour).UnixMilli()
			mustDo(t, rc, "pexpireat", "k", at)
			for _, args := range [][]any{
				{"pexpireat", "k", at, "gt"},
				{"pexpireat", "k", at, "LT"},
				{"pexpireat", "k", at - 1, "xx", "gt"},
			} {
				if got := mustDo(t, rc, args...); got != int64(0) {
					t.Fatalf("%v = %v, want 0", args, got)
				}
			}
			if got := mustDo(t, rc, "pexpireat", "k", at+1, "xx", "gt", "GT"); got != int64(1) {
				t.Fatalf("PEXPIREAT XX GT GT later = %v", got)
			}
			// LT on a key without TTL accepts even a past time (and deletes).
			mustDo(t, rc, "persist", "k")
			if got := mustDo(t, rc, "pexpire", "k", "1000", "lt"); got != int64(1) {
				t.Fatalf("PEXPIRE LT without TTL = %v", got)
			}
			rc.Del(ctx, "k")
		})
	}
}

func TestKeysExpireErrors(t *testing.T) {
	s := startServer(t, nil)
	for _, p := range keysProtos {
		t.Run(p.name, func(t *testing.T) {
			rc := newClient(t, s, p.mutate)
			keysSeed(s, 0, "k", "v", 0)
			const (
				notInt = "ERR value is not an integer or out of range"
				nxErr  = "ERR NX and XX, GT or LT options at the same time are not compatible"
				gtLtEr = "ERR GT and LT options at the same time are not compatible"
			)
			for _, tc := range []struct {
				msg  string
				args []any
			}{
				{notInt, []any{"expire", "k", "abc"}},
				{notInt, []any{"pexpire", "k", "1.5"}},
				{notInt, []any{"expireat", "k", ""}},
				{notInt, []any{"pexpireat", "k", "9223372036854775808"}},
				{"ERR Unsupported option foo", []any{"expire", "k", "10", "foo"}},
				{"ERR Unsupported option bar", []any{"expire", "k", "abc", "bar"}}, // flags first
				{nxErr, []any{"expire", "k", "10", "nx", "xx"}},
				{nxErr, []any{"pexpire", "k", "10", "gt", "NX"}},
				{nxErr, []any{"expireat", "k", "10", "nx", "lt"}},
				{gtLtEr, []any{"pexpireat", "k", "10", "gt", "lt"}},
				{"ERR invalid expire time in 'expire' command", []any{"expire", "k", "9223372036854775807"}},
				{"ERR invalid expire time in 'expire' command", []any{"EXPIRE", "k", "-9223372036854775808"}},
				{"ERR invalid expire time in 'expire' command", []any{"expire", "k", "9223372036854775"}},
				{"ERR invalid expire time in 'pexpire' command", []any{"pexpire", "k", "9223372036854775807"}},
				{"ERR invalid expire time in 'expireat' command", []any{"expireat", "k", "9223372036854776"}},
				{"ERR invalid expire time in 'expire' command", []any{"expire", "nope", "9223372036854775807"}},
				{"ERR wrong number of arguments for 'expire' command", []any{"expire", "k"}},
				{"ERR wrong number of arguments for 'ttl' command", []any{"ttl", "k", "x"}},
				{"ERR wrong number of arguments for 'persist' command", []any{"persist"}},
			} {
				wantErr(t, rc, tc.msg, tc.args...)
			}
			keysWantStr(t, s, 0, "k", "v")
			if st, _ := keysPeek(s, 0, "k"); st.exp != 0 {
				t.Fatalf("failed commands changed the TTL: %d", st.exp)
			}
			// PEXPIREAT takes the largest time as is: no overflow there.
			if got := mustDo(t, rc, "pexpireat", "k", "9223372036854775807"); got != int64(1) {
				t.Fatalf("PEXPIREAT max = %v", got)
			}
			if got := mustDo(t, rc, "pexpiretime", "k"); got != int64(9223372036854775807) {
				t.Fatalf("PEXPIRETIME = %v", got)
			}
			mustDo(t, rc, "del", "k")
		})
	}
}

// TestKeysExpireLapses waits (by polling with a deadline, no sleep-and-hope)
// for a short PEXPIRE to lapse.
func TestKeysExpireLapses(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	keysSeed(s, 0, "k", "v", 0)
	if ok, err := rc.PExpire(ctx, "k", 30*time.Millisecond).Result(); err != nil || !ok {
		t.Fatalf("PEXPIRE = %v, %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rc.Exists(ctx, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d, err := rc.PTTL(ctx, "k").Result(); err != nil || d != -2 {
		t.Fatalf("PTTL after expiry = %v, %v", d, err)
	}
}
