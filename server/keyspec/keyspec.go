// Package keyspec owns Redis 7's key specs: where a command's keys are in
// its arguments and what it does to them (COMMAND INFO's key specs, COMMAND
// GETKEYS, and the key positions routing and EXEC locking use).
package keyspec

import (
	"strconv"
	"strings"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
)

// Key specs: where a command's keys are in its arguments and what it does to
// them, in Redis 7's model (COMMAND INFO's key specs). A spec first finds
// where its keys begin (an index, or after a keyword), then which arguments
// from there are keys (a range, or a count argument followed by the keys).
//
// A command table entry declares its specs as strings (kernel.Spec.WithKeys):
//
//	"flags | begin | find [| notes]"
//	flags: Redis's key-spec flags, e.g. "RW access delete"
//	begin: "index N" | "keyword WORD STARTFROM" | "unknown"
//	find:  "range LASTKEY KEYSTEP LIMIT" | "keynum KEYNUMIDX FIRSTKEY KEYSTEP" | "unknown"
//
// An entry without declared specs that has a first key gets one range spec
// built from first/last/step, flagged "RW update" (write), "RO access"
// (readonly) or "RO". The legacy first/last/step of an entry with declared
// specs must agree with them (build panics otherwise), and movablekeys is
// derived from them, as Redis's populateCommandLegacyRangeSpec does.

// beginKind is how a key spec finds where its keys begin.
type beginKind uint8

const (
	beginUnknown beginKind = iota
	beginIndex
	beginKeyword
)

// findKind is how a key spec finds its keys from where they begin.
type findKind uint8

const (
	findUnknown findKind = iota
	findRange
	findKeynum
)

// Spec is one parsed key spec.
type Spec struct {
	flags []string // Redis's key-spec flags, in Redis's order
	notes string

	begin     beginKind
	index     int    // beginIndex: the first key's position
	keyword   string // beginKeyword: keys begin after this argument
	startFrom int    // beginKeyword: where the search starts (negative: from the end, backwards)

	find      findKind
	lastKey   int // findRange: last key relative to the first; negative: from the end
	keyStep   int // findRange, findKeynum
	limit     int // findRange with lastKey -1: only 1/limit of the remaining arguments
	keynumIdx int // findKeynum: the count's position relative to the begin
	firstKey  int // findKeynum: the first key's position relative to the begin
}

// Parse parses one declared key spec of command cmd; it panics on a
// malformed one (the table is checked at start-up).
func Parse(cmd, s string) Spec {
	parts := strings.Split(s, "|")
	if len(parts) < 3 || len(parts) > 4 {
		panic("server: key spec of " + cmd + ": want flags | begin | find [| notes]: " + s)
	}
	ks := Spec{flags: strings.Fields(parts[0])}
	for _, f := range ks.flags {
		if !contains(flagOrder, f) {
			panic("server: key spec of " + cmd + ": unknown flag " + f)
		}
	}
	if len(parts) == 4 {
		ks.notes = strings.TrimSpace(parts[3])
	}
	nums := func(w []string, n int) []int {
		if len(w) != n {
			panic("server: key spec of " + cmd + ": bad clause: " + s)
		}
		out := make([]int, n)
		for i, x := range w {
			v, err := strconv.Atoi(x)
			if err != nil {
				panic("server: key spec of " + cmd + ": bad number " + x)
			}
			out[i] = v
		}
		return out
	}
	b := strings.Fields(parts[1])
	switch {
	case len(b) == 2 && b[0] == "index":
		ks.begin, ks.index = beginIndex, nums(b[1:], 1)[0]
	case len(b) == 3 && b[0] == "keyword":
		ks.begin, ks.keyword, ks.startFrom = beginKeyword, b[1], nums(b[2:], 1)[0]
	case len(b) == 1 && b[0] == "unknown":
	default:
		panic("server: key spec of " + cmd + ": bad begin: " + s)
	}
	f := strings.Fields(parts[2])
	switch {
	case len(f) > 0 && f[0] == "range":
		n := nums(f[1:], 3)
		ks.find, ks.lastKey, ks.keyStep, ks.limit = findRange, n[0], n[1], n[2]
	case len(f) > 0 && f[0] == "keynum":
		n := nums(f[1:], 3)
		ks.find, ks.keynumIdx, ks.firstKey, ks.keyStep = findKeynum, n[0], n[1], n[2]
	case len(f) == 1 && f[0] == "unknown":
	default:
		panic("server: key spec of " + cmd + ": bad find: " + s)
	}
	if ks.keyStep < 0 || (ks.find == findRange && ks.keyStep == 0) {
		panic("server: key spec of " + cmd + ": bad key step: " + s)
	}
	return ks
}

