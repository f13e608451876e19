package server

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
)

// monitorLineRE matches a monitor line and captures what follows the
// timestamp.
var monitorLineRE = regexp.MustCompile(`^\+[0-9]{10}\.[0-9]{6} (\[.*)$`)

// startMonitor opens a raw connection, sends MONITOR (after AUTH when pass is
// set) and checks the +OK.
func startMonitor(t *testing.T, s *Server, pass string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, r := rawConn(t, s)
	if pass != "" {
		send(t, nc, "AUTH "+pass+"\r\n")
		if got := readLine(t, r); got != "+OK" {
			t.Fatalf("AUTH: got %q", got)
		}
	}
	send(t, nc, "MONITOR\r\n")
	if got := readLine(t, r); got != "+OK" {
		t.Fatalf("MONITOR: got %q", got)
	}
	return nc, r
}

// readMonitorLine reads one line, checks its timestamp's format and returns
// the rest: `[0 127.0.0.1:1234] "set" "k" "v"`.
func readMonitorLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line := readLine(t, r)
	m := monitorLineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a monitor line: %q", line)
	}
	return m[1]
}

// clientAddr returns the address the server sees for rc's (single) connection.
func clientAddr(t *testing.T, rc *redis.Client) string {
	t.Helper()
	info, _ := mustDo(t, rc, "CLIENT", "INFO").(string)
	for _, f := range strings.Fields(info) {
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			return a
		}
	}
	t.Fatalf("no addr in %q", info)
	return ""
}

// waitMonitors polls until the server has n monitors, or fails.
func waitMonitors(t *testing.T, s *Server, n int32) {
	t.Helper()
	waitUntil(t, func() bool { return s.monitors.count.Load() == n },
		func() string { return fmt.Sprintf("monitors = %d, want %d", s.monitors.count.Load(), n) })
}

func TestMonitorShowsCommands(t *testing.T) {
	s := startServer(t, nil)
	for _, proto := range []int{2, 3} {
		rc := newClient(t, s, func(o *redis.Options) { o.Protocol = proto; o.PoolSize = 1 })
		addr := clientAddr(t, rc) // also finishes go-redis's handshake before MONITOR
		_, r := startMonitor(t, s, "")
		ctx := ctxT(t)
		if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Get(ctx, "k").Err(); err != nil {
			t.Fatal(err)
		}
		mustDo(t, rc, "SELECT", "2")
		if err := rc.Get(ctx, "k").Err(); err != redis.Nil {
			t.Fatalf("get in db 2: %v", err)
		}
		mustDo(t, rc, "SELECT", "0")
		wantErr(t, rc, "ERR value is not an integer or out of range", "INCR", "k") // failing commands are shown
		mustDo(t, rc, "CONFIG", "GET", "maxmemory")                                // admin: hidden
		wantErr(t, rc, "ERR wrong number of arguments for 'get' command", "GET")   // rejected: hidden
		mustDo(t, rc, "PING")
		want := []string{
			`"set" "k" "v"`,
			`"get" "k"`,
			`"SELECT" "2"`,
			`"get" "k"`,
			`"SELECT" "0"`,
			`"INCR" "k"`,
			`"PING"`,
		}
		dbs := []string{"0", "0", "2", "2", "0", "0", "0"} // a SELECT line shows the db it selected, as Redis 7
		for i, w := range want {
			w = "[" + dbs[i] + " " + addr + "] " + w
			if got := readMonitorLine(t, r); got != w {
				t.Fatalf("RESP%d line %d: got %q, want %q", proto, i, got, w)
			}
		}
	}
}

