package bitops

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds the redis-server comparison helper: when redis-server is
// on PATH (and not -short), TestCompareRedis starts one on a unix socket in
// a temp dir (no TCP port), runs random bitmap and LCS commands against it
// and against a small in-test handler built on this package, and requires
// identical replies. Set BITOPS_COMPARE_N to change the number of commands.

// reply is a decoded RESP2 reply.
type reply struct {
	Kind byte // ':' int, '$' bulk, '*' array, '-' error, '+' simple, 'n' null
	Int  int64
	Str  string
	Arr  []reply
}

func (r reply) String() string {
	switch r.Kind {
	case ':':
		return fmt.Sprintf("(int) %d", r.Int)
	case '$', '+':
		return fmt.Sprintf("%q", r.Str)
	case '-':
		return "(error) " + r.Str
	case 'n':
		return "(nil)"
	}
	parts := make([]string, len(r.Arr))
	for i, e := range r.Arr {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func intReply(n int64) reply       { return reply{Kind: ':', Int: n} }
func errReply(s string) reply      { return reply{Kind: '-', Str: s} }
func bulkReply(b []byte) reply     { return reply{Kind: '$', Str: string(b)} }
func arrReply(rs ...reply) reply   { return reply{Kind: '*', Arr: append([]reply{}, rs...)} }
func pairReply(a [2]int64) reply   { return arrReply(intReply(a[0]), intReply(a[1])) }
func nullReply() reply             { return reply{Kind: 'n'} }
func okReply() reply               { return reply{Kind: '+', Str: "OK"} }
func bulkStr(s string) reply       { return reply{Kind: '$', Str: s} }
func (r reply) equal(o reply) bool { return reflect.DeepEqual(norm(r), norm(o)) }

func norm(r reply) reply {
	if r.Kind == '*' && len(r.Arr) == 0 {
		r.Arr = nil
	}
	for i := range r.Arr {
		r.Arr[i] = norm(r.Arr[i])
	}
	return r
}

// respConn is a minimal RESP2 client for the comparison test.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func (rc *respConn) do(args ...[]byte) (reply, error) {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n", len(a))
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	if err := rc.c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return reply{}, err
	}
	if _, err := rc.c.Write(b); err != nil {
		return reply{}, err
	}
	return rc.read()
}

func (rc *respConn) read() (reply, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return reply{}, fmt.Errorf("empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+', '-':
		return reply{Kind: line[0], Str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return intReply(n), err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nullReply(), err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return reply{}, err
		}
		return bulkReply(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nullReply(), err
		}
		out := reply{Kind: '*'}
		for range n {
			e, err := rc.read()
			if err != nil {
				return reply{}, err
			}
			out.Arr = append(out.Arr, e)
		}
		return out, nil
	}
	return reply{}, fmt.Errorf("bad reply line %q", line)
}

// startRedis starts redis-server on a unix socket and returns a client. A
// missing redis-server fails the test: .ci/run installs Debian's package.
func startRedis(t *testing.T) *respConn {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not on PATH: install Debian's redis-server (.ci/run does)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the process this test started
		_ = cmd.Wait()
	})
	var c net.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err = net.Dial("unix", sock)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // poll for the socket, bounded by deadline
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

// model is the test's handler: a key space of strings driven by this
// package, answering as the server's handlers should.
type model struct {
	keys map[string][]byte
}

