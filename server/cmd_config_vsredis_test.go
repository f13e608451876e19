package server

import (
	"strings"
	"testing"

	"github.com/cached/cached/server/config"
)

// TestConfigGetPatternsVsRedis compares CONFIG GET with several names and
// patterns with redis-server 7: the names listed (over the parameters both
// servers have), each once, spelled as Redis spells them.
func TestConfigGetPatternsVsRedis(t *testing.T) {
	p := newVsRedisPair(t, false)
	known := map[string]bool{}
	for _, n := range config.Names() {
		known[n] = true
	}
	keys := func(raw string) (map[string]int, []string) {
		m := map[string]int{}
		var order []string
		vs := respValue(raw).([]any)
		for i := 0; i+1 < len(vs); i += 2 {
			m[vs[i].(string)]++
			order = append(order, vs[i].(string))
		}
		return m, order
	}
	for _, line := range [][]string{
		{"maxmemory", "port", "bind"}, {"MAXMEMORY", "maxmemory"}, {"maxmemory", "MAXMEMORY"},
		{"max*", "maxmemory"}, {"maxmemory", "max*"}, {"maxmemory-policy", "maxmemory*", "*policy"},
		{"nosuch", "port"}, {"nosuch"}, {"save", "appendonly", "databases", "databases"},
		{"slaveof", "replicaof"}, {"*-max-*"}, {"timeout", "Timeout", "TIMEOUT"},
	} {
		o, r := p.both(t, append([]string{"CONFIG", "GET"}, line...)...)
		om, oorder := keys(o)
		rm, _ := keys(r)
		for n, cnt := range om {
			if cnt != 1 {
				t.Errorf("CONFIG GET %q: cached lists %s %d times", line, n, cnt)
			}
			if rm[n] == 0 && p.theirs.do(t, "CONFIG", "GET", n) != "*0\r\n" {
				t.Errorf("CONFIG GET %q: cached lists %s, redis does not", line, n)
			}
		}
		for n := range rm {
			if known[strings.ToLower(n)] && om[n] == 0 {
				t.Errorf("CONFIG GET %q: redis lists %s, cached does not (cached: %v)", line, n, oorder)
			}
		}
		if line[0] == "maxmemory" && len(om) == 0 {
			t.Errorf("CONFIG GET %q: nothing listed", line)
		}
	}
}
