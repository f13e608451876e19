package server

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A randomized cross-check of the hash and set commands against a real
// redis-server 7.0.15: the same random command sequence runs on both, and
// every reply must match, after normalizing the replies whose order or
// content Redis leaves to chance (see hsCompare).

// hsMode says how two replies of a step are compared.
type hsMode uint8

const (
	hsExact  hsMode = iota
	hsSorted        // the top-level array (or map) in any order
	hsLen           // only the length of an array, or the same error
	hsScan          // [cursor, items]: items in any order
	hsSetEnc        // OBJECT ENCODING of a set: listpack counts as hashtable (redis 7.0 has no set listpack)
)

type hsStep struct {
	args []any
	mode hsMode
}

// hsGen makes random hash and set commands over a few keys.
type hsGen struct{ r *rand.Rand }

func (g hsGen) pick(list ...string) string { return list[g.r.IntN(len(list))] }

func (g hsGen) hkey() string { return g.pick("h1", "h2", "hbig", "hbig", "hbig", "str", "s1") }
func (g hsGen) skey() string {
	return g.pick("s1", "s2", "s3", "sbig", "sbig", "sbig", "sbig", "str", "h1", "nokey")
}

func (g hsGen) field(key string) string {
	n := 12
	if key == "hbig" {
		n = 700
	}
	if g.r.IntN(200) == 0 {
		return strings.Repeat("F", 60+g.r.IntN(10))
	}
	return "f" + strconv.Itoa(g.r.IntN(n))
}

func (g hsGen) value() string {
	switch g.r.IntN(6) {
	case 0:
		return strconv.Itoa(g.r.IntN(200) - 100)
	case 1:
		return strconv.FormatFloat(g.r.Float64()*10, 'f', 2, 64)
	case 2:
		if g.r.IntN(10) == 0 {
			return strings.Repeat("v", 60+g.r.IntN(10))
		}
	}
	return "v" + strconv.Itoa(g.r.IntN(50))
}

func (g hsGen) member(key string) string {
	n := 15
	if key == "sbig" {
		n = 700
	}
	switch g.r.IntN(8) {
	case 0:
		if key == "sbig" && g.r.IntN(20) != 0 {
			break
		}
		return g.pick("a", "b", "c", "01", "-0", "+1")
	case 1:
		if g.r.IntN(5) == 0 && key != "sbig" {
			return strings.Repeat("m", 60+g.r.IntN(10))
		}
	}
	return strconv.Itoa(g.r.IntN(n))
}

func (g hsGen) count() string {
	return strconv.Itoa(g.r.IntN(30) - 10)
}

func (g hsGen) hashStep() hsStep {
	k := g.hkey()
	f := g.field(k)
	switch g.r.IntN(17) {
	case 0, 1:
		args := []any{g.pick("HSET", "HMSET"), k}
		for range 1 + g.r.IntN(12) {
			args = append(args, g.field(k), g.value())
		}
		return hsStep{args: args}
	case 2:
		return hsStep{args: []any{"HSETNX", k, f, g.value()}}
	case 3:
		return hsStep{args: []any{"HGET", k, f}}
	case 4:
		return hsStep{args: []any{"HMGET", k, f, g.field(k)}}
	case 5:
		return hsStep{args: []any{"HDEL", k, f, g.field(k), g.field(k)}}
	case 6:
		return hsStep{args: []any{"HEXISTS", k, f}}
	case 7:
		return hsStep{args: []any{g.pick("HGETALL", "HKEYS", "HVALS"), k}, mode: hsSorted}
	case 8:
		return hsStep{args: []any{g.pick("HLEN", "TYPE", "EXISTS"), k}}
	case 9:
		return hsStep{args: []any{"HSTRLEN", k, f}}
	case 10:
		return hsStep{args: []any{"HINCRBY", k, f, g.pick("1", "-7", "100", "x", "9223372036854775807")}}
	case 11:
		return hsStep{args: []any{"HINCRBYFLOAT", k, f, g.pick("0.1", "-2.5", "1e3", "3", "x", "inf")}}
	case 12:
		args := []any{"HRANDFIELD", k, g.count()}
		if g.r.IntN(2) == 0 {
			args = append(args, "WITHVALUES")
		}
		return hsStep{args: args, mode: hsLen}
	case 13:
		return hsStep{args: []any{"HRANDFIELD", k, "1000", "WITHVALUES"}, mode: hsSorted}
	case 14:
		return hsStep{args: []any{"OBJECT", "ENCODING", g.pick("h2", "hbig")}} // never sets
	case 15:
		return hsStep{args: []any{"HSCAN", k, "0", "MATCH", g.pick("*", "f1*", "F*"), "COUNT", "1000"}, mode: hsScan}
	default:
		return hsStep{args: []any{"DEL", g.pick("h1", "h2", "s1")}}
	}
}

