package server

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// vsRedisPair is one raw connection to cached and one to redis-server 7,
// both in the same protocol, for byte-for-byte reply comparisons.
type vsRedisPair struct {
	ours, theirs *listRaw
	addr, sock   string // cached's address, redis-server's unix socket
}

func newVsRedisPair(t *testing.T, resp3 bool) *vsRedisPair {
	t.Helper()
	s := startServer(t, nil)
	return dialVsRedisPair(t, s.Addr(), listRealRedis(t), resp3)
}

// dialVsRedisPair connects to a cached server and a redis-server.
func dialVsRedisPair(t *testing.T, addr, sock string, resp3 bool) *vsRedisPair {
	t.Helper()
	p := &vsRedisPair{ours: listDialRaw(t, "tcp", addr), theirs: listDialRaw(t, "unix", sock), addr: addr, sock: sock}
	if resp3 {
		p.both(t, "HELLO", "3")
	}
	return p
}

// both sends args to both servers and returns the two raw replies.
func (p *vsRedisPair) both(t *testing.T, args ...string) (ours, theirs string) {
	t.Helper()
	return p.ours.do(t, args...), p.theirs.do(t, args...)
}

// same sends args to both and fails the test if the replies differ.
func (p *vsRedisPair) same(t *testing.T, args ...string) string {
	t.Helper()
	o, r := p.both(t, args...)
	if o != r {
		t.Errorf("%q:\n cached %q\n  redis %q", args, o, r)
	}
	return o
}

// respValue parses one raw RESP2/RESP3 reply into nested Go values: arrays,
// sets, maps and pushes become []any (maps as key, value, …).
func respValue(raw string) any {
	v, _ := respParse(raw)
	return v
}

func respParse(raw string) (any, string) {
	i := strings.Index(raw, "\r\n")
	head, rest := raw[:i], raw[i+2:]
	n, _ := strconv.Atoi(head[1:])
	switch head[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil, rest
		}
		return rest[:n], rest[n+2:]
	case '*', '~', '>', '%':
		if head[0] == '%' {
			n *= 2
		}
		if n < 0 {
			return nil, rest
		}
		out := make([]any, 0, n)
		for range n {
			var v any
			v, rest = respParse(rest)
			out = append(out, v)
		}
		return out, rest
	case '_':
		return nil, rest
	}
	return head, rest
}

// tableEntries returns every command and subcommand of the table.
func tableEntries() []*command {
	var out []*command
	for _, c := range newCommandTable().sorted() {
		out = append(out, c)
		out = append(out, subcommandsOf(c)...)
	}
	return out
}

// TestCommandInfoVsRedis compares, for every command and subcommand of the
// table, COMMAND INFO's fields up to the key specs (name, arity, flags, key
// range, ACL categories, tips, key specs) with redis-server 7's, in RESP3.
func TestCommandInfoVsRedis(t *testing.T) {
	p := newVsRedisPair(t, true)
	for _, cmd := range tableEntries() {
		if infoDeviations[cmd.fullName] != "" {
			continue
		}
		o, r := p.both(t, "COMMAND", "INFO", cmd.fullName)
		ov, rv := respValue(o).([]any), respValue(r).([]any)
		if len(ov) != 1 || len(rv) != 1 || rv[0] == nil {
			t.Errorf("%s: cached %q, redis %q", cmd.fullName, o, r)
			continue
		}
		oe, re := ov[0].([]any), rv[0].([]any)
		if len(oe) != 10 || len(re) != 10 {
			t.Errorf("%s: cached %d fields, redis %d", cmd.fullName, len(oe), len(re))
			continue
		}
		for i, what := range []string{"name", "arity", "flags", "first", "last", "step", "acl", "tips", "key specs"} {
			if !reflect.DeepEqual(oe[i], re[i]) {
				t.Errorf("%s %s:\n cached %v\n  redis %v", cmd.fullName, what, oe[i], re[i])
			}
		}
	}
}

// infoDeviations are the table entries whose COMMAND INFO differs from
// redis-server 7.0.15's on purpose, with the reason.
var infoDeviations = map[string]string{
	"client|setinfo":      "Redis 7.2 command",
	"cluster|myshardid":   "Redis 7.2 command",
	"cluster|x-peer":      "cached's node-to-node command",
	"cluster|x-publish":   "cached's node-to-node command",
	"cluster|x-functions": "cached's node-to-node command",
	"replsync":            "cached's node-to-node command (a replica's handshake)",
	"zrank":               "Redis 7.2's WITHSCORE: arity -3",
	"zrevrank":            "Redis 7.2's WITHSCORE: arity -3",
}

