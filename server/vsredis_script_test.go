package server

import (
	"strconv"
	"strings"
	"testing"
)

// sameAsRedis runs script once against a fresh redis-server (over its Unix
// socket) and once against a fresh cached node, with dial opening a
// connection to the server at hand and step sending a command and noting
// its reply; note adds a line of its own. It fails the test unless the two
// transcripts are the same, and returns cached's.
func sameAsRedis(t *testing.T, script func(dial func() *listRaw, step func(c *listRaw, args ...string), note func(string))) []string {
	t.Helper()
	sock := listRealRedis(t)
	s := startServer(t, nil)
	var got [2][]string
	for i, dial := range []func() *listRaw{
		func() *listRaw { return listDialRaw(t, "unix", sock) },
		func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) },
	} {
		note := func(line string) { got[i] = append(got[i], line) }
		script(dial, func(c *listRaw, args ...string) {
			note(strings.Join(args, " ") + " -> " + c.do(t, args...))
		}, note)
	}
	if strings.Join(got[0], "\n") != strings.Join(got[1], "\n") {
		t.Fatalf("redis-server:\n%s\ncached:\n%s", strings.Join(got[0], "\n"), strings.Join(got[1], "\n"))
	}
	return got[1]
}

// setExpired sets key with a 20 ms TTL through c and waits, by the
// server's clock, until it has passed.
func setExpired(t *testing.T, c *listRaw, key string) {
	t.Helper()
	start := serverTimeMs(t, c)
	c.do(t, "SET", key, "v", "PX", "20")
	waitUntil(t, func() bool { return serverTimeMs(t, c) > start+40 }, func() string { return key + "'s TTL to pass" })
}

// serverTimeMs is the server's clock (TIME) in Unix ms.
func serverTimeMs(t *testing.T, c *listRaw) int64 {
	t.Helper()
	parts := strings.Split(c.do(t, "TIME"), "\r\n") // *2 $n secs $n usecs
	if len(parts) < 5 {
		t.Fatalf("TIME reply %q", parts)
	}
	sec, err1 := strconv.ParseInt(parts[2], 10, 64)
	usec, err2 := strconv.ParseInt(parts[4], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("TIME reply %q", parts)
	}
	return sec*1000 + usec/1000
}
