package server

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/cached/cached/protocol"
)

// Raw RESP3 and RESP2 replies of the hash and set commands whose reply types
// matter (maps, sets, nulls, nested pairs), compared byte for byte with
// redis-server's.

// hsRawReply reads one reply and returns its bytes.
func hsRawReply(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	out := line
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$', '!', '=':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := ioReadFull(r, buf); err != nil {
				t.Fatalf("read: %v", err)
			}
			out += string(buf)
		}
	case '*', '~', '>', '%', '|':
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range max(n, 0) {
			out += hsRawReply(t, r)
		}
	}
	return out
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// hsRawRun sends each command (space-separated) and returns the replies.
func hsRawRun(t *testing.T, nc net.Conn, cmds []string) []string {
	r := bufio.NewReader(nc)
	var out []string
	for _, c := range cmds {
		var args [][]byte
		for _, a := range strings.Fields(c) {
			args = append(args, []byte(a))
		}
		if _, err := nc.Write(protocol.AppendCommand(nil, args...)); err != nil {
			t.Fatal(err)
		}
		out = append(out, hsRawReply(t, r))
	}
	return out
}

func TestHashSetRawRepliesVsRedis(t *testing.T) {
	mk := strRealRedis(t)
	sock := mk(false, 0).Options().Addr
	s := startServer(t, nil)
	cmds := []string{
		"HSET h a 1 b 2", "HGETALL h", "HGETALL nokey", "HGET h zz", "HMGET h a zz", "HRANDFIELD nokey",
		"HRANDFIELD h 5 WITHVALUES", "HRANDFIELD h 0", "HRANDFIELD nokey 3 WITHVALUES", "HSCAN h 0", "HSCAN nokey 0",
		"HINCRBYFLOAT h f 1.5", "HKEYS nokey",
		"SADD s 3 1 2", "SMEMBERS s", "SMEMBERS nokey", "SISMEMBER s 1", "SMISMEMBER s 1 9", "SRANDMEMBER s 5",
		"SRANDMEMBER nokey", "SRANDMEMBER nokey 2", "SPOP nokey", "SPOP nokey 2", "SPOP s 0", "SINTER s s",
		"SUNION s nokey", "SDIFF nokey", "SSCAN s 0", "SINTERCARD 1 s", "SADD one x", "SPOP one 1",
		"SADD one x", "SPOP one",
	}
	for _, proto := range []string{"2", "3"} {
		theirs, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		pre := []string{"HELLO " + proto, "SELECT " + proto, "FLUSHDB"}
		hsRawRun(t, theirs, pre)
		hsRawRun(t, ours, pre)
		want, got := hsRawRun(t, theirs, cmds), hsRawRun(t, ours, cmds)
		for i := range cmds {
			if got[i] != want[i] {
				t.Errorf("RESP%s %s:\n cached %q\n  redis %q", proto, cmds[i], got[i], want[i])
			}
		}
		theirs.Close()
		ours.Close()
	}
}
