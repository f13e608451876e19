package check

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Manifests are the Kubernetes objects of deploy/k8s, decoded strictly.
type Manifests struct {
	Kustomization Kustomization
	ConfigMap     *corev1.ConfigMap
	Headless      *corev1.Service // clusterIP None
	Client        *corev1.Service
	StatefulSet   *appsv1.StatefulSet
	PDB           *policyv1.PodDisruptionBudget
	HPA           *autoscalingv2.HorizontalPodAutoscaler
}

// Kustomization is the part of kustomization.yaml used here; any other
// field is refused.
type Kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []string         `json:"resources"`
	Images     []KustomizeImage `json:"images"`
}

// KustomizeImage is an image override of a kustomization.
type KustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// apiVersions maps each kind used to its API version.
var apiVersions = map[string]string{
	"ConfigMap": "v1", "Service": "v1", "StatefulSet": "apps/v1",
	"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
}

// decodeStrict decodes one YAML document into v as the API server's
// strict field validation does (the same decoder): field names match case
// for case, and unknown fields, duplicate keys and malformed values
// (quantities, int-or-string) are errors.
func decodeStrict(b []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// LoadManifests reads the kustomization in dir and every resource it lists.
func LoadManifests(dir string) (*Manifests, error) {
	m := &Manifests{}
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(b, &m.Kustomization); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	for _, r := range m.Kustomization.Resources {
		if err := m.load(filepath.Join(dir, r)); err != nil {
			return nil, fmt.Errorf("%s: %w", r, err)
		}
	}
	return m, nil
}

// load decodes one manifest file into the typed object its kind names.
func (m *Manifests) load(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte("\n---")) {
		return fmt.Errorf("one object per file, please")
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(b, &tm); err != nil {
		return err
	}
	if want, ok := apiVersions[tm.Kind]; !ok || tm.APIVersion != want {
		return fmt.Errorf("kind %q apiVersion %q: want one of %v", tm.Kind, tm.APIVersion, apiVersions)
	}
	var obj any
	switch tm.Kind {
	case "ConfigMap":
		m.ConfigMap = &corev1.ConfigMap{}
		obj = m.ConfigMap
	case "Service":
		svc := &corev1.Service{}
		if err := decodeStrict(b, svc); err != nil {
			return err
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			m.Headless = svc
		} else {
			m.Client = svc
		}
		return nil
	case "StatefulSet":
		m.StatefulSet = &appsv1.StatefulSet{}
		obj = m.StatefulSet
	case "PodDisruptionBudget":
		m.PDB = &policyv1.PodDisruptionBudget{}
		obj = m.PDB
	case "HorizontalPodAutoscaler":
		m.HPA = &autoscalingv2.HorizontalPodAutoscaler{}
		obj = m.HPA
	}
	return decodeStrict(b, obj)
}

// CheckK8s loads deploy/k8s and checks that the objects fit together and
// fit cached: see the check* functions.
func CheckK8s(dir string) []error {
	var e errs
	m, err := LoadManifests(dir)
	if err != nil {
		e.add("k8s: %v", err)
		return e
	}
	checkKustomization(&e, dir, m)
	if m.ConfigMap == nil || m.Headless == nil || m.Client == nil || m.StatefulSet == nil || m.PDB == nil || m.HPA == nil {
		e.add("k8s: want a ConfigMap, a headless and a client Service, a StatefulSet, a PodDisruptionBudget and an HPA")
		return e
	}
	c, n := checkPod(&e, m)
	if c == nil || n == nil {
		return e
	}
	checkServices(&e, m, c, n)
	checkResources(&e, m, c, n)
	checkDisruption(&e, m)
	return e
}

// checkKustomization wants every manifest listed once and the image
// override to name the container's image.
func checkKustomization(e *errs, dir string, m *Manifests) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(m.Kustomization.Resources, b) {
			e.add("k8s: %s is not listed in kustomization.yaml", b)
		}
	}
	if sts := m.StatefulSet; sts != nil && len(sts.Spec.Template.Spec.Containers) > 0 {
		img := sts.Spec.Template.Spec.Containers[0].Image
		if !slices.ContainsFunc(m.Kustomization.Images, func(i KustomizeImage) bool { return i.Name == img }) {
			e.add("k8s: kustomization images do not name the container image %q", img)
		}
	}
}

// podLabels are the StatefulSet's pod template labels.
func podLabels(m *Manifests) labels.Set { return labels.Set(m.StatefulSet.Spec.Template.Labels) }

// selects reports whether sel is non-empty and matches the pods.
func selects(sel *metav1.LabelSelector, pods labels.Set) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(pods)
}

