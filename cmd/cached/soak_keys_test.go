package main

// The soak's load and its judge: the keys' writes (SET + WAIT 1), reads,
// and soakKey.judge, which says which answers docs/cluster.md and
// docs/replication.md allow (TestBinaryClusterSoak, soak_test.go).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
)

// soakKeys is the load's key set: key i (hoKey) holds soakValue(gen, i)
// values, gen 0 from the preload, then increasing.
type soakKeys struct {
	cc *redis.ClusterClient
	// keys[i] is written by the worker that owns key i while the load runs
	// (hoLoad: i%workers), and by the test after it stopped.
	keys    []soakKey
	disrupt atomic.Int64 // marks of crash and freeze events: two each, before the signal and once it took effect

	reads, writes, acked, errs atomic.Int64
	mu                         sync.Mutex // protects bad and first
	bad                        map[string]int
	first                      []string
}

// soakKey is what the load knows of one key's writes.
type soakKey struct {
	ok      int    // gen of the last SET answered OK
	okEpoch int64  // disrupt when that SET was sent
	okBy    string // the node and time of that answer (for messages)
	floor   int    // gen of the last SET that WAIT 1 acknowledged
	later   []int  // gens sent after ok whose SET got no answer (applied or not)
	sent    []int  // every gen sent from floor on: the values the key may hold
}

func soakValue(gen, i int) string { return fmt.Sprintf("v%d-%d-%032d", gen, i, i) }

// soakGen returns the gen of a value of key i.
func soakGen(v string, i int) (int, bool) {
	g, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	n, err := strconv.Atoi(g)
	if err != nil || v != soakValue(n, i) {
		return 0, false
	}
	return n, true
}

// preload writes gen 0 of every key, in one pipeline per primary ending
// with WAIT 1: every key starts with a value WAIT acknowledged.
func (s *soakKeys) preload(ctx context.Context) error {
	byNode := map[*redis.Client][]int{}
	for i := range s.keys {
		c, err := s.cc.MasterForKey(ctx, hoKey(i))
		if err != nil {
			return err
		}
		byNode[c] = append(byNode[c], i)
	}
	for c, keys := range byNode {
		p := c.Pipeline()
		for _, i := range keys {
			p.Set(ctx, hoKey(i), soakValue(0, i), 0)
		}
		wait := p.Do(ctx, "WAIT", 1, 5000)
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
		if n, _ := wait.Int64(); n < 1 {
			return fmt.Errorf("WAIT 1 after the preload on %s answered %d", c.Options().Addr, n)
		}
	}
	for i := range s.keys {
		s.keys[i] = soakKey{sent: []int{0}}
	}
	return nil
}

// setResult is what a SET with WAIT 1 did.
type setResult int

const (
	setRefused setResult = iota // an error reply, or never sent: not applied
	setUnknown                  // no answer: applied or not
	setOK                       // applied; WAIT counted no replica
	setAcked                    // applied and WAIT 1 answered 1
)

// setWait sends SET key v and WAIT 1 1000 on one connection to the key's
// primary in the client's map; it returns that primary's address too.
func (s *soakKeys) setWait(ctx context.Context, key, v string) (setResult, string) {
	c, err := s.cc.MasterForKey(ctx, key)
	if err != nil {
		return setRefused, ""
	}
	addr := c.Options().Addr
	p := c.Pipeline()
	set := p.Set(ctx, key, v, 0)
	wait := p.Do(ctx, "WAIT", 1, 1000)
	_, _ = p.Exec(ctx)
	var reply redis.Error
	switch err := set.Err(); {
	case errors.As(err, &reply):
		return setRefused, addr
	case err != nil:
		return setUnknown, addr
	}
	if n, err := wait.Int64(); err == nil && n >= 1 {
		return setAcked, addr
	}
	return setOK, addr
}

func (s *soakKeys) write(ctx context.Context, gen, i int) {
	k := &s.keys[i]
	epoch := s.disrupt.Load()
	k.sent = append(k.sent, gen)
	r, addr := s.setWait(ctx, hoKey(i), soakValue(gen, i))
	if ctx.Err() != nil { // the end of the run cut it off
		k.later = append(k.later, gen)
		return
	}
	s.writes.Add(1)
	switch r {
	case setRefused:
		k.sent = k.sent[:len(k.sent)-1]
	case setUnknown:
		k.later = append(k.later, gen)
	case setOK:
		k.ok, k.okEpoch, k.later = gen, epoch, k.later[:0]
		k.okBy = addr + " at " + time.Now().UTC().Format("15:04:05.000")
	case setAcked:
		k.ok, k.okEpoch, k.later = gen, epoch, k.later[:0]
		k.okBy = addr + " at " + time.Now().UTC().Format("15:04:05.000") + " (acknowledged)"
		k.floor, k.sent = gen, append(k.sent[:0], gen)
		s.acked.Add(1)
	}
	if r == setRefused || r == setUnknown {
		s.errs.Add(1)
		s.cc.ReloadState(ctx)
		pause(ctx, 20*time.Millisecond)
	}
}

