package check

import (
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/internal/freeport"
	"github.com/cached/cached/protocol"
)

// TestComposeClusterRuns runs the compose stack's three cached commands
// with the image's binary and config on loopback, as compose would start
// them (the founder first), with only the addresses localised: bind and
// announce 127.0.0.1, RESP and gossip ports chosen beforehand (every seed
// service:port becomes its node's gossip address, and a restarted node
// keeps its addresses as under compose), metrics ports by the kernel. The nodes must form one cluster, route keys through any
// node (cluster-route proxy) and pass `cached healthcheck --ready`. Then
// the founder is stopped and started again as the restart policy would
// (a new random node ID at the same address): it must join the others
// rather than form a cluster of its own, so a key written before never
// reads as missing through it. All stop cleanly on SIGTERM.
func TestComposeClusterRuns(t *testing.T) {
	p, err := LoadCompose(filepath.Join(Root, "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, s := range p.Services {
		if len(s.Command) > 0 && s.Command[0] == "/etc/cached/cached.conf" {
			names = append(names, name)
		}
	}
	if len(names) != 3 {
		t.Fatalf("%d nodes, want 3", len(names))
	}
	// The founder (waiting for no other node) first, as depends_on orders
	// them.
	slices.SortFunc(names, func(a, b string) int {
		return boolInt(len(p.Services[a].DependsOn) > 0) - boolInt(len(p.Services[b].DependsOn) > 0)
	})
	gossip := map[string]string{} // service → gossip address
	for _, name := range names {
		gossip[name] = "127.0.0.1:" + freePort(t)
	}
	bin := buildStatic(t)
	args := make([][]string, len(names))
	nodes := make([]nodeAddrs, len(names))
	stops := make([]func() error, len(names))
	start := func(i int) {
		na, stop := startBinary(t, bin, args[i]...)
		if na.resp == "" || na.gossip != gossip[names[i]] {
			t.Fatalf("%s: addresses %+v, want gossip %s", names[i], na, gossip[names[i]])
		}
		nodes[i], stops[i] = na, stop
	}
	for i, name := range names {
		_, gport, _ := net.SplitHostPort(gossip[name])
		a := localArgs(t, p.Services[name].Command[1:], gossip)
		args[i] = append(append([]string{filepath.Join(Root, imageConf)}, a...),
			"--bind", "127.0.0.1", "--port", freePort(t), "--cluster-port", gport, "--metrics-addr", "127.0.0.1:0")
		start(i)
	}
	for _, n := range nodes {
		waitKnownNodes(t, n.resp, 3)
	}
	if v := doRESP(t, nodes[0].resp, "SET", "greeting", "hello"); v.String() != "OK" {
		t.Fatalf("SET through %s: %q", nodes[0].resp, v.String())
	}
	for _, n := range nodes {
		if v := doRESP(t, n.resp, "GET", "greeting"); v.String() != "hello" {
			t.Errorf("GET through %s: %q, want hello (proxy routing)", n.resp, v.String())
		}
		waitReady(t, bin, n.metrics)
	}

	if err := stops[0](); err != nil {
		t.Errorf("%s: exit after SIGTERM: %v", names[0], err)
	}
	start(0)
	// Until it is one of three again, every GET through the restarted
	// founder is answered by the cluster (hello) or refused (an error such
	// as CLUSTERDOWN while it joins), never a miss from a cluster of its
	// own.
	c, err := protocol.Dial(nodes[0].resp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	misses := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		v, err := c.DoStrings("GET", "greeting")
		if err == nil && v.Kind == protocol.KindNil {
			misses++
		}
		info := doRESP(t, nodes[0].resp, "CLUSTER", "INFO").String()
		if strings.Contains(info, "cluster_state:ok\r\n") && strings.Contains(info, "cluster_known_nodes:3\r\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted %s after 30 s: %q", names[0], info)
		}
	}
	if misses > 0 {
		t.Errorf("the restarted founder answered GET greeting with nil %d times: it formed a cluster of its own", misses)
	}
	for _, n := range nodes {
		waitKnownNodes(t, n.resp, 3)
		if v := doRESP(t, n.resp, "GET", "greeting"); v.String() != "hello" {
			t.Errorf("GET through %s after the restart: %q, want hello", n.resp, v.String())
		}
	}
	waitReady(t, bin, nodes[0].metrics)
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", names[i], err)
		}
	}
}

// waitReady polls `cached healthcheck --ready` against a node's metrics
// address for up to 30 s: a joining node is ready once it holds the slots
// it serves (its first staged slots flipped to it).
func waitReady(t *testing.T, bin, metrics string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(bin, "healthcheck", "--ready", "--metrics-addr", metrics).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("healthcheck --ready %s: %v %s", metrics, err, out)
			return
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// localArgs rewrites a compose command's flags for loopback: the announced
// address becomes 127.0.0.1, each seed service:port its gossip address.
func localArgs(t *testing.T, args []string, gossip map[string]string) []string {
	t.Helper()
	out := slices.Clone(args)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "--cluster-announce-ip":
			out[i+1] = "127.0.0.1"
		case "--cluster-join":
			var seeds []string
			for _, s := range strings.Split(out[i+1], ",") {
				host, _, err := net.SplitHostPort(s)
				if err != nil || gossip[host] == "" {
					t.Fatalf("seed %q is not a node of the stack", s)
				}
				seeds = append(seeds, gossip[host])
			}
			out[i+1] = strings.Join(seeds, ",")
		}
	}
	return out
}

// doRESP sends one command to addr and returns the reply.
func doRESP(t *testing.T, addr string, args ...string) protocol.Value {
	t.Helper()
	c, err := protocol.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.DoStrings(args...)
	if err != nil {
		t.Fatalf("%v on %s: %v", args, addr, err)
	}
	return v
}

// waitKnownNodes polls CLUSTER INFO on addr until it counts n nodes, for
// up to 20 s.
func waitKnownNodes(t *testing.T, addr string, n int) {
	t.Helper()
	want := "cluster_known_nodes:" + string(rune('0'+n))
	deadline := time.Now().Add(20 * time.Second)
	for {
		info := doRESP(t, addr, "CLUSTER", "INFO").String()
		if strings.Contains(info, want+"\r\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after 20 s: %q, want %s", addr, info, want)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// freePort returns a port below the kernel's ephemeral range on which
// nothing listens now (freeport.Get): a port the kernel picked for a probe
// listener may be taken by any outgoing connection before the node binds
// it, and a gossip port must be free for UDP too.
func freePort(t *testing.T) string {
	t.Helper()
	p, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}
