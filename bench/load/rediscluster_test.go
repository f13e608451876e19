package load

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// startRedisCluster starts three redis-server cluster nodes, splits the slots
// evenly and waits until every node reports cluster_state:ok.
func startRedisCluster(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var addrs, buses []string
	for i := 0; i < 3; i++ {
		// The bus port is given (cluster-port), not port+10000, which
		// would fall in the kernel's ephemeral range (internal/freeport).
		p, bus := freePort(t), freePort(t)
		cmd := exec.Command("/usr/bin/redis-server", "--port", strconv.Itoa(p), "--bind", "127.0.0.1",
			"--cluster-port", strconv.Itoa(bus),
			"--save", "", "--appendonly", "no", "--cluster-enabled", "yes", "--dir", dir,
			"--cluster-config-file", "nodes-"+strconv.Itoa(p)+".conf")
		if _, err := os.Stat(cmd.Path); err != nil {
			t.Fatalf("redis-server is required (.ci/run installs it): %v", err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := "127.0.0.1:" + strconv.Itoa(p)
		waitReady(t, addr)
		addrs, buses = append(addrs, addr), append(buses, strconv.Itoa(bus))
	}
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, a := range addrs {
		do(t, a, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(ranges[i][0]), strconv.Itoa(ranges[i][1]))
	}
	for i, a := range addrs[1:] {
		host, port, _ := net.SplitHostPort(a)
		do(t, addrs[0], "CLUSTER", "MEET", host, port, buses[i+1])
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for !strings.Contains(do(t, a, "CLUSTER", "INFO").String(), "cluster_state:ok") ||
			len(do(t, a, "CLUSTER", "SLOTS").Elems) != 3 {
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not converge: %s", do(t, a, "CLUSTER", "INFO").String())
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	}
	return addrs
}

// TestRedisCluster runs against a real three-node Redis Cluster: keys land
// on their slots' owners, and moving a slot mid-run is followed via MOVED
// and a reloaded map.
func TestRedisCluster(t *testing.T) {
	addrs := startRedisCluster(t)
	// CLUSTER SHARDS (the fallback) must give the same map as CLUSTER SLOTS.
	fromSlots, err := parseSlots(do(t, addrs[0], "CLUSTER", "SLOTS"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fromShards, err := parseShards(do(t, addrs[0], "CLUSTER", "SHARDS"), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < protocol.Slots; s += 97 {
		if a, b := fromSlots.addrs[fromSlots.owner[s]], fromShards.addrs[fromShards.owner[s]]; a != b {
			t.Fatalf("slot %d: CLUSTER SLOTS says %s, CLUSTER SHARDS %s", s, a, b)
		}
	}

	cfg := testConfig(addrs[0])
	cfg.Cluster, cfg.Keyspace, cfg.Preload, cfg.Requests = true, 3000, true, 3000
	r := mustRun(t, cfg)
	if r.Total.Errors != 0 || r.Preload.Errors != 0 || len(r.Errors) != 0 {
		t.Fatalf("errors %v (preload %+v)", r.Errors, r.Preload)
	}
	var sum int64
	for _, a := range addrs {
		n := do(t, a, "DBSIZE").Int
		if n < 800 {
			t.Errorf("%s holds %d keys, want about 1000", a, n)
		}
		sum += n
	}
	if sum != 3000 {
		t.Errorf("cluster holds %d keys, want 3000", sum)
	}
	for _, a := range addrs {
		do(t, a, "FLUSHALL")
		do(t, a, "CONFIG", "RESETSTAT") // the polls below look for the next run's GETs
	}

	// Move key:0's slot to another node while a GET-only run is going.
	slot := protocol.KeySlot([]byte("key:0"))
	owner := 0
	for slot > []int{5460, 10922, 16383}[owner] {
		owner++
	}
	target := addrs[(owner+1)%3]
	targetID := do(t, target, "CLUSTER", "MYID").String()
	// The run lasts until GETs reached the slot's new owner (then it is
	// cancelled), not a fixed second: on a loaded machine the move came
	// after a 1 s run had ended, and nothing was redirected.
	cfg.Preload, cfg.Requests, cfg.Keyspace = false, 0, 20
	cfg.Duration, cfg.Commands = time.Minute, RatioCommands(0, 1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *Result, 1)
	errc := make(chan error, 1)
	go func() {
		r, err := Run(ctx, cfg)
		errc <- err
		done <- r
	}()
	for start := time.Now(); !strings.Contains(do(t, addrs[owner], "INFO", "commandstats").String(), "cmdstat_get:"); {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the run did not start")
		}
		time.Sleep(10 * time.Millisecond) // polling until the run has started
	}
	// In the order Redis's resharding procedure gives: the new owner
	// first, then the old one, then the rest. In address order the old
	// owner could point at a target that did not know yet and pointed
	// back, and a GET bounced past the client's redirect limit
	// (redirect-loop) before the next SETSLOT landed.
	for _, a := range []string{target, addrs[owner], addrs[(owner+2)%3]} {
		do(t, a, "CLUSTER", "SETSLOT", strconv.Itoa(slot), "NODE", targetID)
	}
	// Until the old owner answered MOVED and the new owner then served
	// another 100 GETs (the map reload comes after the first MOVED).
	stat := func(addr, section string, re *regexp.Regexp) int {
		if m := re.FindStringSubmatch(do(t, addr, "INFO", section).String()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	moved, gets := regexp.MustCompile(`errorstat_MOVED:count=(\d+)`), regexp.MustCompile(`cmdstat_get:calls=(\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for stat(addrs[owner], "errorstats", moved) == 0 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("the old owner never answered MOVED")
		}
		time.Sleep(10 * time.Millisecond) // polling
	}
	for base := stat(target, "commandstats", gets); stat(target, "commandstats", gets) < base+100; {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("the new owner served no more GETs after the MOVED")
		}
		time.Sleep(10 * time.Millisecond) // polling
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	r = <-done
	// While the nodes learn of the move one by one, a request may bounce
	// more than once, so there can be more MOVED replies than redirected
	// requests.
	if r.Total.Errors != 0 || r.Redirects == 0 || r.Redirects > r.Errors["MOVED"] || r.Refreshes < 2 {
		t.Errorf("after moving slot %d: errors %v, redirects %d, map loads %d; want MOVED followed and the map reloaded",
			slot, r.Errors, r.Redirects, r.Refreshes)
	}
	t.Logf("%d requests, MOVED %d, map loads %d", r.Total.Requests, r.Errors["MOVED"], r.Refreshes)
}
