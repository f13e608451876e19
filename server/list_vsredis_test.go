package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// listRaw is a raw RESP connection that returns each reply's exact bytes.
type listRaw struct {
	nc net.Conn
	r  *bufio.Reader
}

func listDialRaw(t *testing.T, network, addr string) *listRaw {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	return &listRaw{nc: nc, r: bufio.NewReader(nc)}
}

// do sends args and returns the raw reply.
func (c *listRaw) do(t *testing.T, args ...string) string {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := c.nc.Write(protocol.AppendCommand(nil, bs...)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := listReadReply(c.r, &out); err != nil {
		t.Fatalf("%q: %v (read so far %q)", args, err, out.String())
	}
	return out.String()
}

// listReadReply copies one whole RESP2/RESP3 reply from r to out.
func listReadReply(r *bufio.Reader, out *bytes.Buffer) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	out.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimRight(line[1:], "\r\n"))
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		out.Write(buf)
	case '*', '~', '>', '%':
		if line[0] == '%' {
			n *= 2
		}
		for range max(n, 0) {
			if err := listReadReply(r, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// listRealRedis starts redis-server on a unix socket in a temporary
// directory and returns the socket path; it is killed, by its PID, when the
// test ends. A missing redis-server fails the test (.ci/run installs it).
func listRealRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed: install Debian's redis-server (.ci/run does)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir,
		"--enable-debug-command", "local") // DEBUG over the socket: SET-ACTIVE-EXPIRE
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			if nc, err := net.Dial("unix", sock); err == nil {
				_ = nc.Close()
				return sock
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness
	}
}

// listGen makes random list commands over a few keys.
type listGen struct{ r *rand.Rand }

func (g listGen) key() string {
	return [...]string{"l1", "l2", "l3", "str", "none"}[g.r.IntN(5)]
}

func (g listGen) val() string {
	switch g.r.IntN(10) {
	case 0:
		return strings.Repeat("x", 1+g.r.IntN(3000)) // fills nodes fast
	case 3:
		return strconv.Itoa(g.r.IntN(50))
	case 1:
		return ""
	case 2:
		return strconv.Itoa(g.r.IntN(1000) - 500)
	default:
		return string(rune('a' + g.r.IntN(4)))
	}
}

func (g listGen) idx() string {
	switch g.r.IntN(12) {
	case 0:
		return "abc"
	case 1:
		return "9223372036854775807"
	case 2:
		return "-9223372036854775808"
	default:
		return strconv.Itoa(g.r.IntN(30) - 15)
	}
}

func (g listGen) side() string {
	return [...]string{"LEFT", "right", "Left", "RIGHT", "up"}[g.r.IntN(5)*min(1, g.r.IntN(8))]
}

func (g listGen) vals(min int) []string {
	out := make([]string, min+g.r.IntN(5))
	for i := range out {
		out[i] = g.val()
	}
	return out
}

func (g listGen) lposOpts() []string {
	var out []string
	for range g.r.IntN(4) {
		switch g.r.IntN(8) {
		case 0:
			out = append(out, "RANK", g.idx())
		case 1:
			out = append(out, "rank", strconv.Itoa(g.r.IntN(5)-2))
		case 2:
			out = append(out, "COUNT", strconv.Itoa(g.r.IntN(4)-1))
		case 3:
			out = append(out, "MAXLEN", strconv.Itoa(g.r.IntN(12)-1))
		case 4:
			out = append(out, "count", g.idx())
		case 5:
			out = append(out, "maxlen")
		case 6:
			out = append(out, "foo", "1")
		default:
			out = append(out, "RANK", strconv.Itoa(g.r.IntN(3)+1))
		}
	}
	return out
}

func (g listGen) count() []string {
	switch g.r.IntN(6) {
	case 0:
		return nil
	case 1:
		return []string{"COUNT", strconv.Itoa(g.r.IntN(3) - 1)}
	case 2:
		return []string{"count", "5", "COUNT", "1"}
	case 3:
		return []string{"COUNT"}
	default:
		return []string{"COUNT", strconv.Itoa(1 + g.r.IntN(12))}
	}
}

func (g listGen) mpop(block bool) []string {
	n := 1 + g.r.IntN(3)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = g.key()
	}
	nk := strconv.Itoa(n)
	if g.r.IntN(10) == 0 {
		nk = [...]string{"0", "-1", "abc", "7"}[g.r.IntN(4)]
	}
	args := []string{"LMPOP", nk}
	if block {
		args = []string{"BLMPOP", [...]string{"0.01", "-1", "x", "0.02"}[g.r.IntN(4)], nk}
	}
	args = append(args, keys...)
	args = append(args, g.side())
	return append(args, g.count()...)
}

