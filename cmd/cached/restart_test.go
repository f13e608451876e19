package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBinaryRestartSameID kills a node of three with SIGKILL under
// continuous SET + WAIT 1 load and restarts it at once with the same
// arguments: the same cluster-node-id, RESP port and gossip port, as a
// supervisor restarts a crashed process. The restarted node has an empty
// store while the table still lists it as primary of its slots
// (docs/cluster.md "Restarts under an old ID"). From the kill until the
// cluster is back to three nodes, a reader sends GETs of acknowledged keys
// through a go-redis ClusterClient: none may miss or read a wrong value.
// Afterwards every acknowledged write reads back.
func TestBinaryRestartSameID(t *testing.T) { restartRun(t, restart{}) }

// TestBinaryRestartNewIDSameAddress is the same with a new node ID: what a
// supervisor does when cluster-node-id is not set (it is random by
// default), as the compose file's restart policy or a StatefulSet with
// stable addresses. The old ID is declared dead and its slots fail over
// meanwhile, while the survivors' replicas of them dial the old address
// and reach the new process: it must not make them drop their copies
// (docs/replication.md "A process that is not the slots' primary
// refuses").
func TestBinaryRestartNewIDSameAddress(t *testing.T) { restartRun(t, restart{newID: true}) }

// TestBinaryRestartSeedless is TestBinaryRestartNewIDSameAddress for the
// first node, started without cluster-join (as deploy/compose.yaml's
// cache-1 was before stop 46): restarted, it forms a cluster of its own until the others'
// newer table reaches it, and it must neither plan a table with them
// meanwhile nor take a survivor's replica handshake as their primary, so
// every acknowledged write reads back; reads it answers meanwhile miss
// and are only counted (docs/cluster.md, "A seedless node restarted at
// its address").
func TestBinaryRestartSeedless(t *testing.T) { restartRun(t, restart{first: true, newID: true}) }

// TestBinaryRestartSelfSeeded is TestBinaryRestartSeedless with every
// node's cluster-join listing all three gossip addresses, its own
// included, as deploy/compose.yaml and a Kubernetes headless service do:
// the first node formed the cluster by reaching only itself, and
// restarted it reaches the survivors too, so it joins their cluster
// instead of forming one of its own, and no read misses.
func TestBinaryRestartSelfSeeded(t *testing.T) {
	restartRun(t, restart{first: true, newID: true, seedAll: true})
}

// restart is which node restartRun kills and how it restarts it.
type restart struct {
	first   bool // the first node (the one that formed the cluster), not the last
	newID   bool // under a new node ID
	seedAll bool // every node's seeds are all nodes (startProcClusterArgs)
}

