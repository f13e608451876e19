package server

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestScriptObservabilityVsRedis: MONITOR shows EVAL and then the
// script's commands from "lua", SLOWLOG logs both, commandstats counts
// both and keyspace notifications report the script's writes, as
// redis-server 7.0.15 does.
func TestScriptObservabilityVsRedis(t *testing.T) {
	s := startServer(t, nil)
	sock := listRealRedis(t)
	stamp := regexp.MustCompile(`^\+[0-9]+\.[0-9]+ \[0 [^\]]*\]`)
	for _, target := range []struct{ network, addr string }{{"tcp", s.Addr()}, {"unix", sock}} {
		c := listDialRaw(t, target.network, target.addr)
		mon := listDialRaw(t, target.network, target.addr)
		sub := listDialRaw(t, target.network, target.addr)
		c.do(t, "CONFIG", "RESETSTAT")
		c.do(t, "CONFIG", "SET", "notify-keyspace-events", "KEA")
		c.do(t, "CONFIG", "SET", "slowlog-log-slower-than", "0")
		c.do(t, "SLOWLOG", "RESET")
		sub.do(t, "SUBSCRIBE", "__keyevent@0__:set")
		mon.do(t, "MONITOR")
		src := "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])"
		if got := c.do(t, "EVAL", src, "1", "obs"); got != "$1\r\nv\r\n" {
			t.Fatalf("%s: EVAL: %q", target.network, got)
		}
		var lines []string
		for i := 0; i < 3; i++ {
			l, err := mon.r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.TrimSuffix(l, "\r\n"))
		}
		if !stamp.MatchString(lines[1]) || !strings.Contains(lines[1], `[0 lua] "set" "obs" "v"`) ||
			!strings.HasSuffix(lines[0], `"EVAL" "`+src+`" "1" "obs"`) || !strings.Contains(lines[2], `[0 lua] "get" "obs"`) {
			t.Errorf("%s: MONITOR lines %q", target.network, lines)
		}
		var msg bytes.Buffer
		if err := listReadReply(sub.r, &msg); err != nil || !strings.HasSuffix(msg.String(), "$3\r\nobs\r\n") {
			t.Errorf("%s: keyspace event %q %v", target.network, msg.String(), err)
		}
		stats := c.do(t, "INFO", "commandstats")
		for _, want := range []string{"cmdstat_set:calls=1,", "cmdstat_get:calls=1,", "cmdstat_eval:calls=1,"} {
			if !strings.Contains(stats, want) {
				t.Errorf("%s: commandstats lacks %q: %s", target.network, want, stats)
			}
		}
		slow := c.do(t, "SLOWLOG", "GET", "10")
		for _, want := range []string{"$3\r\nset\r\n$3\r\nobs\r\n$1\r\nv\r\n$3\r\n?:0\r\n", "$4\r\nEVAL\r\n"} {
			if !strings.Contains(slow, want) {
				t.Errorf("%s: SLOWLOG lacks %q: %q", target.network, want, slow)
			}
		}
		c.do(t, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
		c.do(t, "CONFIG", "SET", "notify-keyspace-events", "")
	}
}
