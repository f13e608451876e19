package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBinaryClusterFrozenNodeNoStaleHits runs three cached processes as a
// cluster, writes keys, freezes one node with SIGSTOP for 5 s (the other two
// re-plan its slots), writes new values through the others meanwhile, thaws
// it with SIGCONT and then reads every key through every node: each node
// answers the new value, a miss or MOVED, never the value from before the
// freeze.
func TestBinaryClusterFrozenNodeNoStaleHits(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cached")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	logs := map[string]string{} // node address -> its log file, shown when the test fails
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for addr, path := range logs {
			out, _ := os.ReadFile(path)
			t.Logf("log of %s:\n%s", addr, out)
		}
	})
	start := func(seed string) (*exec.Cmd, string) {
		port, gport := freePort(t), freePort(t)
		args := []string{"--port", port, "--cluster-enabled", "yes", "--cluster-port", gport,
			"--loglevel", "notice", "--metrics-addr", ""}
		if seed != "" {
			args = append(args, "--cluster-join", seed)
		}
		cmd := exec.Command(bin, args...)
		logf, err := os.Create(filepath.Join(t.TempDir(), "node-"+port+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = logf.Close() })
		cmd.Stdout, cmd.Stderr = logf, logf
		logs["127.0.0.1:"+port] = logf.Name()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		dialPoll(t, "127.0.0.1:"+port).Close()
		return cmd, "127.0.0.1:" + port
	}
	client := func(addr string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 5 * time.Second})
		t.Cleanup(func() { _ = rc.Close() })
		return rc
	}
	// state returns a node's cluster_state and member count ("" if it does not answer).
	state := func(rc *redis.Client) (string, int) {
		info, err := rc.ClusterInfo(ctx).Result()
		if err != nil {
			return "", 0
		}
		var st string
		var known int
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "cluster_state:"); ok {
				st = v
			}
			if v, ok := strings.CutPrefix(l, "cluster_known_nodes:"); ok {
				_, _ = fmt.Sscan(v, &known)
			}
		}
		return st, known
	}
	waitOK := func(rcs []*redis.Client, members int, what string) {
		t.Helper()
		for _, rc := range rcs {
			for {
				st, n := state(rc)
				if st == "ok" && n == members {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("%s: %s is %q with %d members", what, rc.Options().Addr, st, n)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	_, a0 := start("")
	seed := gossipSeed(t, ctx, a0)
	_, a1 := start(seed)
	frozen, a2 := start(seed)
	rcs := []*redis.Client{client(a0), client(a1), client(a2)}
	waitOK(rcs, 3, "three nodes")

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{a0, a1}, MaxRedirects: 8})
	defer cc.Close()
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("frozen:%d", i)
		if err := cc.Set(ctx, keys[i], "old", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", keys[i], err)
		}
	}

	if err := frozen.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	waitOK(rcs[:2], 2, "the two others re-plan without the frozen node")
	cc.ReloadState(ctx)
	for _, k := range keys {
		for try := 0; ; try++ { // the client's slot map catches up through MOVED
			err := cc.Set(ctx, k, "new", 0).Err()
			if err == nil {
				break
			}
			if ctx.Err() != nil || try > 50 {
				t.Fatalf("SET %s during the freeze: %v", k, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	select { // the freeze lasts 5 s
	case <-time.After(time.Until(stopped.Add(5 * time.Second))):
	case <-ctx.Done():
		t.Fatal("deadline")
	}
	if err := frozen.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitOK(rcs, 3, "one cluster again after the thaw")

	fresh := 0
	for _, rc := range rcs {
		for _, k := range keys {
			got, err := rc.Get(ctx, k).Result()
			switch {
			case err == nil && got == "old":
				t.Fatalf("GET %s via %s: stale value from before the freeze", k, rc.Options().Addr)
			case err == nil && got == "new":
				fresh++
			case err == nil:
				t.Fatalf("GET %s via %s = %q", k, rc.Options().Addr, got)
			case errors.Is(err, redis.Nil), strings.HasPrefix(err.Error(), "MOVED "):
			default:
				t.Fatalf("GET %s via %s: %v", k, rc.Options().Addr, err)
			}
		}
	}
	if fresh == 0 {
		t.Fatal("no node served a new value")
	}
	t.Logf("after the thaw: %d of %d keys read with the new value at their owner", fresh, len(keys))
}
