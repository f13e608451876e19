package check

import (
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// TestComposeClusterRuns runs the compose stack's three cached commands
// with the image's binary and config on loopback, as compose would start
// them (founder first), with only the addresses localised: bind and
// announce 127.0.0.1, ports chosen by the kernel, seeds pointing at the
// founder's gossip address. The nodes must form one cluster, route keys
// through any node (cluster-route proxy), pass `cached healthcheck
// --ready`, and stop cleanly on SIGTERM.
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
	// Founder (no --cluster-join) first, as depends_on orders them.
	slices.SortFunc(names, func(a, b string) int {
		return boolInt(slices.Contains(p.Services[a].Command, "--cluster-join")) - boolInt(slices.Contains(p.Services[b].Command, "--cluster-join"))
	})
	bin := buildStatic(t)
	gossip := map[string]string{} // service → gossip address
	var nodes []nodeAddrs
	var stops []func() error
	for _, name := range names {
		args := localArgs(t, p.Services[name].Command[1:], gossip)
		args = append([]string{filepath.Join(Root, imageConf)}, args...)
		na, stop := startBinary(t, bin, append(args, "--bind", "127.0.0.1", "--port", "0", "--metrics-addr", "127.0.0.1:0")...)
		if na.resp == "" || na.gossip == "" {
			t.Fatalf("%s: addresses not logged: %+v", name, na)
		}
		gossip[name] = na.gossip
		nodes = append(nodes, na)
		stops = append(stops, stop)
	}
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(nodes))
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
		// A joining node is ready once it holds the slots it serves (its
		// first staged slots flipped to it): poll.
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := exec.Command(bin, "healthcheck", "--ready", "--metrics-addr", n.metrics).CombinedOutput()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("healthcheck --ready %s: %v %s", n.metrics, err, out)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", names[i], err)
		}
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
					t.Fatalf("seed %q is not a node started before", s)
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
