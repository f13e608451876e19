package server

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/cached/cached/server/zsetcmd"
	"github.com/redis/go-redis/v9"
)

// TestZSetGarbageArguments sends every sorted set command random argument
// lists built from edge-case tokens: the server must answer each (no
// panic, no dropped connection).
func TestZSetGarbageArguments(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	tokens := []string{"k", "k", "z", "9223372036854775807", "-9223372036854775808", "18446744073709551616",
		"(", "[", "-", "+", "(a", "[z", "inf", "-inf", "nan", "", "0", "1", "-1", "2", "3", "0.5", "1e308",
		"WITHSCORES", "WITHSCORE", "LIMIT", "BYSCORE", "BYLEX", "REV", "COUNT", "MIN", "MAX", "WEIGHTS",
		"AGGREGATE", "SUM", "NX", "XX", "GT", "LT", "CH", "INCR", "MATCH", "*", "0.01"}
	var names []string
	for _, sp := range zsetcmd.Commands() {
		names = append(names, sp.Name)
	}
	r := rand.New(rand.NewPCG(9, 9))
	mustDo(t, rc, "ZADD", "k", "1", "a", "2", "b", "3", "c")
	for range 20000 {
		args := []any{names[r.IntN(len(names))]}
		for range r.IntN(8) {
			args = append(args, tokens[r.IntN(len(tokens))])
		}
		if args[0] == "bzpopmin" || args[0] == "bzpopmax" || args[0] == "bzmpop" {
			continue // they may block once blockFor is real
		}
		if err := rc.Do(ctxT(t), args...).Err(); err != nil {
			var ne net.Error
			if errors.Is(err, io.EOF) || errors.As(err, &ne) {
				t.Fatalf("%q: connection lost: %v", args, err)
			}
		}
		if r.IntN(50) == 0 {
			rc.ZAdd(ctxT(t), "k", zsetZ(1, "a"), zsetZ(2, "b"))
		}
	}
	if err := rc.Ping(ctxT(t)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
}

func zsetZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