func TestMonitorQuotesArguments(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
	addr := clientAddr(t, rc)
	_, r := startMonitor(t, s, "")
	val := "a \"q\" \\ \n\r\t\a\b\x00\x1f\x7f\xff é"
	if err := rc.Set(ctxT(t), "bin\x01", val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := `[0 ` + addr + `] "set" "bin\x01" "a \"q\" \\ \n\r\t\a\b\x00\x1f\x7f\xff \xc3\xa9"`
	if got := readMonitorLine(t, r); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestMonitorRepr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain ~!", `"plain ~!"`},
		{`"\`, `"\"\\"`},
		{"\n\r\t\a\b", `"\n\r\t\a\b"`},
		{"\x00\x1b\x7f\x80\xfe", `"\x00\x1b\x7f\x80\xfe"`},
	}
	for _, c := range cases {
		if got := string(appendRepr(nil, []byte(c.in))); got != c.want {
			t.Errorf("repr(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestMonitorLineTimestamp(t *testing.T) {
	cases := []struct {
		at   time.Time
		want string
	}{
		{time.Unix(1339518083, 107412000), "+1339518083.107412 [0 1.2.3.4:5] \"keys\" \"*\"\r\n"},
		{time.Unix(1339518083, 0), "+1339518083.000000 [0 1.2.3.4:5] \"keys\" \"*\"\r\n"},
		{time.Unix(1339518083, 5000), "+1339518083.000005 [0 1.2.3.4:5] \"keys\" \"*\"\r\n"},
		{time.Unix(1339518083, 12345999), "+1339518083.012345 [0 1.2.3.4:5] \"keys\" \"*\"\r\n"},
	}
	for _, c := range cases {
		got := string(appendMonitorLine(nil, c.at, 0, "1.2.3.4:5", [][]byte{[]byte("keys"), []byte("*")}))
		if got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestMonitorRedactsAuth(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RequirePass = "secret" })
	_, r := startMonitor(t, s, "secret")
	nc, cr := rawConn(t, s)
	cases := []struct{ send, reply, line string }{
		{"AUTH secret\r\n", "+OK", `"AUTH" "(redacted)"`},
		{"AUTH wrong\r\n", "-WRONGPASS invalid username-password pair or user is disabled.", `"AUTH" "(redacted)"`},
		{"AUTH default secret\r\n", "+OK", `"AUTH" "(redacted)" "(redacted)"`},
		{"HELLO 2 AUTH default secret SETNAME n\r\n", "*14", `"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n"`},
	}
	for _, c := range cases {
		send(t, nc, c.send)
		if got := readLine(t, cr); got != c.reply {
			t.Fatalf("%q: reply %q, want %q", c.send, got, c.reply)
		}
		got := readMonitorLine(t, r)
		if _, rest, ok := strings.Cut(got, "] "); !ok || rest != c.line {
			t.Fatalf("%q: line %q, want %q", c.send, got, c.line)
		}
	}
	for _, c := range []struct {
		args []string
		want []bool
	}{
		{[]string{"get", "k"}, nil},
		{[]string{"auth", "a", "b", "c"}, []bool{false, true, true, true}},
		{[]string{"hello", "3", "setname", "x", "auth", "u", "p"}, []bool{false, false, false, false, false, true, true}},
		{[]string{"hello", "3", "auth", "u"}, nil},
		{[]string{"hello"}, nil},
	} {
		args := make([][]byte, len(c.args))
		for i, a := range c.args {
			args[i] = []byte(a)
		}
		got := redactedArgs(args)
		if !slices.Equal(got, c.want) {
			t.Errorf("redactedArgs(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestMonitorClientCommands(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
	mustDo(t, rc, "PING")
	cases := []struct {
		name string
		last string // the command that ends monitoring
		want string // its reply
	}{
		{"quit", "QUIT", "+OK"},
		{"reset", "RESET", "+RESET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nc, r := startMonitor(t, s, "")
			waitMonitors(t, s, 1)
			waitClients(t, s, 2) // the monitor is still a client
			list, _ := mustDo(t, rc, "CLIENT", "LIST").(string)
			if !strings.Contains(list, "flags=O") || !strings.Contains(list, "cmd=monitor") {
				t.Fatalf("CLIENT LIST lacks the monitor:\n%s", list)
			}
			send(t, nc, "GET k\r\nPING\r\n"+c.last+"\r\n")
			for _, w := range []string{"-ERR Replica can't interact with the keyspace", "+PONG", c.want} {
				if got := readLine(t, r); got != w {
					t.Fatalf("got %q, want %q", got, w)
				}
			}
			expectClosed(t, r)
			waitMonitors(t, s, 0)
			waitClients(t, s, 1)
			mustDo(t, rc, "SET", "after", "1") // no monitor left to feed
		})
	}
}

func TestMonitorPipelinedAfterMonitor(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	send(t, nc, "SET a 1\r\nMONITOR\r\nGET a\r\nQUIT\r\n")
	for _, w := range []string{"+OK", "+OK", "-ERR Replica can't interact with the keyspace", "+OK"} {
		if got := readLine(t, r); got != w {
			t.Fatalf("got %q, want %q", got, w)
		}
	}
	expectClosed(t, r)
	waitClients(t, s, 0)
}

func TestMonitorKilledByClientKill(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
	mustDo(t, rc, "PING")
	_, r := startMonitor(t, s, "")
	waitMonitors(t, s, 1)
	if n := mustDo(t, rc, "CLIENT", "KILL", "SKIPME", "yes"); n != int64(1) {
		t.Fatalf("killed %v", n)
	}
	expectClosed(t, r)
	waitMonitors(t, s, 0)
	waitClients(t, s, 1)
}

// TestMonitorSlowReaderIsDropped: a monitor that never reads is dropped once
// its queue is full, and the server keeps serving.
func TestMonitorSlowReaderIsDropped(t *testing.T) {
	s := startServer(t, nil)
	s.monitors.queueLen.Store(8)
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
	mustDo(t, rc, "PING")
	nc, _ := startMonitor(t, s, "")
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	waitMonitors(t, s, 1)
	val := strings.Repeat("\xff", 16<<10) // 64 KiB per monitor line
	deadline := time.Now().Add(30 * time.Second)
	sent := 0
	for s.monitors.count.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("monitor not dropped after %d commands", sent)
		}
		if err := rc.Set(ctxT(t), "big", val, 0).Err(); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	waitClients(t, s, 1)
	if got := mustDo(t, rc, "PING"); got != "PONG" {
		t.Fatalf("PING after drop: %v", got)
	}
	t.Logf("dropped after %d commands", sent)
}

func TestMonitorCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := config.DefaultConfig()
	cfg.Port, cfg.Bind, cfg.LogLevel, cfg.MetricsAddr = 0, []string{"127.0.0.1"}, "warning", ""
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, r1 := startMonitor(t, s, "")
	_, r2 := startMonitor(t, s, "")
	nc, r := rawConn(t, s)
	send(t, nc, "SET k v\r\n")
	if got := readLine(t, r); got != "+OK" {
		t.Fatalf("got %q", got)
	}
	for _, mr := range []*bufio.Reader{r1, r2} {
		if got := readMonitorLine(t, mr); !strings.HasSuffix(got, `] "SET" "k" "v"`) {
			t.Fatalf("got %q", got)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, r1)
	expectClosed(t, r2)
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkMonitorLine(b *testing.B) {
	args := [][]byte{[]byte("set"), []byte("user:1234"), []byte("some value\n")}
	now := time.Now()
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendMonitorLine(buf[:0], now, 0, "127.0.0.1:50000", args)
	}
}

// TestMonitorShowsExecAfterItsCommands: MULTI, the queued commands as EXEC
// runs them, then EXEC, in Redis 7's order.
func TestMonitorShowsExecAfterItsCommands(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	conn := rc.Conn()
	defer conn.Close()
	mustDo(t, rc, "PING") // connections set up before MONITOR starts
	if err := conn.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, r := startMonitor(t, s, "")
	if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", 0)
		p.Incr(ctx, "n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{`"multi"`, `"set" "k" "v"`, `"incr" "n"`, `"exec"`} {
		got := readMonitorLine(t, r)
		if j := strings.Index(got, "] "); j < 0 || got[j+2:] != w {
			t.Fatalf("line %d: got %q, want %q", i, got, w)
		}
	}
}

// TestMonitorStartsAfterItsRequest: the monitor's reader starts only once
// the connection's goroutine is done with the MONITOR request, whose
// arguments point into the read buffer the reader refills: with every
// command slow-logged, the slowlog copies them after the handler returned
// (the race detector caught the reader overwriting them). Each round
// writes more requests right behind MONITOR, and the slowlog's entries
// must read "MONITOR" as sent.
func TestMonitorStartsAfterItsRequest(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	mustDo(t, rc, "CONFIG", "SET", "slowlog-log-slower-than", "0")
	for i := range 20 {
		nc, r := rawConn(t, s)
		send(t, nc, "MONITOR\r\n")
		send(t, nc, strings.Repeat("PING\r\n", 200)+"QUIT\r\n")
		for j := range 202 {
			want := "+PONG"
			if j == 0 || j == 201 {
				want = "+OK"
			}
			if got := readLine(t, r); got != want {
				t.Fatalf("round %d, reply %d: got %q, want %q", i, j, got, want)
			}
		}
		expectClosed(t, r)
	}
	entries, _ := mustDo(t, rc, "SLOWLOG", "GET", "128").([]any)
	monitors := 0
	for _, e := range entries {
		f, _ := e.([]any)
		if len(f) < 4 {
			continue
		}
		if args, _ := f[3].([]any); len(args) == 1 && args[0] == "MONITOR" {
			monitors++
		} else if len(args) > 0 && strings.EqualFold(fmt.Sprint(args[0]), "monitor") {
			t.Errorf("slowlog entry of MONITOR reads %q", args)
		}
	}
	if monitors == 0 {
		t.Errorf("no slowlog entry for MONITOR among %d", len(entries))
	}
}