// getKeysCases are argument lists for COMMAND GETKEYS by command, beyond
// the generic ones (the name and |arity|-1 arguments, and two more when the
// arity is negative): movable keys, keywords, flags that vary.
var getKeysCases = map[string][][]string{
	"eval":            {{"return 1", "2", "a", "b", "x"}, {"return 1", "0"}, {"return 1", "0", "x"}, {"return 1", "3", "a"}, {"return 1", "-1"}},
	"eval_ro":         {{"return 1", "1", "a", "x"}, {"return 1", "0"}},
	"evalsha":         {{"abc", "2", "a", "b"}, {"abc", "0", "x"}},
	"evalsha_ro":      {{"abc", "1", "a"}, {"abc", "0"}},
	"fcall":           {{"f", "2", "a", "b", "x"}, {"f", "0"}, {"f", "3", "a"}},
	"fcall_ro":        {{"f", "1", "a"}, {"f", "0", "x"}},
	"lmpop":           {{"2", "a", "b", "LEFT"}, {"1", "a", "RIGHT", "COUNT", "2"}, {"0", "a", "LEFT"}, {"3", "a", "LEFT"}, {"x", "a", "LEFT"}, {"-1", "a", "LEFT"}},
	"blmpop":          {{"0", "2", "a", "b", "LEFT"}, {"0", "1", "a", "RIGHT"}, {"0", "0", "a", "LEFT"}, {"0", "9", "a", "LEFT"}},
	"zmpop":           {{"2", "a", "b", "MIN"}, {"1", "a", "MAX", "COUNT", "3"}, {"0", "a", "MIN"}, {"4", "a", "MIN"}},
	"bzmpop":          {{"0", "2", "a", "b", "MIN"}, {"1.5", "1", "a", "MAX"}, {"0", "0", "a", "MIN"}, {"0", "x", "a", "MIN"}},
	"sintercard":      {{"2", "a", "b"}, {"2", "a", "b", "LIMIT", "1"}, {"1", "a"}, {"0", "a"}, {"3", "a", "b"}},
	"zunionstore":     {{"d", "2", "a", "b"}, {"d", "1", "a", "WEIGHTS", "2"}, {"d", "0", "a"}, {"d", "3", "a", "b"}, {"d", "x", "a"}},
	"zinterstore":     {{"d", "2", "a", "b", "AGGREGATE", "MAX"}, {"d", "1", "a"}, {"d", "-2", "a"}},
	"zdiffstore":      {{"d", "2", "a", "b"}, {"d", "1", "a"}, {"d", "5", "a", "b"}},
	"zunion":          {{"2", "a", "b", "WITHSCORES"}, {"1", "a"}, {"0", "a"}},
	"zinter":          {{"2", "a", "b"}, {"3", "a", "b"}},
	"zdiff":           {{"2", "a", "b"}, {"1", "a", "WITHSCORES"}},
	"zintercard":      {{"2", "a", "b", "LIMIT", "1"}, {"1", "a"}, {"2", "a"}},
	"set":             {{"k", "v"}, {"k", "v", "GET"}, {"k", "v", "NX", "get"}, {"k", "v", "EX", "10"}, {"k", "get", "x"}},
	"bitfield":        {{"k"}, {"k", "GET", "u8", "0"}, {"k", "GET", "u8", "0", "OVERFLOW", "SAT"}, {"k", "SET", "u8", "0", "1"}, {"k", "GET", "u8"}, {"k", "INCRBY", "u8", "0", "1"}},
	"bitop":           {{"AND", "d", "a", "b"}, {"NOT", "d", "a"}},
	"mset":            {{"a", "1", "b", "2"}, {"a", "1", "b"}},
	"msetnx":          {{"a", "1", "b", "2", "c", "3"}},
	"del":             {{"a", "b", "a"}},
	"blpop":           {{"a", "b", "0"}, {"a", "a", "0"}},
	"bzpopmin":        {{"a", "b", "c", "0"}},
	"copy":            {{"a", "b", "DB", "1", "REPLACE"}},
	"watch":           {{"a", "b"}},
	"memory|usage":    {{"k", "SAMPLES", "5"}},
	"object|encoding": {{"k"}},
}

// getKeysLines returns the command lines to ask GETKEYS about for cmd.
func getKeysLines(cmd *command) [][]string {
	name := strings.ToUpper(cmd.fullName)
	words := strings.Split(name, "|")
	var lines [][]string
	generic := func(n int) []string {
		line := append([]string(nil), words...)
		for i := len(words); i < n; i++ {
			line = append(line, "a"+strconv.Itoa(i))
		}
		return line
	}
	if cmd.flags&flagMovableKeys == 0 {
		lines = append(lines, generic(max(cmd.arity, -cmd.arity)))
		if cmd.arity < 0 {
			lines = append(lines, generic(-cmd.arity+2), generic(-cmd.arity+3))
		}
	}
	for _, c := range getKeysCases[cmd.fullName] {
		lines = append(lines, append(append([]string(nil), words...), c...))
	}
	return lines
}

