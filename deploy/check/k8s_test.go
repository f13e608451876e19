package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestK8s validates deploy/k8s offline: every object strictly decoded
// into the Kubernetes API's Go types, then checked against cached's
// configuration and against each other.
func TestK8s(t *testing.T) {
	for _, err := range CheckK8s(filepath.Join(Root, "deploy", "k8s")) {
		t.Error(err)
	}
}

// TestK8sCheckCatches breaks a copy of the manifests in ways an editor
// could and wants each caught.
func TestK8sCheckCatches(t *testing.T) {
	for _, tc := range []struct{ name, file, old, new, want string }{
		{"misspelt field", "statefulset.yaml", "  serviceName:", "  servicename:", "servicename"},
		{"bad quantity", "statefulset.yaml", "cpu: 500m", "cpu: 500 millicores", "quantities"},
		{"duplicate key", "pdb.yaml", "  maxUnavailable: 1", "  maxUnavailable: 1\n  maxUnavailable: 2", "maxUnavailable"},
		{"wrong apiVersion", "hpa.yaml", "autoscaling/v2", "autoscaling/v1", "apiVersion"},
		{"readiness path", "statefulset.yaml", "path: /readyz", "path: /ready", "readiness probe"},
		{"liveness port", "statefulset.yaml", "path: /healthz\n              port: metrics", "path: /healthz\n              port: redis", "liveness probe"},
		{"selector", "pdb.yaml", "matchLabels:\n      app.kubernetes.io/name: cached", "matchLabels:\n      app.kubernetes.io/name: cache", "PodDisruptionBudget does not select"},
		{"hpa target", "hpa.yaml", "name: cached\n  minReplicas", "name: cache\n  minReplicas", "HPA targets"},
		{"memory limit", "statefulset.yaml", "limits:\n              memory: 640Mi", "limits:\n              memory: 512Mi", "memory request"},
		{"maxmemory changed alone", "configmap.yaml", "maxmemory 256mb", "maxmemory 1gb", "memory request"},
		{"gomemlimit", "statefulset.yaml", `value: "576MiB"`, `value: "640MiB"`, "GOMEMLIMIT"},
		{"bad directive", "configmap.yaml", "maxmemory-policy allkeys-lru", "maxmemory-policy allkeys-lfu-ish", "maxmemory-policy"},
		{"seed port", "configmap.yaml", "cluster-join cached-headless:16379", "cluster-join cached-headless:6379", "cluster-join"},
		{"not-ready hidden", "service-headless.yaml", "publishNotReadyAddresses: true", "publishNotReadyAddresses: false", "not-ready"},
		{"udp gossip", "service-headless.yaml", "targetPort: gossip-udp\n      protocol: UDP", "targetPort: gossip-udp\n      protocol: TCP", "gossip-udp"},
		{"short grace", "statefulset.yaml", "terminationGracePeriodSeconds: 120", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds"},
		{"unlisted file", "kustomization.yaml", "  - pdb.yaml\n", "", "pdb.yaml is not listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepoParts(t, "deploy/k8s")
			f := filepath.Join(root, "deploy", "k8s", tc.file)
			b, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(b), tc.old) {
				t.Fatalf("%s lacks %q (%v): update the test", tc.file, tc.old, err)
			}
			if err := os.WriteFile(f, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			found := CheckK8s(filepath.Join(root, "deploy", "k8s"))
			if !anyContains(found, tc.want) {
				t.Errorf("errors %v, want one mentioning %q", found, tc.want)
			}
		})
	}
}
