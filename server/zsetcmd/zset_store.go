package zsetcmd

import (
	"fmt"
	"math"
	"sort"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
	"github.com/cached/cached/store/zset"
)

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD. Plain sets are
// accepted as inputs, each member with score 1.

// zsetSetMembers is what a set value (store.TypeSet: *set.Set) offers to
// be an input of ZUNION/ZINTER/ZDIFF, each member scored 1.
type zsetSetMembers interface {
	Len() int
	Has(m []byte) bool
	Each(fn func(m []byte) bool)
}

// zsetSource is one input of a set operation.
type zsetSource struct {
	z      *zset.ZSet     // a sorted set input
	set    zsetSetMembers // or a plain set input
	weight float64
}

func (s *zsetSource) size() int {
	switch {
	case s.z != nil:
		return s.z.Len()
	case s.set != nil:
		return s.set.Len()
	}
	return 0
}

func (s *zsetSource) score(member []byte) (float64, bool) {
	switch {
	case s.z != nil:
		return s.z.Score(member)
	case s.set != nil:
		return 1, s.set.Has(member)
	}
	return 0, false
}

// each calls fn with every member and its score.
func (s *zsetSource) each(fn func(m []byte, score float64) bool) {
	switch {
	case s.z != nil:
		s.z.Walk(0, false, fn)
	case s.set != nil:
		s.set.Each(func(m []byte) bool { return fn(m, 1) })
	}
}

// zsetOp is the operation of zsetOpGeneric.
type zsetOp int

const (
	zsetUnion zsetOp = iota
	zsetInter
	zsetDiff
)

func zunionstoreCommand(c *kernel.Ctx, args [][]byte) { zsetOpGeneric(c, args, zsetUnion, true, false) }
func zinterstoreCommand(c *kernel.Ctx, args [][]byte) { zsetOpGeneric(c, args, zsetInter, true, false) }
func zdiffstoreCommand(c *kernel.Ctx, args [][]byte)  { zsetOpGeneric(c, args, zsetDiff, true, false) }
func zunionCommand(c *kernel.Ctx, args [][]byte)      { zsetOpGeneric(c, args, zsetUnion, false, false) }
func zinterCommand(c *kernel.Ctx, args [][]byte)      { zsetOpGeneric(c, args, zsetInter, false, false) }
func zdiffCommand(c *kernel.Ctx, args [][]byte)       { zsetOpGeneric(c, args, zsetDiff, false, false) }
func zintercardCommand(c *kernel.Ctx, args [][]byte)  { zsetOpGeneric(c, args, zsetInter, false, true) }

// zsetOpGeneric is Redis's zunionInterDiffGenericCommand.
func zsetOpGeneric(c *kernel.Ctx, args [][]byte, op zsetOp, store, card bool) {
	at := 1
	if store {
		at = 2
	}
	numkeys, ok := protocol.ParseInt(args[at])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	if numkeys < 1 {
		c.Err(fmt.Sprintf("ERR at least 1 input key is needed for '%s' command", cmdName(c, args)))
		return
	}
	if numkeys > int64(len(args)-at-1) {
		c.Err(protocol.ErrSyntax)
		return
	}
	keys := args[at+1 : at+1+int(numkeys)]
	lockKeys := keys
	if store {
		lockKeys = append([][]byte{args[1]}, keys...)
	}
	db := c.DB()
	tx := c.Lock(lockKeys...)
	defer tx.Unlock()
	srcs, ok := zsetSources(c, tx, keys)
	if !ok {
		return
	}
	o, msg := protocol.ParseZSetOpOptions(args[at+1+int(numkeys):], int(numkeys),
		protocol.ZSetOp{Weights: op != zsetDiff && !card, WithScores: !store && !card, Limit: card})
	if msg != "" {
		c.Err(msg)
		return
	}
	for i := range srcs {
		srcs[i].weight = 1
		if o.Weights != nil {
			srcs[i].weight = o.Weights[i]
		}
	}
	if card {
		c.Int(zsetInterCard(srcs, o.Limit))
		return
	}
	items := zsetCompute(srcs, op, o.Aggregate)
	if store {
		maxLen := 0
		for _, it := range items {
			maxLen = max(maxLen, len(it.member))
		}
		out := zset.New(len(items), maxLen)
		for _, it := range items {
			out.Set([]byte(it.member), it.score)
		}
		zsetStoreResult(c, tx, db, args[1], out, [...]string{"zunionstore", "zinterstore", "zdiffstore"}[op])
		return
	}
	zsetReplyItems(c, items, o.WithScores)
}

// zsetItem is one member of a computed result.
type zsetItem struct {
	member string
	score  float64
}

// zsetReplyItems writes items (members, with their scores when withScores:
// pairs in RESP3, flat in RESP2).
func zsetReplyItems(c *kernel.Ctx, items []zsetItem, withScores bool) {
	nested := withScores && c.RESP3.Load()
	if withScores && !nested {
		c.Array(2 * len(items))
	} else {
		c.Array(len(items))
	}
	for _, it := range items {
		if withScores {
			zsetPair(c, []byte(it.member), it.score, nested)
		} else {
			c.BulkString(it.member)
		}
	}
}