func (m *model) exec(args [][]byte) reply {
	name := strings.ToLower(string(args[0]))
	key := string(args[1])
	v, exists := m.keys[key]
	switch name {
	case "set":
		m.keys[key] = append([]byte{}, args[2]...)
		return okReply()
	case "get":
		if !exists {
			return nullReply()
		}
		return bulkReply(v)
	case "setbit":
		off, e := ParseBitOffset(args[2], 0)
		if e != "" {
			return errReply(e)
		}
		bit, e := ParseBit(args[3])
		if e != "" {
			return errReply(e)
		}
		nv, old := SetBit(v, off, bit)
		m.keys[key] = nv
		return intReply(int64(old))
	case "getbit":
		off, e := ParseBitOffset(args[2], 0)
		if e != "" {
			return errReply(e)
		}
		return intReply(int64(GetBit(v, off)))
	case "bitcount":
		if !exists { // redis-server 7.0 answers a missing key before parsing
			return intReply(0)
		}
		r, e := ParseBitCount(args[2:])
		if e != "" {
			return errReply(e)
		}
		return intReply(BitCount(v, r))
	case "bitpos":
		bit, e := ParseBitArg(args[2])
		if e != "" {
			return errReply(e)
		}
		if !exists { // redis-server 7.0 order, as for BITCOUNT
			return intReply(BitPos(nil, false, BitPosArgs{Bit: bit}))
		}
		a, e := ParseBitPos(args[2:])
		if e != "" {
			return errReply(e)
		}
		return intReply(BitPos(v, exists, a))
	case "bitop":
		return m.bitop(args)
	case "bitfield", "bitfield_ro":
		return m.bitfield(args, name == "bitfield_ro")
	case "lcs":
		return m.lcs(args)
	}
	return errReply("unknown")
}

func (m *model) bitop(args [][]byte) reply {
	srcs := make([][]byte, 0, len(args)-3)
	for _, k := range args[3:] {
		srcs = append(srcs, m.keys[string(k)])
	}
	res, e := Op(string(args[1]), srcs)
	if e != "" {
		return errReply(e)
	}
	if len(res) == 0 {
		delete(m.keys, string(args[2]))
	} else {
		m.keys[string(args[2])] = res
	}
	return intReply(int64(len(res)))
}

func (m *model) bitfield(args [][]byte, ro bool) reply {
	ops, e := ParseBitfield(args[2:], ro)
	if e != "" {
		return errReply(e)
	}
	key := string(args[1])
	nv, res, _ := apply(m.keys[key], ops)
	if HasWrite(ops) {
		m.keys[key] = nv
	}
	out := reply{Kind: '*'}
	for _, r := range res {
		if r.Null {
			out.Arr = append(out.Arr, nullReply())
		} else {
			out.Arr = append(out.Arr, intReply(r.Value))
		}
	}
	return out
}

func (m *model) lcs(args [][]byte) reply {
	o, e := ParseLCS(args[3:])
	if e != "" {
		return errReply(e)
	}
	r, e := LCS(m.keys[string(args[1])], m.keys[string(args[2])], o, 0)
	if e != "" {
		return errReply(e)
	}
	switch {
	case o.Idx:
		ms := reply{Kind: '*'}
		for _, mt := range r.Matches {
			el := arrReply(pairReply(mt.A), pairReply(mt.B))
			if o.WithMatchLen {
				el.Arr = append(el.Arr, intReply(mt.Len))
			}
			ms.Arr = append(ms.Arr, el)
		}
		return arrReply(bulkStr("matches"), ms, bulkStr("len"), intReply(r.Len))
	case o.Len:
		return intReply(r.Len)
	}
	return bulkReply(r.Str)
}

// gen makes random commands over a few keys that always hold strings.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) key() string { return g.pick("a", "b", "c", "d") }

func (g gen) index() string {
	switch g.r.IntN(10) {
	case 0:
		return g.pick("x", "", "-0", "01", "+1", "9223372036854775807", "-9223372036854775808", "99999999999999999999")
	case 1:
		return strconv.Itoa(g.r.IntN(200) - 100)
	}
	return strconv.Itoa(g.r.IntN(40) - 20)
}

func (g gen) value() string {
	if g.r.IntN(4) == 0 { // long runs exercise the word-at-a-time paths
		run := strings.Repeat(g.pick("\xff", "\x00", "ab"), g.r.IntN(60))
		return g.pick("", "\x01", "\xfe") + run + g.pick("", "\x80", "\x7f", "\x00")
	}
	n := g.r.IntN(12)
	b := make([]byte, n)
	alpha := g.pick("ab", "abc", "\x00\xff", "\x00\x01\x80\xff\x0f", "abcdefgh")
	for i := range b {
		b[i] = alpha[g.r.IntN(len(alpha))]
	}
	return string(b)
}