// checkPod checks the pod template: its config (parsed by cached), args,
// probes and ports. It returns the container and the node configuration.
func checkPod(e *errs, m *Manifests) (*corev1.Container, *Node) {
	sts := m.StatefulSet
	if !selects(sts.Spec.Selector, podLabels(m)) {
		e.add("k8s: StatefulSet selector does not match its pod labels")
	}
	ps := sts.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		e.add("k8s: want one container, got %d", len(ps.Containers))
		return nil, nil
	}
	c := &ps.Containers[0]
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		e.add("k8s: pod must set runAsNonRoot")
	}
	n := podNode(e, m, c)
	if n == nil {
		return c, nil
	}
	if n.Get("cluster-enabled") != "yes" {
		e.add("k8s: cluster-enabled is not yes")
	}
	mp, err := n.MetricsPort()
	if err != nil {
		e.add("k8s: %v", err)
	}
	wantPorts := map[string]struct {
		port  int64
		proto corev1.Protocol
	}{
		"redis": {n.Int("port"), corev1.ProtocolTCP}, "metrics": {mp, corev1.ProtocolTCP},
		"gossip-tcp": {n.GossipPort(), corev1.ProtocolTCP}, "gossip-udp": {n.GossipPort(), corev1.ProtocolUDP},
	}
	for name, w := range wantPorts {
		p := containerPort(c, name)
		if p == nil || int64(p.ContainerPort) != w.port || portProtocol(p.Protocol) != w.proto {
			e.add("k8s: container port %q: %+v, want %d/%s from the config", name, p, w.port, w.proto)
		}
	}
	checkProbe(e, "readiness", c.ReadinessProbe, "/readyz", c, mp)
	checkProbe(e, "liveness", c.LivenessProbe, "/healthz", c, mp)
	return c, n
}

// podNode parses the ConfigMap's cached.conf with the container's args, as
// the pod runs it, $(POD_IP) standing for an address.
func podNode(e *errs, m *Manifests, c *corev1.Container) *Node {
	conf, ok := m.ConfigMap.Data["cached.conf"]
	if !ok {
		e.add("k8s: ConfigMap %s has no cached.conf", m.ConfigMap.Name)
		return nil
	}
	mount := ""
	for _, vm := range c.VolumeMounts {
		for _, v := range m.StatefulSet.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == m.ConfigMap.Name {
				mount = vm.MountPath
			}
		}
	}
	if len(c.Args) == 0 || mount == "" || c.Args[0] != mount+"/cached.conf" {
		e.add("k8s: args %v do not start with the ConfigMap's cached.conf (mounted at %q)", c.Args, mount)
		return nil
	}
	args := slices.Clone(c.Args[1:])
	for i, a := range args {
		if a == "$(POD_IP)" {
			if !hasEnvField(c, "POD_IP", "status.podIP") {
				e.add("k8s: args use $(POD_IP) but env POD_IP is not the pod's status.podIP")
			}
			args[i] = "10.0.0.1"
		}
	}
	n, err := parseNode(strings.NewReader(conf), args)
	if err != nil {
		e.add("k8s: cached rejects the pod's configuration: %v", err)
		return nil
	}
	if n.Get("cluster-announce-ip") == "" {
		e.add("k8s: no cluster-announce-ip: a node bound to 0.0.0.0 would announce 127.0.0.1")
	}
	return n
}

func hasEnvField(c *corev1.Container, name, field string) bool {
	for _, ev := range c.Env {
		if ev.Name == name && ev.ValueFrom != nil && ev.ValueFrom.FieldRef != nil && ev.ValueFrom.FieldRef.FieldPath == field {
			return true
		}
	}
	return false
}

func portProtocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func containerPort(c *corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

// checkProbe wants an HTTP GET of path on the metrics port.
func checkProbe(e *errs, kind string, p *corev1.Probe, path string, c *corev1.Container, metricsPort int64) {
	if p == nil || p.HTTPGet == nil {
		e.add("k8s: no HTTP %s probe", kind)
		return
	}
	port := int64(p.HTTPGet.Port.IntValue())
	if name := p.HTTPGet.Port.StrVal; name != "" {
		if cp := containerPort(c, name); cp != nil {
			port = int64(cp.ContainerPort)
		}
	}
	if p.HTTPGet.Path != path || port != metricsPort {
		e.add("k8s: %s probe GETs %s on port %d, want %s on the metrics port %d", kind, p.HTTPGet.Path, port, path, metricsPort)
	}
}

// checkServices wants both Services to select the pods and point at named
// container ports with the right protocol; the headless one to be the
// StatefulSet's, to publish not-ready pods and to be the gossip seed.
func checkServices(e *errs, m *Manifests, c *corev1.Container, n *Node) {
	for _, svc := range []*corev1.Service{m.Headless, m.Client} {
		if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels(m)) {
			e.add("k8s: Service %s does not select the StatefulSet's pods", svc.Name)
		}
		for _, sp := range svc.Spec.Ports {
			cp := containerPort(c, sp.TargetPort.StrVal)
			if cp == nil || portProtocol(cp.Protocol) != portProtocol(sp.Protocol) {
				e.add("k8s: Service %s port %s targets %q, not a container port of that protocol", svc.Name, sp.Name, sp.TargetPort.String())
			}
		}
	}
	if m.StatefulSet.Spec.ServiceName != m.Headless.Name {
		e.add("k8s: StatefulSet serviceName %q, want the headless Service %q", m.StatefulSet.Spec.ServiceName, m.Headless.Name)
	}
	if !m.Headless.Spec.PublishNotReadyAddresses {
		e.add("k8s: headless Service must publish not-ready pods: a pod is ready only after it joined through it")
	}
	seeds, err := n.Seeds()
	if err != nil || len(seeds) != 1 || seeds[0][0] != m.Headless.Name || seeds[0][1] != strconv.FormatInt(n.GossipPort(), 10) {
		e.add("k8s: cluster-join %q, want %s:%d (the headless Service, gossip port)", n.Get("cluster-join"), m.Headless.Name, n.GossipPort())
	}
}