// cmdName is the running command's lower-case name, for error texts.
func cmdName(c *kernel.Ctx, args [][]byte) string {
	b := make([]byte, len(args[0]))
	for i, ch := range args[0] {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b[i] = ch
	}
	return string(b)
}

// zsetSources reads the input keys (sorted sets or sets; missing keys are
// empty), replying WRONGTYPE for any other type.
func zsetSources(c *kernel.Ctx, tx *store.Tx, keys [][]byte) ([]zsetSource, bool) {
	db := c.DB()
	srcs := make([]zsetSource, len(keys))
	for i, key := range keys {
		e, found := tx.LookupRead(db, key)
		if !found {
			continue
		}
		switch e.Type() {
		case store.TypeZSet:
			srcs[i].z = e.Object().(*zset.ZSet)
		case store.TypeSet:
			ms, ok := e.Object().(zsetSetMembers)
			if !ok {
				c.Err(protocol.ErrWrongType)
				return nil, false
			}
			srcs[i].set = ms
		default:
			c.Err(protocol.ErrWrongType)
			return nil, false
		}
	}
	return srcs, true
}

// zsetWeighted is weight*score, NaN (0 * inf) becoming 0 as in Redis.
func zsetWeighted(w, s float64) float64 {
	v := w * s
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// zsetAggregate folds v into acc as Redis's zunionInterAggregate: a NaN v
// leaves MIN and MAX unchanged, a NaN sum becomes 0.
func zsetAggregate(acc, v float64, aggr int) float64 {
	switch aggr {
	case protocol.AggrMin:
		if v < acc {
			return v
		}
		return acc
	case protocol.AggrMax:
		if v > acc {
			return v
		}
		return acc
	}
	acc += v
	if math.IsNaN(acc) { // inf + -inf
		return 0
	}
	return acc
}

// zsetCompute runs the operation and returns the result in order.
func zsetCompute(srcs []zsetSource, op zsetOp, aggr int) []zsetItem {
	if op != zsetDiff {
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].size() < srcs[j].size() })
	}
	var acc map[string]float64
	var order []string // first-seen order, for a deterministic build
	switch op {
	case zsetUnion:
		acc, order = zsetUnionOf(srcs, aggr)
	case zsetInter:
		acc, order = zsetInterOf(srcs, aggr)
	default:
		acc, order = zsetDiffOf(srcs)
	}
	items := make([]zsetItem, len(order))
	for i, m := range order {
		items[i] = zsetItem{member: m, score: acc[m]}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].score != items[j].score {
			return items[i].score < items[j].score
		}
		return items[i].member < items[j].member
	})
	return items
}

// zsetUnionOf aggregates every member's weighted scores over srcs.
func zsetUnionOf(srcs []zsetSource, aggr int) (map[string]float64, []string) {
	acc := map[string]float64{}
	var order []string
	for i := range srcs {
		srcs[i].each(func(m []byte, s float64) bool {
			v := zsetWeighted(srcs[i].weight, s)
			if cur, ok := acc[string(m)]; ok {
				acc[string(m)] = zsetAggregate(cur, v, aggr)
			} else {
				acc[string(m)] = v
				order = append(order, string(m))
			}
			return true
		})
	}
	return acc, order
}

// zsetInterOf aggregates the weighted scores of the members of srcs[0]
// present in every other source (srcs sorted by size).
func zsetInterOf(srcs []zsetSource, aggr int) (map[string]float64, []string) {
	acc := map[string]float64{}
	var order []string
	srcs[0].each(func(m []byte, s float64) bool {
		v := zsetWeighted(srcs[0].weight, s)
		for j := 1; j < len(srcs); j++ {
			sj, ok := srcs[j].score(m)
			if !ok {
				return true
			}
			v = zsetAggregate(v, srcs[j].weight*sj, aggr) // no NaN fix here, as Redis
		}
		acc[string(m)] = v
		order = append(order, string(m))
		return true
	})
	return acc, order
}

// zsetDiffOf keeps the members of srcs[0] found in no other source, with
// their scores in srcs[0].
func zsetDiffOf(srcs []zsetSource) (map[string]float64, []string) {
	acc := map[string]float64{}
	var order []string
	srcs[0].each(func(m []byte, s float64) bool {
		for j := 1; j < len(srcs); j++ {
			if _, ok := srcs[j].score(m); ok {
				return true
			}
		}
		acc[string(m)] = s
		order = append(order, string(m))
		return true
	})
	return acc, order
}

// zsetInterCard counts the intersection, stopping at limit (0: none).
func zsetInterCard(srcs []zsetSource, limit int64) int64 {
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].size() < srcs[j].size() })
	var n int64
	srcs[0].each(func(m []byte, _ float64) bool {
		for j := 1; j < len(srcs); j++ {
			if _, ok := srcs[j].score(m); !ok {
				return true
			}
		}
		n++
		return limit == 0 || n < limit
	})
	return n
}
