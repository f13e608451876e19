package server

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/redis/go-redis/v9"
)

// zsetHitsMisses reads keyspace_hits and keyspace_misses.
func zsetHitsMisses(t *testing.T, rc *redis.Client) string {
	t.Helper()
	info := rc.Info(ctxT(t), "stats").Val()
	return regexp.MustCompile(`keyspace_(hits|misses):\d+`).FindAllString(info, -1)[0] + " " +
		regexp.MustCompile(`keyspace_misses:\d+`).FindString(info)
}

// TestZSetKeyspaceStatsVsRedis: after each command of a random stream,
// keyspace_hits and keyspace_misses agree with Redis 7.0's (reads count,
// writes and the STORE commands' inputs do not).
func TestZSetKeyspaceStatsVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	real, rc := mk(false, 0), newClient(t, s, resp2)
	for _, c := range []*redis.Client{real, rc} {
		c.Set(ctxT(t), "str", "x", 0)
		c.Set(ctxT(t), "lexstr", "x", 0)
		c.ConfigResetStat(ctxT(t))
	}
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 600; {
		args := zsetRandomCommand(r)
		if args[0] == "DEL" || args[0] == "TYPE" || args[0] == "OBJECT" {
			continue
		}
		i++
		_ = real.Do(ctxT(t), args...).Err()
		_ = rc.Do(ctxT(t), args...).Err()
		if want, got := zsetHitsMisses(t, real), zsetHitsMisses(t, rc); got != want {
			t.Fatalf("after %q: %s, want %s", args, got, want)
		}
	}
}