func (g listGen) next() []string {
	k := g.key()
	switch g.r.IntN(28) {
	case 0, 1:
		return append([]string{"LPUSH", k}, g.vals(1)...)
	case 2, 3:
		return append([]string{"RPUSH", k}, g.vals(1)...)
	case 4:
		return append([]string{[...]string{"LPUSHX", "RPUSHX"}[g.r.IntN(2)], k}, g.vals(1)...)
	case 5, 6:
		cmd := []string{[...]string{"LPOP", "RPOP"}[g.r.IntN(2)], k}
		switch g.r.IntN(4) {
		case 0:
			return cmd
		case 1:
			return append(cmd, g.idx())
		case 2:
			return append(cmd, "1", "2")
		}
		return append(cmd, strconv.Itoa(g.r.IntN(6)))
	case 7:
		return []string{"LLEN", k}
	case 8, 9:
		return []string{"LRANGE", k, g.idx(), g.idx()}
	case 10:
		return []string{"LINDEX", k, g.idx()}
	case 11:
		return []string{"LSET", k, g.idx(), g.val()}
	case 12:
		return []string{"LINSERT", k, [...]string{"BEFORE", "after", "middle"}[g.r.IntN(3)], g.val(), g.val()}
	case 13:
		return []string{"LREM", k, g.idx(), g.val()}
	case 14:
		return []string{"LTRIM", k, g.idx(), g.idx()}
	case 15, 16:
		return append([]string{"LPOS", k, g.val()}, g.lposOpts()...)
	case 17:
		return []string{"LMOVE", k, g.key(), g.side(), g.side()}
	case 18:
		return []string{"RPOPLPUSH", k, g.key()}
	case 19:
		return g.mpop(false)
	case 20:
		return []string{[...]string{"BLPOP", "BRPOP"}[g.r.IntN(2)], k, g.key(), [...]string{"0.01", "-1", "abc", "0.02"}[g.r.IntN(4)]}
	case 21:
		return []string{"BLMOVE", k, g.key(), g.side(), g.side(), [...]string{"0.01", "-1", "abc"}[g.r.IntN(3)]}
	case 22:
		return []string{"BRPOPLPUSH", k, g.key(), "0.01"}
	case 23:
		return g.mpop(true)
	case 24:
		switch g.r.IntN(4) {
		case 0:
			return []string{"SET", "str", "x"}
		case 1:
			return []string{"DEL", k}
		case 2:
			return []string{"TYPE", k}
		}
		return []string{"OBJECT", "ENCODING", k}
	case 25, 26: // many small elements at once: lists of many nodes
		vals := make([]string, 50+g.r.IntN(400))
		for i := range vals {
			vals[i] = strconv.Itoa(g.r.IntN(50))
		}
		return append([]string{[...]string{"LPUSH", "RPUSH"}[g.r.IntN(2)], k}, vals...)
	}
	return []string{"LRANGE", k, "0", "-1"}
}

// TestListVsRedis sends the same random list command sequences to cached and
// to a real redis-server 7.0.15, in RESP2 and RESP3, and compares every reply
// byte for byte.
func TestListVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for seed, resp := range []string{"2", "3", "2", "3"} {
		ours := listDialRaw(t, "tcp", s.Addr())
		real := listDialRaw(t, "unix", sock)
		for _, c := range []*listRaw{ours, real} {
			c.do(t, "HELLO", resp)
			c.do(t, "FLUSHALL")
			c.do(t, "SET", "str", "x")
		}
		g := listGen{r: rand.New(rand.NewPCG(uint64(seed), 42))}
		var hist []string
		for i := range steps {
			args := g.next()
			hist = append(hist, strings.Join(args, " "))
			want, got := real.do(t, args...), ours.do(t, args...)
			if got != want {
				tail := hist[max(0, len(hist)-8):]
				t.Fatalf("RESP%s seed %d step %d: %.200q\n cached: %.300q\n redis:  %.300q\n last commands: %.2000q", resp, seed, i, args, got, want, tail)
			}
		}
		for _, k := range []string{"l1", "l2", "l3"} {
			if got, want := ours.do(t, "LRANGE", k, "0", "-1"), real.do(t, "LRANGE", k, "0", "-1"); got != want {
				t.Fatalf("final %s differs", k)
			}
		}
	}
}

