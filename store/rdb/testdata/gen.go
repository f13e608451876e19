//go:build ignore

// gen writes redis.json: DUMP payloads of every type and encoding size
// class taken from a running redis-server 7.0.15, with the contents each
// payload must decode to, and seeds the FuzzDecode corpus with them.
//
//	redis-server --port 0 --unixsocket /tmp/gen.sock --save '' &
//	go run testdata/gen.go /tmp/gen.sock
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Case is one payload and what it holds.
type Case struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Encoding string   `json:"encoding"`
	Payload  string   `json:"payload"` // hex
	Elems    []string `json:"elems"`   // hex; see canon in the tests
}

func main() {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Network: "unix", Addr: os.Args[1]})
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(rc.FlushAll(ctx).Err())
	seq := func(n int, f func(i int) string) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	bin := string([]byte{0, 1, 2, 0xff, 0xfe, '\r', '\n', 0x80})
	big := strings.Repeat("abcdefghij0123456789", 1000) + "end"
	must(rc.Set(ctx, "str_int8", "12", 0).Err())
	must(rc.Set(ctx, "str_neg", "-100", 0).Err())
	must(rc.Set(ctx, "str_int16", "1234", 0).Err())
	must(rc.Set(ctx, "str_int32", "-123456789", 0).Err())
	must(rc.Set(ctx, "str_int64", "12345678901", 0).Err())
	must(rc.Set(ctx, "str_lead0", "0123", 0).Err())
	must(rc.Set(ctx, "str_empty", "", 0).Err())
	must(rc.Set(ctx, "str_short", "hello world", 0).Err())
	must(rc.Set(ctx, "str_binary", bin, 0).Err())
	must(rc.Set(ctx, "str_lzf", strings.Repeat("a", 100)+"b", 0).Err())
	must(rc.Set(ctx, "str_big", big, 0).Err())
	must(rc.Set(ctx, "str_noncompressible", seqString(300), 0).Err())

	must(rc.RPush(ctx, "list_small", "a", "1", "-100", "5000", "70000", "-9000000", "1099511627776", strings.Repeat("x", 100), "", bin, "-0", "007").Err())
	must(rc.RPush(ctx, "list_big", seq(4000, func(i int) string { return "element:" + strconv.Itoa(i) })...).Err())
	must(rc.RPush(ctx, "list_ints", seq(1500, func(i int) string { return strconv.Itoa(i*i*37 - 500000) })...).Err())
	must(rc.RPush(ctx, "list_bigelem", "head", strings.Repeat("y", 20000), "tail", big).Err())

	must(rc.SAdd(ctx, "set_int16", 1, 2, 3, -7, 300).Err())
	must(rc.SAdd(ctx, "set_int32", 1, 100000, -5).Err())
	must(rc.SAdd(ctx, "set_int64", 1, int64(1)<<40, -5, "-9223372036854775808", "9223372036854775807").Err())
	must(rc.SAdd(ctx, "set_str", "a", "b", "1", bin, "").Err())
	must(rc.SAdd(ctx, "set_bigint", seq(1000, func(i int) string { return strconv.Itoa(i * 3) })...).Err())
	must(rc.SAdd(ctx, "set_big", seq(1000, func(i int) string { return "m" + strconv.Itoa(i) })...).Err())

	must(rc.ZAdd(ctx, "zset_small", redis.Z{Score: 1, Member: "one"}, redis.Z{Score: 0.1, Member: "tenth"},
		redis.Z{Score: -2.5, Member: "neg"}, redis.Z{Score: 1e300, Member: "huge"}, redis.Z{Score: 3, Member: "7"},
		redis.Z{Score: 1234567890123, Member: "bigint"}).Err())
	must(rc.Do(ctx, "ZADD", "zset_small", "+inf", "pinf", "-inf", "ninf", "-0", "negzero", "5", bin).Err())
	must(rc.ZAdd(ctx, "zset_big", zs(500)...).Err())
	must(rc.ZAdd(ctx, "zset_longmember", redis.Z{Score: 1, Member: strings.Repeat("m", 100)}, redis.Z{Score: 2, Member: "x"}).Err())

	must(rc.HSet(ctx, "hash_small", "f1", "v1", "n", "12", "neg", "-300", "big", "1099511627776", "empty", "", "bin", bin).Err())
	must(rc.HSet(ctx, "hash_big", seq(2000, func(i int) string {
		if i%2 == 0 {
			return "field:" + strconv.Itoa(i/2)
		}
		return strconv.Itoa(i)
	})...).Err())
	must(rc.HSet(ctx, "hash_longval", "f", strings.Repeat("v", 100), "g", "1").Err())

	keys, err := rc.Keys(ctx, "*").Result()
	must(err)
	slices.Sort(keys)
	var cases []Case
	fuzzDir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	must(os.MkdirAll(fuzzDir, 0o755))
	for _, k := range keys {
		p, err := rc.Dump(ctx, k).Result()
		must(err)
		typ, _ := rc.Type(ctx, k).Result()
		enc, _ := rc.ObjectEncoding(ctx, k).Result()
		cases = append(cases, Case{Name: k, Type: typ, Encoding: enc, Payload: hex.EncodeToString([]byte(p)), Elems: contents(ctx, rc, k, typ)})
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", p)
		must(os.WriteFile(filepath.Join(fuzzDir, k), []byte(seed), 0o644))
	}
	out, err := json.MarshalIndent(cases, "", "  ")
	must(err)
	must(os.WriteFile(filepath.Join("testdata", "redis.json"), append(out, '\n'), 0o644))
}

func seqString(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}

func zs(n int) []redis.Z {
	out := make([]redis.Z, n)
	for i := range out {
		out[i] = redis.Z{Score: float64(i%50) / 4, Member: "member:" + strconv.Itoa(i)}
	}
	return out
}

// contents lists a key's elements in the tests' canonical form: list in
// order, set and hash sorted, zset in order with scores as Go formats them.
func contents(ctx context.Context, rc *redis.Client, k, typ string) []string {
	var out []string
	switch typ {
	case "string":
		v, _ := rc.Get(ctx, k).Result()
		out = []string{v}
	case "list":
		out, _ = rc.LRange(ctx, k, 0, -1).Result()
	case "set":
		out, _ = rc.SMembers(ctx, k).Result()
		slices.Sort(out)
	case "hash":
		m, _ := rc.HGetAll(ctx, k).Result()
		for f, v := range m {
			out = append(out, f+"\x00"+v)
		}
		slices.Sort(out)
	case "zset":
		zz, _ := rc.ZRangeWithScores(ctx, k, 0, -1).Result()
		for _, z := range zz {
			out = append(out, z.Member.(string)+"\x00"+strconv.FormatFloat(z.Score, 'g', -1, 64))
		}
	}
	for i, s := range out {
		out[i] = hex.EncodeToString([]byte(s))
	}
	return out
}