func (s *soakKeys) read(ctx context.Context, i int) {
	epoch := s.disrupt.Load()
	var tries tryLog
	got, err := s.cc.Get(context.WithValue(ctx, tryLogKey{}, &tries), hoKey(i)).Result()
	if ctx.Err() != nil {
		return
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		s.errs.Add(1) // CLUSTERDOWN, a timeout on a frozen node, a refused dial: no answer
		s.cc.ReloadState(ctx)
		pause(ctx, 20*time.Millisecond)
		return
	}
	s.reads.Add(1)
	s.check(fmt.Sprintf("read %v", tries), i, got, err != nil, epoch)
}

// check judges an answer for key i (miss: nil) to a GET sent when epoch
// crashes and freezes had begun, and records a violation.
func (s *soakKeys) check(what string, i int, got string, miss bool, epoch int64) {
	k := &s.keys[i]
	kind := k.judge(i, got, miss, epoch)
	if kind == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bad == nil {
		s.bad = map[string]int{}
	}
	s.bad[kind]++
	if len(s.first) < 10 {
		s.first = append(s.first, fmt.Sprintf("%s %s (slot %d) at %s: %s: got %q (miss %v); last OK gen %d (by %s, sent after disruption mark %d, now %d), WAIT-acknowledged gen %d, unanswered %v, sent %v",
			what, hoKey(i), protocol.KeySlot([]byte(hoKey(i))), time.Now().UTC().Format("15:04:05.000"), kind, got, miss, k.ok, k.okBy, k.okEpoch, epoch, k.floor, k.later, k.sent))
	}
}

// judge returns "" if got (or a miss) is an answer the docs allow for key
// i, read when epoch crashes and freezes had begun; else what is wrong.
func (k *soakKey) judge(i int, got string, miss bool, epoch int64) string {
	// Every key has a value WAIT 1 acknowledged (the preload) and nothing
	// deletes: a miss breaks both the graceful promise (docs/cluster.md
	// "Moving slots without a miss") and WAIT's (docs/replication.md
	// "WAIT": a write WAIT 1 acknowledged survives the primary's death).
	if miss {
		return "miss"
	}
	// A value of another key, or a gen never sent: no guarantee allows it.
	g, ok := soakGen(got, i)
	if !ok {
		return "never written"
	}
	if k.okEpoch == epoch {
		// No crash or freeze began since the last SET answered OK was sent:
		// joins and graceful leaves lose no acknowledged write and serve no
		// old value (docs/cluster.md "Moving slots without a miss", "The
		// flip", "Graceful leave"), and after a freeze the majority's
		// writes are kept, never a stale hit (docs/cluster.md "The window
		// and what can be lost"). So the answer is that value, or one of
		// the SETs sent after it that got no answer.
		if g == k.ok || slices.Contains(k.later, g) {
			return ""
		}
		return "not the last written value (no crash or freeze since it was written)"
	}
	// A crash or freeze began since that SET was sent: writes the dead or
	// frozen primary had not replicated may be lost (docs/cluster.md "The
	// window and what can be lost", docs/replication.md "WAIT"), but not
	// one WAIT 1 acknowledged, nor may an older value come back.
	if g < k.floor {
		return "older than the last value WAIT 1 acknowledged"
	}
	if !slices.Contains(k.sent, g) {
		return "never written"
	}
	return ""
}

// violations returns the count of bad answers, by kind, and the first ones.
func (s *soakKeys) violations() (int, map[string]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.bad {
		n += c
	}
	return n, maps.Clone(s.bad), slices.Clone(s.first)
}

func (s *soakKeys) summary() string {
	n, _, _ := s.violations()
	return fmt.Sprintf("reads %d, writes %d (%d WAIT-acknowledged), errors %d, bad answers %d",
		s.reads.Load(), s.writes.Load(), s.acked.Load(), s.errs.Load(), n)
}

// TestSoakJudge checks the soak's verdicts on a key's answers.
func TestSoakJudge(t *testing.T) {
	v := func(gen int) string { return soakValue(gen, 7) }
	// Gen 4 acknowledged by WAIT, gen 8 answered OK (not counted by WAIT)
	// after 1 crash or freeze, gen 12 sent after it without an answer.
	k := soakKey{ok: 8, okEpoch: 1, floor: 4, later: []int{12}, sent: []int{4, 8, 12}}
	for _, c := range []struct {
		got   string
		miss  bool
		epoch int64
		want  string
	}{
		{v(8), false, 1, ""},
		{v(12), false, 1, ""},
		{v(4), false, 1, "not the last written value (no crash or freeze since it was written)"},
		{"", true, 1, "miss"},
		{v(16), false, 1, "not the last written value (no crash or freeze since it was written)"},
		{soakValue(8, 6), false, 1, "never written"},
		{"v8-7-garbage", false, 1, "never written"},
		{v(4), false, 2, ""}, // a crash since gen 8 was sent may lose it, not gen 4
		{v(8), false, 2, ""},
		{v(12), false, 2, ""},
		{v(0), false, 2, "older than the last value WAIT 1 acknowledged"},
		{v(6), false, 2, "never written"},
		{v(16), false, 2, "never written"},
		{"", true, 2, "miss"},
	} {
		if got := k.judge(7, c.got, c.miss, c.epoch); got != c.want {
			t.Errorf("judge(%q, miss %v, epoch %d) = %q, want %q", c.got, c.miss, c.epoch, got, c.want)
		}
	}
}
