package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTTLFromCommandTime: a TTL set and read back in the same pipeline
// never reads more than was set (both come from each command's own clock
// reading), whether the two commands share a batch or not.
func TestTTLFromCommandTime(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	var b strings.Builder
	for i := range 200 {
		k := "ttl:" + strconv.Itoa(i)
		b.WriteString("SET " + k + " v PX 100\r\nPTTL " + k + "\r\nSET " + k + " v EX 1\r\nTTL " + k + "\r\n")
	}
	send(t, nc, b.String())
	for range 200 {
		for _, limit := range []int{100, 1} {
			if got := readLine(t, r); got != "+OK" {
				t.Fatalf("SET: %q", got)
			}
			line := readLine(t, r)
			n, err := strconv.Atoi(strings.TrimPrefix(line, ":"))
			if err != nil || n <= 0 && limit == 100 || n < 0 || n > limit {
				t.Fatalf("TTL read back %q, set %d", line, limit)
			}
		}
	}
}

// TestConnLargeAndSplitRequests: a request far larger than the read
// buffer, and requests cut into single bytes, are read whole.
func TestConnLargeAndSplitRequests(t *testing.T) {
	s := startServer(t, nil)
	nc, r := rawConn(t, s)
	big := strings.Repeat("x", 1<<20)
	send(t, nc, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$"+strconv.Itoa(len(big))+"\r\n"+big+"\r\n")
	if got := readLine(t, r); got != "+OK" {
		t.Fatalf("SET big: %q", got)
	}
	for _, c := range []byte("*2\r\n$6\r\nSTRLEN\r\n$3\r\nbig\r\nECHO \"a b\"\r\n") {
		send(t, nc, string([]byte{c}))
	}
	for _, want := range []string{":" + strconv.Itoa(len(big)), "$3", "a b"} {
		if got := readLine(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// inlineCases are inline request lines (after "RPUSH l ") whose splitting
// must match Redis's sdssplitargs.
var inlineCases = []string{
	`a b c`,
	`"a b" 'c d'`,
	`"\x41\x4g\n\t\"\\" z`,
	`'it\'s' "x"`,
	`a"b c" d`,
	`"unterminated`,
	`'bad'x`,
	`"bad"x`,
	"tab\tsep\vvt",
	`""`,
}

// TestInlineVsRedis sends the same inline lines to cached and to
// redis-server 7 and compares the raw replies byte for byte (the list
// built shows how each line was split; a quoting error closes both).
func TestInlineVsRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not installed: install Debian's redis-server (.ci/run does)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitUntil(t, func() bool { _, err := os.Stat(sock); return err == nil },
		func() string { return "redis-server socket" })
	s := startServer(t, nil)
	run := func(network, addr, line string) []byte {
		nc, err := net.DialTimeout(network, addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		in := "DEL l\r\nRPUSH l " + line + "\r\nLRANGE l 0 -1\r\nQUIT\r\n"
		if _, err := io.WriteString(nc, in); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(bufio.NewReader(nc))
		return out
	}
	for _, line := range inlineCases {
		want := run("unix", sock, line)
		got := run("tcp", s.Addr(), line)
		if !bytes.Equal(got, want) {
			t.Errorf("inline %q:\ncached %q\nredis  %q", line, got, want)
		}
	}
}