// checkResources applies the sizing rule: memory request = limit =
// MemoryLimit(maxmemory), GOMEMLIMIT = GoMemLimit(limit), a CPU request
// for the HPA.
func checkResources(e *errs, m *Manifests, c *corev1.Container, n *Node) {
	maxmem := n.Int("maxmemory")
	if maxmem <= 0 {
		e.add("k8s: maxmemory must be set: pods have a memory limit")
		return
	}
	want := MemoryLimit(maxmem)
	req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory()
	if req.Value() != want || lim.Value() != want {
		e.add("k8s: memory request %s, limit %s; want both %dMi (2 × maxmemory %dMi + 128Mi)", req, lim, want>>20, maxmem>>20)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		e.add("k8s: no CPU request: the HPA's utilization is relative to it")
	}
	gml := ""
	for _, ev := range c.Env {
		if ev.Name == "GOMEMLIMIT" {
			gml = ev.Value
		}
	}
	if v, err := ParseBytes(gml); err != nil || v != GoMemLimit(want) {
		e.add("k8s: GOMEMLIMIT %q, want %dMiB (90 %% of the limit)", gml, GoMemLimit(want)>>20)
	}
}

// checkDisruption checks the graceful stop, the PDB and the HPA.
func checkDisruption(e *errs, m *Manifests) {
	ps := m.StatefulSet.Spec.Template.Spec
	c := ps.Containers[0]
	pre := int64(0)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		e.add("k8s: no preStop sleep: SIGTERM would come before endpoints drop the pod")
	} else {
		pre = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := ps.TerminationGracePeriodSeconds; g == nil || *g < pre+60 {
		e.add("k8s: terminationGracePeriodSeconds %v, want at least preStop %d s + 60 s for the slot hand-off", g, pre)
	}
	if !selects(m.PDB.Spec.Selector, podLabels(m)) {
		e.add("k8s: PodDisruptionBudget does not select the StatefulSet's pods")
	}
	if mu := m.PDB.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 {
		e.add("k8s: PodDisruptionBudget maxUnavailable %v, want 1 (one node moves its slots at a time)", mu)
	}
	h := m.HPA.Spec
	if h.ScaleTargetRef.Kind != "StatefulSet" || h.ScaleTargetRef.APIVersion != "apps/v1" || h.ScaleTargetRef.Name != m.StatefulSet.Name {
		e.add("k8s: HPA targets %+v, want the StatefulSet %s", h.ScaleTargetRef, m.StatefulSet.Name)
	}
	r := m.StatefulSet.Spec.Replicas
	if h.MinReplicas == nil || *h.MinReplicas < 3 || h.MaxReplicas < *h.MinReplicas || r == nil || *r < *h.MinReplicas || *r > h.MaxReplicas {
		e.add("k8s: HPA min %v max %d, StatefulSet replicas %v: want 3 <= min <= replicas <= max", h.MinReplicas, h.MaxReplicas, r)
	}
	cpu := false
	for _, mt := range h.Metrics {
		cpu = cpu || (mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
			mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && mt.Resource.Target.AverageUtilization != nil)
	}
	if !cpu {
		e.add("k8s: HPA has no CPU utilization metric")
	}
	if b := h.Behavior; b == nil || b.ScaleUp == nil || b.ScaleDown == nil || !onePodPolicies(b.ScaleUp) || !onePodPolicies(b.ScaleDown) {
		e.add("k8s: HPA behaviour must scale one pod per step both ways (one hand-off at a time)")
	}
	if strings.TrimSpace(string(ps.RestartPolicy)) != "" && ps.RestartPolicy != corev1.RestartPolicyAlways {
		e.add("k8s: restartPolicy %s", ps.RestartPolicy)
	}
}

func onePodPolicies(r *autoscalingv2.HPAScalingRules) bool {
	if len(r.Policies) == 0 {
		return false
	}
	for _, p := range r.Policies {
		if p.Type != autoscalingv2.PodsScalingPolicy || p.Value != 1 {
			return false
		}
	}
	return true
}
