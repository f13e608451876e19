package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseClusterArgs(t *testing.T) {
	cfg, _, err := parseArgs([]string{"--port", "7000", "--cluster-enabled", "yes", "--cluster-join", "10.0.0.1:17000,10.0.0.2:17000",
		"--cluster-route", "proxy", "--cluster-node-id", strings.Repeat("ab", 20), "--cluster-config-file", "nodes-7000.conf",
		"--cluster-node-timeout", "5000"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Cluster.Enabled || cfg.Cluster.Route != "proxy" || len(cfg.Cluster.Join) != 2 || cfg.Cluster.Join[1] != "10.0.0.2:17000" {
		t.Fatalf("cluster config %+v", cfg.Cluster)
	}
	for k, want := range map[string]string{"cluster-enabled": "yes", "cluster-join": "10.0.0.1:17000,10.0.0.2:17000",
		"cluster-port": "0", "cluster-probe-interval": "200", "cluster-config-file": "nodes-7000.conf"} {
		if got, _ := cfg.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, bad := range [][]string{
		{"--cluster-enabled", "maybe"}, {"--cluster-join", "nohost"}, {"--cluster-route", "teleport"},
		{"--cluster-node-id", "xyz"}, {"--cluster-secret", "short"},
	} {
		if _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestBinaryClusterNodeKilled runs three cached processes as a cluster,
// kills one with SIGKILL (no leave message) and checks that the survivors
// drop it from CLUSTER NODES, then that a new node appears.
func TestBinaryClusterNodeKilled(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cached")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	type proc struct {
		cmd  *exec.Cmd
		addr string
	}
	start := func(seed string) proc {
		port, gport := freePort(t), freePort(t)
		args := []string{"--port", port, "--cluster-enabled", "yes", "--cluster-port", gport,
			"--loglevel", "warning", "--metrics-addr", ""}
		if seed != "" {
			args = append(args, "--cluster-join", seed)
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		dialPoll(t, "127.0.0.1:"+port).Close()
		return proc{cmd, "127.0.0.1:" + port}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodeCount := func(addr string) int {
		rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer rc.Close()
		text, err := rc.ClusterNodes(ctx).Result()
		if err != nil {
			return -1
		}
		return len(strings.Split(strings.TrimSpace(text), "\n"))
	}
	waitAll := func(ps []proc, want int) {
		t.Helper()
		for _, p := range ps {
			for nodeCount(p.addr) != want {
				if ctx.Err() != nil {
					t.Fatalf("%s sees %d nodes, want %d", p.addr, nodeCount(p.addr), want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	first := start("")
	seed := gossipSeed(t, ctx, first.addr)
	ps := []proc{first, start(seed), start(seed)}
	waitAll(ps, 3)
	_ = ps[1].cmd.Process.Kill()
	began := time.Now()
	waitAll([]proc{ps[0], ps[2]}, 2)
	t.Logf("killed node gone from every survivor's CLUSTER NODES after %v", time.Since(began))
	late := start(seed)
	waitAll([]proc{ps[0], ps[2], late}, 3)
}

// gossipSeed reads a node's gossip address from its CLUSTER NODES line (ip:port@cport).
func gossipSeed(t *testing.T, ctx context.Context, addr string) string {
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	text, err := rc.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(text)
	host, cport, _ := strings.Cut(f[1], "@")
	return host[:strings.LastIndexByte(host, ':')] + ":" + cport
}