// restartRun is TestBinaryRestartSameID with the victim and its restart
// as rs says.
func restartRun(t *testing.T, rs restart) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pc, args := startProcClusterArgs(ctx, t, bin, 3, func(i int) []string {
		// verbose: a failure's output then shows each replica's syncs and
		// links (CI run 119 lost WAIT-acknowledged writes here once: the
		// restarted process routed by the old table it read before it
		// subscribed; docs/cluster.md "Restarts under an old ID").
		return []string{"--cluster-node-id", strings.Repeat(fmt.Sprint(i+1), 40), "--loglevel", "verbose"}
	}, rs.seedAll)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: pc.addrs})
	defer cc.Close()
	w, stopWriters := startAckWriters(ctx, t, cc)
	defer stopWriters()
	victim := len(pc.addrs) - 1
	if rs.first {
		victim = 0
	}
	owned := len(ownedSlots(ctx, t, pc.addrs[len(pc.addrs)-1-victim], pc.addrs[victim]))
	before := w.snapshot()
	r := &missReader{}
	rctx, stopReader := context.WithCancel(ctx)
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() { defer rwg.Done(); r.run(rctx, pc.addrs, before) }()
	defer func() { stopReader(); rwg.Wait() }()
	if err := pc.cmds[victim].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = pc.cmds[victim].Wait()
	killed := time.Now()
	again := args[victim]
	if rs.newID {
		again = slices.Clone(again)
		i := slices.Index(again, "--cluster-node-id")
		again[i+1] = strings.Repeat("9", 40)
	}
	pc.cmds[victim] = pc.startCmd(again)
	pc.waitOK(ctx, pc.addrs)
	back := time.Since(killed)
	// Reads go on against the settled cluster: 500 more answers.
	for settledReads := r.reads.Load(); r.reads.Load() < settledReads+500; {
		if ctx.Err() != nil {
			t.Fatalf("reads do not go on after the restart: %d answered", r.reads.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopReader()
	rwg.Wait()
	stopWriters()
	reads, misses, firstMiss := r.result()
	switch {
	case misses > 0 && rs.first && !rs.seedAll:
		// Started without seeds, the new process is a cluster of its own,
		// primary of every slot, until the others' table reaches it: reads
		// sent to it meanwhile miss (a documented limit: docs/cluster.md).
		t.Logf("%d of %d reads of keys acknowledged before the kill missed (the restarted seedless node's own cluster); first: %s", misses, reads, firstMiss)
	case misses > 0:
		t.Errorf("%d of %d reads of keys acknowledged before the kill missed or read a wrong value after it; first: %s", misses, reads, firstMiss)
	}
	acked := w.snapshot()
	lost := 0
	var firstLost string
	for k, v := range acked {
		got, err := readBack(ctx, cc, k)
		if err != nil || got != v {
			if lost++; firstLost == "" {
				firstLost = fmt.Sprintf("%s: %q, %v (want %q)", k, got, err, v)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost; first: %s", lost, len(acked), firstLost)
	}
	t.Logf("the victim was primary of %d slots; back to 3 ok nodes %v after the kill; %d reads of %d keys acknowledged before it, %d bad; %d acknowledged writes, %d lost; writer errors %d",
		owned, back.Round(time.Millisecond), reads, len(before), misses, len(acked), lost, w.errs)
}

// startCmd starts cached with args and registers its kill at cleanup.
func (pc *procCluster) startCmd(args []string) *exec.Cmd {
	pc.t.Helper()
	cmd := exec.Command(pc.bin, args...)
	cmd.Stdout, cmd.Stderr = newNodeOutput(args), newNodeOutput(args)
	if err := cmd.Start(); err != nil {
		pc.t.Fatal(err)
	}
	pc.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// startProc starts a node with args (whose second element is its port),
// waits until it accepts connections and adds it to the cluster.
func (pc *procCluster) startProc(args []string) {
	pc.t.Helper()
	cmd := pc.startCmd(args)
	addr := "127.0.0.1:" + args[1]
	dialPoll(pc.t, addr).Close()
	pc.cmds, pc.addrs = append(pc.cmds, cmd), append(pc.addrs, addr)
}

// snapshot copies the acknowledged writes.
func (w *ackWriter) snapshot() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]string, len(w.acked))
	for k, v := range w.acked {
		out[k] = v
	}
	return out
}

// missReader GETs keys of want at random through a ClusterClient until
// its context ends, counting the answers that are a miss or another value
// (an error, such as CLUSTERDOWN while a slot fails over, is not an answer).
type missReader struct {
	reads, misses atomic.Int64
	mu            sync.Mutex
	first         string
}

func (r *missReader) run(ctx context.Context, addrs []string, want map[string]string) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	defer cc.Close()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for ctx.Err() == nil {
		k := keys[rand.IntN(len(keys))]
		v, err := cc.Get(ctx, k).Result()
		switch {
		case err == nil && v == want[k]:
			r.reads.Add(1)
		case err == nil || err == redis.Nil:
			r.reads.Add(1)
			r.misses.Add(1)
			r.mu.Lock()
			if r.first == "" {
				r.first = fmt.Sprintf("GET %s: %q, %v (want %q)", k, v, err, want[k])
			}
			r.mu.Unlock()
		default:
			cc.ReloadState(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

func (r *missReader) result() (reads, misses int64, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads.Load(), r.misses.Load(), r.first
}

// readBack reads key through cc, asking again for 30 s while the answer
// is an error (a slot still failing over).
func readBack(ctx context.Context, cc *redis.ClusterClient, key string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := cc.Get(ctx, key).Result()
		if err == nil || err == redis.Nil || time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		cc.ReloadState(ctx)
		time.Sleep(20 * time.Millisecond)
	}
}

// nodeOutput is a started node's stdout or stderr: the test's stderr, each
// line led by the node's RESP port (args[1]), so that a failure's output
// says which process logged what. exec.Cmd copies the pipe to it on a
// goroutine of its own, in chunks that need not end at a line's end: the
// unfinished line waits for the rest.
type nodeOutput struct {
	prefix []byte
	part   []byte // an unfinished line
}

func newNodeOutput(args []string) *nodeOutput {
	port := "?"
	if len(args) > 1 {
		port = args[1]
	}
	return &nodeOutput{prefix: []byte("[node :" + port + "] ")}
}

// nodeOutputMu keeps the nodes' lines whole on the test's stderr.
var nodeOutputMu sync.Mutex

func (w *nodeOutput) Write(b []byte) (int, error) {
	var out []byte
	rest := b
	for {
		line, after, full := bytes.Cut(rest, []byte{'\n'})
		if !full {
			w.part = append(w.part, line...)
			break
		}
		out = append(append(append(append(out, w.prefix...), w.part...), line...), '\n')
		w.part = w.part[:0]
		rest = after
	}
	if len(out) > 0 {
		nodeOutputMu.Lock()
		_, _ = os.Stderr.Write(out)
		nodeOutputMu.Unlock()
	}
	return len(b), nil
}
