package server

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// redisTool returns the path of a redis-tools binary. CI installs Debian's
// redis-tools (.ci/run); a missing binary fails the test rather than hiding it.
func redisTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's redis-tools (.ci/run does)", name)
	}
	return p
}

func hostPort(t *testing.T, s *Server) (string, string) {
	h, p, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestRedisCLIScriptedSession feeds commands to redis-cli on stdin, as a
// person piping a script would, and checks its printed replies.
func TestRedisCLIScriptedSession(t *testing.T) {
	cli := redisTool(t, "redis-cli")
	s := startServer(t, nil)
	h, p := hostPort(t, s)
	script := strings.Join([]string{
		"PING",
		"SET counter 10",
		"INCRBY counter 5",
		"GET counter",
		"SET greeting \"hello world\" EX 100",
		"GET greeting",
		"TTL greeting",
		"DEL counter greeting missing",
		"GET counter",
		"NOSUCHCOMMAND x",
		"SELECT 99",
	}, "\n") + "\n"
	cmd := exec.Command(cli, "-h", h, "-p", p)
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"PONG",
		"OK",
		"15",
		"15",
		"OK",
		"hello world",
		"100",
		"2",
		"",
		"ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' ",
		"", // redis-cli prints an empty line after an error
		"ERR DB index is out of range",
		"",
	}, "\n") + "\n"
	if string(out) != want {
		t.Fatalf("redis-cli printed:\n%s\nwant:\n%s", out, want)
	}
}

// TestRedisCLIPipeMassInsert loads 100k keys with redis-cli --pipe.
func TestRedisCLIPipeMassInsert(t *testing.T) {
	cli := redisTool(t, "redis-cli")
	s := startServer(t, nil)
	h, p := hostPort(t, s)
	const n = 100000
	var in bytes.Buffer
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("key:%d", i), fmt.Sprintf("value:%d", i)
		fmt.Fprintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	cmd := exec.Command(cli, "-h", h, "-p", p, "--pipe")
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe printed:\n%s", out)
	}
	rc := newClient(t, s, nil)
	if got := mustDo(t, rc, "DBSIZE"); got != int64(n) {
		t.Fatalf("DBSIZE = %v, want %d", got, n)
	}
	if got := mustDo(t, rc, "GET", "key:77777"); got != "value:77777" {
		t.Fatalf("GET key:77777 = %v", got)
	}
}

// TestRedisBenchmarkRuns drives the node with redis-benchmark (a few
// thousand requests; no timing is asserted) and checks every SET landed.
func TestRedisBenchmarkRuns(t *testing.T) {
	rb := redisTool(t, "redis-benchmark")
	s := startServer(t, nil)
	h, p := hostPort(t, s)
	cmd := exec.Command(rb, "-h", h, "-p", p, "-t", "set,get,incr,mset,ping", "-n", "5000", "-c", "10", "-P", "4", "-q", "-r", "1000")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	for _, test := range []string{"SET:", "GET:", "INCR:", "MSET (10 keys):", "PING_INLINE:", "PING_MBULK:"} {
		if !strings.Contains(string(out), test) {
			t.Errorf("redis-benchmark output lacks %q:\n%s", test, out)
		}
	}
	if strings.Contains(strings.ToLower(string(out)), "error") {
		t.Fatalf("redis-benchmark saw errors:\n%s", out)
	}
	rc := newClient(t, s, nil)
	if n := mustDo(t, rc, "DBSIZE"); n.(int64) < 100 {
		t.Fatalf("DBSIZE = %v after redis-benchmark", n)
	}
}
