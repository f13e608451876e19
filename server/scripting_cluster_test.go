package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestScriptCluster: in cluster mode a script's declared keys route it
// (MOVED, CROSSSLOT), the keys it touches must be on this node, and a
// script with a shebang must stay in one slot unless it declares
// allow-cross-slot-keys.
func TestScriptCluster(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	s := nodes[0]
	mine, other := keysFor(t, s, "k")
	mine2 := ""
	v := s.cl.view.Load()
	for i := 0; mine2 == ""; i++ {
		k := "m" + strconv.Itoa(i)
		if v.t.OwnerIndex(keySlot(k)) == v.self && keySlot(k) != keySlot(mine) {
			mine2 = k
		}
	}
	c := listDialRaw(t, "tcp", s.Addr())
	ownerAddr := ownerOf(nodes, other).Addr()
	sha := func(src string) string { return sha1Hex(src) }
	get2 := "#!lua\nredis.call('get', KEYS[1]) return redis.call('get', ARGV[1])"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"EVAL", "return redis.call('get', KEYS[1])", "1", other},
			fmt.Sprintf("-MOVED %d %s\r\n", keySlot(other), ownerAddr)},
		{[]string{"EVAL", "return 1", "2", mine, other}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"EVAL", "return redis.call('get', ARGV[1])", "0", other},
			"-ERR Script attempted to access a non local key in a cluster node script script: " +
				sha("return redis.call('get', ARGV[1])") + ", on @user_script:1.\r\n"},
		{[]string{"EVAL", get2, "1", mine, mine2},
			"-ERR Script attempted to access keys that do not hash to the same slot script: " + sha(get2) + ", on @user_script:2.\r\n"},
		{[]string{"EVAL", strings.Replace(get2, "#!lua", "#!lua flags=allow-cross-slot-keys", 1), "1", mine, mine2}, "$-1\r\n"},
		{[]string{"EVAL", "redis.call('get', KEYS[1]) return redis.call('get', ARGV[1])", "1", mine, mine2}, "$-1\r\n"},
		{[]string{"EVAL", "#!lua flags=no-cluster\nreturn 1", "0"}, "-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n"},
		{[]string{"EVAL", "return redis.call('set', KEYS[1], 'v')", "1", mine}, "+OK\r\n"},
	} {
		if got := c.do(t, tc.args...); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestScriptClusterProxy: with cluster-route proxy, EVAL on a key of
// another node is forwarded whole and runs there.
func TestScriptClusterProxy(t *testing.T) {
	nodes := startCluster(t, 2, proxyMode)
	s := nodes[0]
	_, other := keysFor(t, s, "px")
	c := listDialRaw(t, "tcp", s.Addr())
	src := "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])"
	if got := c.do(t, "EVAL", src, "1", other, "v1"); got != "$2\r\nv1\r\n" {
		t.Fatalf("forwarded EVAL: %q", got)
	}
	owner := listDialRaw(t, "tcp", ownerOf(nodes, other).Addr())
	if got := owner.do(t, "GET", other); got != "$2\r\nv1\r\n" {
		t.Fatalf("GET on the owner: %q", got)
	}
	// The owner has the script cached now (EVAL ran there); this node
	// forwards EVALSHA too.
	if got := c.do(t, "EVALSHA", sha1Hex(src), "1", other, "v2"); got != "$2\r\nv2\r\n" {
		t.Fatalf("forwarded EVALSHA: %q", got)
	}
}
