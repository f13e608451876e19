package scenario

import (
	"bufio"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestReadFrameRoundTrip(t *testing.T) {
	frames := []struct{ raw, shown string }{
		{"+OK\r\n", "+OK"},
		{"-ERR bad thing\r\n", "-ERR bad thing"},
		{":-3\r\n", ":-3"},
		{"$-1\r\n", "(nil)"},
		{"*-1\r\n", "(nil)"},
		{"_\r\n", "(nil)"},
		{"$0\r\n\r\n", `""`},
		{"$4\r\na\r\nb\r\n", `"a\r\nb"`},
		{"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", `["a", [:1]]`},
		{"%1\r\n+k\r\n,1.5\r\n", "%[+k, ,1.5]"},
		{">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n", `>["message", "ch", "m"]`},
		{"~0\r\n", "~[]"},
	}
	var stream strings.Builder
	for _, f := range frames {
		stream.WriteString(f.raw)
	}
	r := bufio.NewReader(strings.NewReader(stream.String()))
	for _, f := range frames {
		got, err := readFrame(r)
		if err != nil || got != f.raw {
			t.Fatalf("readFrame = %q, %v; want %q", got, err, f.raw)
		}
		if back := parseFrame(got).raw(); back != f.raw {
			t.Errorf("parse/raw of %q = %q", f.raw, back)
		}
		if s := show(got); s != f.shown {
			t.Errorf("show(%q) = %s, want %s", f.raw, s, f.shown)
		}
	}
	if _, err := readFrame(r); err == nil {
		t.Fatal("readFrame at the end of the stream: no error")
	}
	if _, err := readFrame(bufio.NewReader(strings.NewReader("$5\r\nab\r\n"))); err == nil {
		t.Fatal("truncated bulk: no error")
	}
}

func arr(elems ...string) string {
	s := "*" + itoa(len(elems)) + "\r\n"
	for _, e := range elems {
		s += "$" + itoa(len(e)) + "\r\n" + e + "\r\n"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCanonical(t *testing.T) {
	same := []struct {
		args  []string
		queue [][]string
		a, b  []string
	}{
		{[]string{"SMEMBERS", "s"}, nil, []string{arr("x", "y", "z")}, []string{arr("z", "x", "y")}},
		{[]string{"HGETALL", "h"}, nil, []string{arr("f", "1", "g", "2")}, []string{arr("g", "2", "f", "1")}},
		{[]string{"SRANDMEMBER", "s", "-2"}, nil, []string{arr("x", "x")}, []string{arr("y", "z")}},
		{[]string{"HRANDFIELD", "h", "100", "WITHVALUES"}, nil, []string{arr("f", "1", "g", "2")}, []string{arr("g", "2", "f", "1")}},
		{[]string{"TTL", "k"}, nil, []string{":100\r\n"}, []string{":99\r\n"}},
		{[]string{"HRANDFIELD", "h", "5", "WITHVALUES"}, nil, // RESP3 pairs
			[]string{"*2\r\n" + arr("f", "1") + arr("g", "2")}, []string{"*2\r\n" + arr("g", "2") + arr("f", "1")}},
		{[]string{"RANDOMKEY"}, nil, []string{"$1\r\na\r\n"}, []string{"$1\r\nb\r\n"}},
		{[]string{"EXEC"}, [][]string{{"SMEMBERS", "s"}, {"GET", "k"}},
			[]string{"*2\r\n" + arr("a", "b") + "$1\r\nv\r\n"}, []string{"*2\r\n" + arr("b", "a") + "$1\r\nv\r\n"}},
		{[]string{"UNSUBSCRIBE"}, nil,
			[]string{"*3\r\n$11\r\nunsubscribe\r\n$2\r\nc1\r\n:1\r\n", "*3\r\n$11\r\nunsubscribe\r\n$2\r\nc2\r\n:0\r\n"},
			[]string{"*3\r\n$11\r\nunsubscribe\r\n$2\r\nc2\r\n:1\r\n", "*3\r\n$11\r\nunsubscribe\r\n$2\r\nc1\r\n:0\r\n"}},
		{nil, nil, // messages: one PUBLISH seen through two patterns
			[]string{arr("pmessage", "a*", "ab", "m"), arr("pmessage", "*", "ab", "m")},
			[]string{arr("pmessage", "*", "ab", "m"), arr("pmessage", "a*", "ab", "m")}},
	}
	for _, c := range same {
		if x, y := canonical(c.args, c.queue, c.a), canonical(c.args, c.queue, c.b); x != y {
			t.Errorf("%v: %q and %q differ after normalising: %q vs %q", c.args, c.a, c.b, x, y)
		}
	}
	differ := []struct {
		args []string
		a, b []string
	}{
		{[]string{"LRANGE", "l", "0", "-1"}, []string{arr("x", "y")}, []string{arr("y", "x")}},
		{[]string{"SMEMBERS", "s"}, []string{arr("x", "y")}, []string{arr("x", "z")}},
		{[]string{"SRANDMEMBER", "s", "-2"}, []string{arr("x", "x")}, []string{arr("x")}},
		{[]string{"TTL", "k"}, []string{":-1\r\n"}, []string{":-2\r\n"}},
		{[]string{"SMEMBERS", "s"}, []string{"-ERR a\r\n"}, []string{"-ERR b\r\n"}},
		{[]string{"EXEC"}, []string{"*1\r\n" + arr("a", "b")}, []string{"*1\r\n" + arr("b", "a")}}, // queue says LRANGE
		{nil, []string{arr("message", "c", "1"), arr("message", "c", "2")}, []string{arr("message", "c", "2"), arr("message", "c", "1")}},
	}
	for _, c := range differ {
		q := [][]string{{"LRANGE", "l", "0", "-1"}}
		if x, y := canonical(c.args, q, c.a), canonical(c.args, q, c.b); x == y {
			t.Errorf("%v: %q and %q compare equal", c.args, c.a, c.b)
		}
	}
}

func TestMinimise(t *testing.T) {
	var steps []Step
	for i := range 40 {
		steps = append(steps, Step{Conn: i % 3, Args: []string{"CMD" + string(rune('A'+i%26)), itoa(i)}})
	}
	// Fails when a CMDC step comes after a CMDH step.
	fails := func(st []Step) bool {
		seenH := false
		for _, s := range st {
			seenH = seenH || s.Args[0] == "CMDH"
			if seenH && s.Args[0] == "CMDC" {
				return true
			}
		}
		return false
	}
	got := minimise(steps, fails, 0x7fffffff)
	if len(got) != 2 || got[0].Args[0] != "CMDH" || got[1].Args[0] != "CMDC" {
		t.Fatalf("minimised to %v", got)
	}
	if !fails(got) {
		t.Fatal("the minimised list does not fail")
	}
}

func TestStepString(t *testing.T) {
	cases := []struct {
		s    Step
		want string
	}{
		{Step{Conn: 1, Args: []string{"CLIENT", "UNBLOCK", "$conn:2", "ERROR"}}, "conn 1: CLIENT UNBLOCK <id of conn 2> ERROR"},
		{Step{Conn: 0, Args: []string{"SET", "k", "", " 1"}}, `conn 0: SET k "" " 1"`},
		{Step{Conn: 2, Args: []string{"BLPOP", "q", "0.01"}, Wait: 10e6}, "conn 2: BLPOP q 0.01   (reply awaited)"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("%#v = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestRepeatedBlockingKey(t *testing.T) {
	yes := [][]string{{"BLPOP", "a", "a", "0"}, {"BZPOPMAX", "a", "b", "a", "1"}, {"BLMPOP", "0", "2", "a", "a", "LEFT"}}
	no := [][]string{{"BLPOP", "a", "b", "0"}, {"BLMOVE", "a", "a", "LEFT", "LEFT", "0"}, {"LPUSH", "a", "a"}, {"BZMPOP", "0", "2", "a", "b", "MIN"}}
	for _, a := range yes {
		if !repeatedBlockingKey(a) {
			t.Errorf("%v: not seen as repeating a key", a)
		}
	}
	for _, a := range no {
		if repeatedBlockingKey(a) {
			t.Errorf("%v: seen as repeating a key", a)
		}
	}
}

// TestGenerateDeterministic: a seed writes the same script for the same
// observed states, another seed another one; no step is one an exclusion
// keeps out.
func TestGenerateDeterministic(t *testing.T) {
	write := func(seed uint64) []string {
		g := newGen(seed)
		var out []string
		add := func(st []Step) {
			for _, s := range st {
				if avoided(s.Args) {
					t.Fatalf("seed %d wrote an excluded step %s", seed, s)
				}
				out = append(out, s.String())
			}
		}
		add(g.start())
		n := len(g.conns)
		g.sync(make([][]string, n), make([]bool, n), make([]bool, n))
		for len(out) < 300 { // the model alone: blocked connections stay blocked
			add(g.fragment())
		}
		return out
	}
	a, b, c := write(7), write(7), write(8)
	if !slices.Equal(a, b) {
		t.Fatal("seed 7 wrote two different scripts")
	}
	if slices.Equal(a, c) {
		t.Fatal("seeds 7 and 8 wrote the same script")
	}
	joined := strings.Join(a, "\n")
	for _, want := range []string{"B[LR]POP|BLMOVE|BRPOPLPUSH|BLMPOP|BZPOPM|BZMPOP", "MULTI", "EXEC", "SUBSCRIBE", "PUBLISH", "WATCH", "HSET", "ZADD", "SADD", "CLIENT UNBLOCK"} {
		if !regexp.MustCompile(want).MatchString(joined) {
			t.Errorf("300 steps of seed 7 have no %s", want)
		}
	}
}