func (g hsGen) setStep() hsStep {
	k := g.skey()
	m := g.member(k)
	switch g.r.IntN(17) {
	case 0, 1, 2:
		args := []any{"SADD", k}
		for range 1 + g.r.IntN(8) {
			args = append(args, g.member(k))
		}
		return hsStep{args: args}
	case 3:
		return hsStep{args: []any{"SREM", k, m, g.member(k)}}
	case 4:
		return hsStep{args: []any{"SMEMBERS", k}, mode: hsSorted}
	case 5:
		return hsStep{args: []any{"SISMEMBER", k, m}}
	case 6:
		return hsStep{args: []any{"SMISMEMBER", k, m, g.member(k)}}
	case 7:
		return hsStep{args: []any{g.pick("SCARD", "TYPE"), k}}
	case 8:
		return hsStep{args: []any{"SRANDMEMBER", k, g.count()}, mode: hsLen}
	case 9:
		return hsStep{args: []any{"SPOP", g.pick("s1", "s2", "s3", "nokey"), "1000"}, mode: hsSorted}
	case 10:
		return hsStep{args: []any{"SMOVE", k, g.skey(), m}}
	case 11:
		return hsStep{args: []any{g.pick("SINTER", "SUNION", "SDIFF"), k, g.skey(), g.skey()}, mode: hsSorted}
	case 12:
		return hsStep{args: []any{g.pick("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"), g.pick("s1", "s2", "s3", "str", "h1", "d"), k, g.skey()}}
	case 13:
		return hsStep{args: []any{"SINTERCARD", "2", k, g.skey(), "LIMIT", g.pick("0", "1", "3")}}
	case 14:
		return hsStep{args: []any{"SSCAN", k, "0", "COUNT", "1000"}, mode: hsScan}
	case 15:
		return hsStep{args: []any{"OBJECT", "ENCODING", k}, mode: hsSetEnc}
	default:
		return hsStep{args: []any{"DEL", g.pick("s1", "s2", "s3", "h1")}}
	}
}

// hsNorm formats a reply for comparison in mode.
func hsNorm(v any, err error, mode hsMode) string {
	if err != nil || mode == hsExact {
		return strFmt(v, err)
	}
	switch mode {
	case hsSetEnc:
		if v == "listpack" {
			v = "hashtable"
		}
	case hsLen:
		if a, ok := v.([]any); ok {
			return "len " + strconv.Itoa(len(a))
		}
		if _, ok := v.(string); ok {
			return "a string"
		}
	case hsScan:
		if a, ok := v.([]any); ok && len(a) == 2 {
			return "[" + strFmtVal(a[0]) + " " + hsSortedFmt(a[1]) + "]"
		}
	case hsSorted:
		return hsSortedFmt(v)
	}
	return strFmt(v, err)
}

func hsSortedFmt(v any) string {
	a, ok := v.([]any)
	if !ok {
		return strFmtVal(v)
	}
	items := make([]string, len(a))
	for i, it := range a {
		items[i] = strFmtVal(it)
	}
	slices.Sort(items)
	return "[" + strings.Join(items, " ") + "]"
}

func TestHashSetRandomVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	s := startServer(t, nil)
	for db, resp3 := range []bool{false, true, false, true} {
		ours := newClient(t, s, func(o *redis.Options) {
			o.DB = db
			if !resp3 {
				o.Protocol = 2
			}
		})
		theirs := mk(resp3, db)
		ctx := ctxT(t)
		for _, rc := range []*redis.Client{ours, theirs} {
			rc.Set(ctx, "str", "x", 0)
		}
		seed, _ := strconv.ParseUint(os.Getenv("CACHED_HS_SEED"), 10, 64) // extra seeds for longer local runs
		g := hsGen{r: rand.New(rand.NewPCG(uint64(db)+7+seed*10, 11))}
		ok := 0
		for i := range 4000 {
			st := g.hashStep()
			if i%2 == 1 {
				st = g.setStep()
			}
			wv, we := theirs.Do(ctx, st.args...).Result()
			gv, ge := ours.Do(ctx, st.args...).Result()
			want, got := hsNorm(wv, we, st.mode), hsNorm(gv, ge, st.mode)
			if got != want {
				t.Fatalf("resp3=%v step %d %v:\n cached %s\n  redis %s", resp3, i, st.args, got, want)
			}
			if we == nil {
				ok++
			}
			if os.Getenv("CACHED_HS_DEBUG") != "" {
				a, b := ours.ObjectEncoding(ctx, "hbig").Val(), theirs.ObjectEncoding(ctx, "hbig").Val()
				if a != b {
					t.Fatalf("step %d %v: hbig %s vs redis %s", i, st.args, a, b)
				}
			}
		}
		// The sequence must have exercised both encodings of both types.
		if ok < 3000 || ours.ObjectEncoding(ctx, "hbig").Val() != "hashtable" {
			t.Fatalf("resp3=%v: weak sequence: %d successful steps, hbig %s (%d fields)", resp3, ok,
				ours.ObjectEncoding(ctx, "hbig").Val(), ours.HLen(ctx, "hbig").Val())
		}
		t.Logf("resp3=%v: %d successful steps, hbig %d fields, sbig %d members", resp3, ok, ours.HLen(ctx, "hbig").Val(), ours.SCard(ctx, "sbig").Val())
	}
}