func (g gen) command() []string {
	k := g.key()
	switch g.r.IntN(9) {
	case 0:
		return []string{"set", k, g.value()}
	case 1:
		return []string{"setbit", k, strconv.Itoa(g.r.IntN(120)), g.pick("0", "1", "1", "2", "x")}
	case 2:
		return []string{"getbit", k, strconv.Itoa(g.r.IntN(120))}
	case 3:
		return append([]string{"bitcount", k}, g.rangeArgs(g.r.IntN(5))...)
	case 4:
		return append([]string{"bitpos", k, g.pick("0", "1", "0", "1", "2")}, g.rangeArgs(g.r.IntN(5))...)
	case 5:
		args := []string{"bitop", g.pick("and", "OR", "xor", "not", "not", "nand"), g.key()}
		for range 1 + g.r.IntN(3) {
			args = append(args, g.key())
		}
		return args
	case 6, 7:
		return g.bitfield(k)
	}
	return g.lcsCmd()
}

func (g gen) rangeArgs(n int) []string {
	var out []string
	for i := range n {
		if i == 2 {
			out = append(out, g.pick("bit", "BYTE", "bit", "bits"))
		} else {
			out = append(out, g.index())
		}
	}
	return out
}

func (g gen) bitfield(k string) []string {
	args := []string{g.pick("bitfield", "bitfield", "bitfield", "bitfield_ro"), k}
	for range g.r.IntN(5) {
		typ := g.pick("i", "u") + strconv.Itoa(1+g.r.IntN(64))
		if g.r.IntN(30) == 0 {
			typ = g.pick("u64", "i0", "I8", "i65", "x")
		}
		off := strconv.Itoa(g.r.IntN(80))
		if g.r.IntN(4) == 0 {
			off = "#" + strconv.Itoa(g.r.IntN(6))
		}
		if g.r.IntN(40) == 0 {
			off = g.pick("#288230376151711745", "#4611686018427387905", "#-1", "4294967296", "#536870912", "x")
		}
		val := strconv.FormatInt(int64(g.r.Uint64()), 10)
		if g.r.IntN(2) == 0 {
			val = strconv.Itoa(g.r.IntN(600) - 300)
		}
		switch g.r.IntN(5) {
		case 0:
			args = append(args, "get", typ, off)
		case 1:
			args = append(args, "SET", typ, off, val)
		case 2:
			args = append(args, "incrby", typ, off, val)
		case 3:
			args = append(args, "overflow", g.pick("wrap", "SAT", "fail", "fail", "bogus"))
		default:
			args = append(args, g.pick("get", "set", "foo", "overflow"))
		}
	}
	return args
}

func (g gen) lcsCmd() []string {
	args := []string{"lcs", g.key(), g.key()}
	for range g.r.IntN(4) {
		switch g.r.IntN(6) {
		case 0:
			args = append(args, "len")
		case 1, 2:
			args = append(args, "IDX")
		case 3:
			args = append(args, "withmatchlen")
		case 4:
			args = append(args, "minmatchlen", g.pick("0", "1", "2", "3", "-1", "x"))
		default:
			args = append(args, g.pick("minmatchlen", "bogus"))
		}
	}
	return args
}

func TestCompareRedis(t *testing.T) {
	rc := startRedis(t)
	n := 8000
	if s := os.Getenv("BITOPS_COMPARE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	m := &model{keys: map[string][]byte{}}
	seed := uint64(1)
	if s := os.Getenv("BITOPS_COMPARE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	g := gen{r: rand.New(rand.NewPCG(seed, 2))}
	for _, k := range []string{"a", "b", "c", "d"} {
		init := []string{"set", k, g.value() + "x"}
		if _, err := rc.do(toBytes(init)...); err != nil {
			t.Fatal(err)
		}
		m.exec(toBytes(init))
	}
	for i := range n {
		cmd := g.command()
		args := toBytes(cmd)
		want, err := rc.do(args...)
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
		got := m.exec(args)
		if !got.equal(want) {
			t.Fatalf("#%d %q: got %v, redis %v", i, cmd, got, want)
		}
		for _, k := range []string{"a", "b", "c", "d"} { // keys stay in sync
			want, _ := rc.do([]byte("get"), []byte(k))
			if got := m.exec(toBytes([]string{"get", k})); !got.equal(want) {
				t.Fatalf("#%d %q: key %s = %v, redis %v", i, cmd, k, got, want)
			}
		}
	}
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