// TestCommandGetKeysVsRedis asks COMMAND GETKEYS and GETKEYSANDFLAGS about
// every command of the table that has keys, with generic and hand-picked
// argument lists, and about commands without keys and bad lines, in RESP2
// and RESP3; the replies must be redis-server 7's, byte for byte.
func TestCommandGetKeysVsRedis(t *testing.T) {
	for _, resp3 := range []bool{false, true} {
		t.Run(fmt.Sprintf("resp3=%v", resp3), func(t *testing.T) {
			p := newVsRedisPair(t, resp3)
			asked := 0
			for _, cmd := range tableEntries() {
				if !cmd.hasKeys() || infoDeviations[cmd.fullName] != "" {
					continue
				}
				lines := getKeysLines(cmd)
				if len(lines) == 0 {
					t.Errorf("%s has movable keys and no GETKEYS case: add one to getKeysCases", cmd.fullName)
				}
				for _, line := range lines {
					p.same(t, append([]string{"COMMAND", "GETKEYS"}, line...)...)
					p.same(t, append([]string{"COMMAND", "GETKEYSANDFLAGS"}, line...)...)
					asked++
				}
			}
			for _, line := range [][]string{
				{"PING"}, {"PING", "x"}, {"SPUBLISH", "ch", "m"}, {"SSUBSCRIBE", "ch"}, {"NOSUCH", "a"},
				{"GET"}, {"GET", "a", "b"}, {"OBJECT"}, {"OBJECT", "NOSUCH", "k"}, {"MEMORY", "USAGE"},
				{"CONFIG", "GET", "x"}, {"ZUNIONSTORE", "d"}, {"LMPOP", "1"}, {"MGET"},
			} {
				p.same(t, append([]string{"COMMAND", "GETKEYS"}, line...)...)
				p.same(t, append([]string{"COMMAND", "GETKEYSANDFLAGS"}, line...)...)
			}
			p.same(t, "COMMAND", "GETKEYS")
			p.same(t, "COMMAND", "GETKEYS", "GET")
			if asked < 150 {
				t.Fatalf("only %d command lines asked", asked)
			}
		})
	}
}

// TestCommandListFilterVsRedis compares COMMAND LIST FILTERBY MODULE,
// ACLCAT and PATTERN with redis-server 7: over the commands both servers
// have, the lists hold the same names; errors are the same.
func TestCommandListFilterVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	names := func(raw string) map[string]bool {
		m := map[string]bool{}
		for _, v := range respValue(raw).([]any) {
			m[v.(string)] = true
		}
		return m
	}
	oursAll, theirsAll := names(p.ours.do(t, "COMMAND", "LIST")), names(p.theirs.do(t, "COMMAND", "LIST"))
	if len(oursAll) < 200 || !oursAll["config|get"] {
		t.Fatalf("COMMAND LIST has %d names", len(oursAll))
	}
	for _, f := range [][]string{
		{"MODULE", "json"}, {"module", ""}, {"ACLCAT", "keyspace"}, {"aclcat", "WRITE"}, {"ACLCAT", "pubsub"},
		{"ACLCAT", "dangerous"}, {"ACLCAT", "connection"}, {"ACLCAT", "nosuch"}, {"PATTERN", "z*"},
		{"PATTERN", "*|*"}, {"PATTERN", "CLIENT|*"}, {"pattern", "?et"}, {"PATTERN", "config*"},
		{"PATTERN", "[a-c]*"}, {"PATTERN", "*"},
	} {
		o, r := p.both(t, "COMMAND", "LIST", "FILTERBY", f[0], f[1])
		om, rm := names(o), names(r)
		for n := range om {
			if theirsAll[n] && !rm[n] {
				t.Errorf("FILTERBY %v: cached lists %s, redis does not", f, n)
			}
		}
		for n := range rm {
			if oursAll[n] && !om[n] {
				t.Errorf("FILTERBY %v: redis lists %s, cached does not", f, n)
			}
		}
		if f[1] == "keyspace" && len(om) < 20 {
			t.Errorf("FILTERBY %v: only %d names", f, len(om))
		}
	}
	for _, bad := range [][]string{{"FILTERBY"}, {"FILTERBY", "ACLCAT"}, {"FILTERBY", "NOSUCH", "x"},
		{"NOSUCH", "ACLCAT", "x"}, {"FILTERBY", "ACLCAT", "read", "extra"}} {
		p.same(t, append([]string{"COMMAND", "LIST"}, bad...)...)
	}
}