// flagOrder is Redis's order of key-spec flags.
var flagOrder = []string{"RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
	"not_key", "incomplete", "variable_flags"}

// Has reports whether the spec has a flag ("not_key", "incomplete" …).
func (ks *Spec) Has(flag string) bool { return contains(ks.flags, flag) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Default is the spec of a command with a first key and no declared
// specs: one range from its legacy first/last/step, flagged by whether the
// command writes or only reads.
func Default(first, last, step int, write, readonly bool) Spec {
	ks := Spec{begin: beginIndex, index: first, find: findRange, keyStep: max(step, 1)}
	ks.lastKey = last
	if last >= 0 {
		ks.lastKey = last - first
	}
	switch {
	case write:
		ks.flags = []string{"RW", "update"}
	case readonly:
		ks.flags = []string{"RO", "access"}
	default:
		ks.flags = []string{"RO"}
	}
	return ks
}

// LegacyRange derives first/last/step and movablekeys from the specs, as
// Redis's populateCommandLegacyRangeSpec.
func LegacyRange(specs []Spec) (first, last, step int, movable bool) {
	if len(specs) == 0 {
		return 0, 0, 0, false
	}
	if len(specs) == 1 && specs[0].begin == beginIndex && specs[0].find == findRange {
		ks := specs[0]
		last = ks.lastKey
		if last >= 0 {
			last += ks.index
		}
		return ks.index, last, ks.keyStep, ks.Has("incomplete")
	}
	first, prevLast := -1, 0
	lastU := uint(0)
	for _, ks := range specs {
		if ks.begin != beginIndex || ks.find != findRange ||
			ks.keyStep != 1 || (prevLast != 0 && prevLast != ks.index-1) {
			movable = true
			continue
		}
		if ks.Has("incomplete") {
			movable = true
		}
		if first < 0 || ks.index < first {
			first = ks.index
		}
		abs := ks.lastKey
		if abs >= 0 {
			abs += ks.index
		}
		lastU = max(lastU, uint(abs)) // unsigned, as Redis: -1 (to the end) wins
		prevLast = int(lastU)
	}
	if first < 0 {
		return 0, 0, 0, movable
	}
	return first, int(lastU), 1, movable
}

// Ref is one key found in a command line: its position, with its spec's
// flags.
type Ref struct {
	Pos   int
	Flags []string
}

// Find returns the keys of the command line args (args[0] is the name) by
// the command's specs, as Redis's getKeysUsingKeySpecs. not_key specs
// (shard channels) count only with notKeys. ok is false when a spec cannot
// find its keys in args (a bad count, too few arguments): Redis then finds
// no keys.
func Find(specs []Spec, args [][]byte, notKeys bool) (refs []Ref, ok bool) {
	for i := range specs {
		ks := &specs[i]
		if ks.Has("not_key") && !notKeys {
			continue
		}
		first, found := ks.beginAt(args)
		if !found {
			continue // keyword not in args: this spec has no keys
		}
		if first < 0 {
			return nil, false
		}
		first, last, step, valid := ks.keysAt(args, first)
		if !valid || last >= len(args) || last < first || first >= len(args) {
			return nil, false
		}
		for p := first; p <= last; p += step {
			refs = append(refs, Ref{Pos: p, Flags: ks.flags})
		}
		if ks.Has("incomplete") {
			return nil, false
		}
	}
	return refs, true
}

// beginAt returns where the spec's keys begin: found is false when its
// keyword is absent, first is -1 when the spec cannot tell.
func (ks *Spec) beginAt(args [][]byte) (first int, found bool) {
	switch ks.begin {
	case beginIndex:
		return ks.index, true
	case beginKeyword:
		start, end := ks.startFrom, len(args)-1
		if ks.startFrom <= 0 {
			start, end = len(args)+ks.startFrom, 0
		}
		dir := 1
		if start > end {
			dir = -1
		}
		for i := start; i != end; i += dir { // end excluded, as Redis
			if i >= len(args) || i < 1 {
				break
			}
			if strings.EqualFold(string(args[i]), ks.keyword) {
				return i + 1, true
			}
		}
		return 0, false
	}
	return -1, true
}

// keysAt returns the first and last key's positions and the step, from
// where the keys begin.
func (ks *Spec) keysAt(args [][]byte, begin int) (first, last, step int, ok bool) {
	first = begin
	switch ks.find {
	case findRange:
		switch {
		case ks.lastKey >= 0:
			last = first + ks.lastKey
		case ks.limit == 0:
			last = len(args) + ks.lastKey
		default:
			last = first + (len(args)-first)/ks.limit + ks.lastKey
		}
		return first, last, ks.keyStep, true
	case findKeynum:
		at := first + ks.keynumIdx
		if at >= len(args) {
			return 0, 0, 0, false
		}
		n, isNum := protocol.ParseInt(args[at])
		if !isNum || n < 0 || n > int64(len(args)) {
			return 0, 0, 0, false
		}
		first += ks.firstKey
		return first, first + int(n) - 1, max(ks.keyStep, 1), true
	}
	return 0, 0, 0, false
}

// Write writes specs as COMMAND INFO's 9th field.
func Write(c *kernel.Ctx, specs []Spec) {
	c.SetLen(len(specs))
	for i := range specs {
		ks := &specs[i]
		n := 3
		if ks.notes != "" {
			n++
			c.MapLen(n)
			c.BulkString("notes")
			c.BulkString(ks.notes)
		} else {
			c.MapLen(n)
		}
		c.BulkString("flags")
		c.SetLen(len(ks.flags))
		for _, f := range ks.flags {
			c.Simple(f)
		}
		c.BulkString("begin_search")
		ks.writeBegin(c)
		c.BulkString("find_keys")
		ks.writeFind(c)
	}
}

func (ks *Spec) writeBegin(c *kernel.Ctx) {
	c.MapLen(2)
	c.BulkString("type")
	switch ks.begin {
	case beginIndex:
		c.BulkString("index")
		c.BulkString("spec")
		c.MapLen(1)
		c.BulkString("index")
		c.Int(int64(ks.index))
	case beginKeyword:
		c.BulkString("keyword")
		c.BulkString("spec")
		c.MapLen(2)
		c.BulkString("keyword")
		c.BulkString(ks.keyword)
		c.BulkString("startfrom")
		c.Int(int64(ks.startFrom))
	default:
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	}
}

func (ks *Spec) writeFind(c *kernel.Ctx) {
	c.MapLen(2)
	c.BulkString("type")
	switch ks.find {
	case findRange:
		c.BulkString("range")
		c.BulkString("spec")
		c.MapLen(3)
		c.BulkString("lastkey")
		c.Int(int64(ks.lastKey))
		c.BulkString("keystep")
		c.Int(int64(ks.keyStep))
		c.BulkString("limit")
		c.Int(int64(ks.limit))
	case findKeynum:
		c.BulkString("keynum")
		c.BulkString("spec")
		c.MapLen(3)
		c.BulkString("keynumidx")
		c.Int(int64(ks.keynumIdx))
		c.BulkString("firstkey")
		c.Int(int64(ks.firstKey))
		c.BulkString("keystep")
		c.Int(int64(ks.keyStep))
	default:
		c.BulkString("unknown")
		c.BulkString("spec")
		c.MapLen(0)
	}
}
