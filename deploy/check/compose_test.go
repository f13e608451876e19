package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompose validates deploy/compose.yaml with compose-spec's Go library
// and cached's own config parser.
func TestCompose(t *testing.T) {
	for _, err := range CheckCompose(Root, filepath.Join(Root, "deploy", "compose.yaml")) {
		t.Error(err)
	}
}

// TestComposeCheckCatches breaks a copy of the compose stack in ways an
// editor could and wants each caught: the checks are not vacuous.
func TestComposeCheckCatches(t *testing.T) {
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"misspelt key", "compose.yaml", "stop_grace_period:", "stop_grace_perod:", "stop_grace_perod"},
		{"bad directive", "compose.yaml", `"--cluster-route", "proxy",
              "--cluster-announce-ip", "172.28.5.12"`, `"--cluster-route", "forward",
              "--cluster-announce-ip", "172.28.5.12"`, "cluster-route"},
		{"announce mismatch", "compose.yaml", "ipv4_address: 172.28.5.13", "ipv4_address: 172.28.5.14", "cluster-announce-ip"},
		{"join wrong port", "compose.yaml", `"--cluster-announce-ip", "172.28.5.13",
              "--cluster-join", "cache-1:16379,`, `"--cluster-announce-ip", "172.28.5.13",
              "--cluster-join", "cache-1:6379,`, "gossip port"},
		{"founder not its own seed", "compose.yaml", `"--cluster-announce-ip", "172.28.5.11",
              "--cluster-join", "cache-1:16379,`, `"--cluster-announce-ip", "172.28.5.11",
              "--cluster-join", "`, "lacks itself"},
		{"founder without seeds", "compose.yaml", `"--cluster-announce-ip", "172.28.5.11",
              "--cluster-join", "cache-1:16379,cache-2:16379,cache-3:16379"]`, `"--cluster-announce-ip", "172.28.5.11"]`,
			"lists no other node"},
		{"joiner without the founder", "compose.yaml", `"--cluster-announce-ip", "172.28.5.12",
              "--cluster-join", "cache-1:16379,`, `"--cluster-announce-ip", "172.28.5.12",
              "--cluster-join", "`, "lacks the founder"},
		{"two founders", "compose.yaml", `    depends_on:
      cache-1: {condition: service_healthy}`, ``, "want exactly 1"},
		{"target missing", "compose/prometheus.yml", `, "cache-3:9121"`, "", "scrapes"},
		{"dashboard moved", "compose.yaml", "./grafana/cached.json:", "./grafana/other.json:", "cached.json"},
		{"unknown provider key", "compose/grafana/dashboards/cached.yaml", "folder: cached", "foldr: cached", "foldr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepoParts(t, "deploy/compose.yaml", "deploy/compose", "deploy/grafana", imageConf, "Dockerfile")
			f := filepath.Join(root, "deploy", tc.file)
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), tc.old) {
				t.Fatalf("%s lacks %q (%v): update the test", tc.file, tc.old, err)
			}
			if err := os.WriteFile(f, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			found := CheckCompose(root, filepath.Join(root, "deploy", "compose.yaml"))
			if !anyContains(found, tc.want) {
				t.Errorf("errors %v, want one mentioning %q", found, tc.want)
			}
		})
	}
}