// listBlockedIn polls c's INFO until n clients are blocked.
func listBlockedIn(t *testing.T, c *listRaw, n int) {
	t.Helper()
	want := "blocked_clients:" + strconv.Itoa(n) + "\r\n"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.do(t, "INFO", "clients"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("never %d blocked clients", n)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}

// TestListBlockingVsRedis plays blocking scenarios on cached and on
// redis-server 7.0.15 (one client blocks, another changes keys) and
// compares the blocked client's reply and the keys afterwards byte for byte.
func TestListBlockingVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	scenarios := []struct {
		block []string
		then  [][]string
		keys  []string
	}{
		{[]string{"BLPOP", "k1", "k2", "0"}, [][]string{{"SET", "k1", "str"}, {"RPUSH", "k2", "x"}}, []string{"k1", "k2"}},
		{[]string{"BRPOP", "k1", "k2", "0"}, [][]string{{"RPUSH", "k2", "a", "b"}}, []string{"k2"}},
		{[]string{"BLMPOP", "0", "2", "k1", "k2", "LEFT", "COUNT", "3"}, [][]string{{"SET", "k1", "s"}, {"RPUSH", "k2", "x", "y"}}, []string{"k2"}},
		{[]string{"BLMPOP", "0", "1", "k1", "RIGHT"}, [][]string{{"RPUSH", "k1", "x", "y"}}, []string{"k1"}},
		{[]string{"BLMOVE", "k1", "d", "LEFT", "LEFT", "0"}, [][]string{{"SET", "d", "s"}, {"RPUSH", "k1", "x", "y"}}, []string{"k1"}},
		{[]string{"BLMOVE", "k1", "k1", "RIGHT", "LEFT", "0"}, [][]string{{"RPUSH", "k1", "a", "b"}}, []string{"k1"}},
		{[]string{"BRPOPLPUSH", "k1", "d", "0"}, [][]string{{"RPUSH", "k1", "a", "b"}}, []string{"k1", "d"}},
		{[]string{"BLPOP", "k1", "0"}, [][]string{{"SET", "k1", "s"}, {"DEL", "k1"}, {"LPUSH", "k1", "z"}}, []string{"k1"}},
		{[]string{"BLPOP", "k1", "0"}, [][]string{{"RPUSH", "tmp", "v"}, {"RENAME", "tmp", "k1"}}, []string{"k1", "tmp"}},
		{[]string{"BLPOP", "k1", "0.05"}, nil, []string{"k1"}},
		// Several keys filled by one EXEC: blockScenarios (blocking_vsredis_test.go).
		{[]string{"BLMOVE", "k1", "d", "LEFT", "LEFT", "0.05"}, nil, []string{"d"}},
	}
	for _, resp := range []string{"2", "3"} {
		for i, sc := range scenarios {
			var replies [2][]string
			for j, dial := range []func() *listRaw{
				func() *listRaw { return listDialRaw(t, "unix", sock) },
				func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) },
			} {
				blocked, other := dial(), dial()
				other.do(t, "FLUSHALL")
				blocked.do(t, "HELLO", resp)
				bs := make([][]byte, len(sc.block))
				for k, a := range sc.block {
					bs[k] = []byte(a)
				}
				if _, err := blocked.nc.Write(protocol.AppendCommand(nil, bs...)); err != nil {
					t.Fatal(err)
				}
				if sc.then != nil {
					listBlockedIn(t, other, 1)
				}
				for _, cmd := range sc.then {
					other.do(t, cmd...)
				}
				var out bytes.Buffer
				if err := listReadReply(blocked.r, &out); err != nil {
					t.Fatal(err)
				}
				replies[j] = append(replies[j], out.String())
				for _, k := range sc.keys {
					replies[j] = append(replies[j], other.do(t, "TYPE", k), other.do(t, "LRANGE", k, "0", "-1"))
				}
			}
			if !slicesEqualStr(replies[0], replies[1]) {
				t.Fatalf("RESP%s scenario %d %q then %q:\n redis:  %q\n cached: %q", resp, i, sc.block, sc.then, replies[0], replies[1])
			}
		}
	}
}

func slicesEqualStr(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestListBlockingInMultiVsRedis: inside MULTI the blocking forms answer at
// once, each with Redis's own null form.
func TestListBlockingInMultiVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	for _, resp := range []string{"2", "3"} {
		var got [2]string
		for j, c := range []*listRaw{listDialRaw(t, "unix", sock), listDialRaw(t, "tcp", s.Addr())} {
			c.do(t, "HELLO", resp)
			c.do(t, "FLUSHALL")
			c.do(t, "RPUSH", "full", "a", "b")
			c.do(t, "MULTI")
			for _, cmd := range [][]string{{"BLPOP", "none", "0"}, {"BRPOP", "none", "full", "0"}, {"BLMOVE", "none", "d", "LEFT", "LEFT", "0"},
				{"BRPOPLPUSH", "none", "d", "0"}, {"BLMPOP", "0", "1", "none", "LEFT"}, {"BLMOVE", "full", "d", "LEFT", "LEFT", "0"}} {
				c.do(t, cmd...)
			}
			got[j] = c.do(t, "EXEC")
		}
		if got[0] != got[1] {
			t.Fatalf("RESP%s EXEC:\n redis:  %q\n cached: %q", resp, got[0], got[1])
		}
	}
}
