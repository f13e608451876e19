package check

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// imageConf is the cached.conf the Dockerfile copies into the image.
const imageConf = "deploy/docker/cached.conf"

// LoadCompose parses a compose file with the compose specification's Go
// library, which validates it against the compose JSON schema.
func LoadCompose(file string) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
		cli.WithInterpolation(true))
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// CheckCompose loads the compose file and checks that it is a working
// cached cluster: every node's command parses with cached's own parser
// against the image's cached.conf, announces its fixed address and lists
// nodes of the stack on their gossip ports as seeds (checkSeeds: one
// founder forms the cluster, the others join it), and Prometheus scrapes every
// node's metrics port; Grafana gets the datasource and the dashboard.
// root is the repository root.
func CheckCompose(root, file string) []error {
	var e errs
	p, err := LoadCompose(file)
	if err != nil {
		e.add("compose: %v", err)
		return e
	}
	nodes := map[string]*Node{}
	for name, s := range p.Services {
		if len(s.Command) > 0 && s.Command[0] == "/etc/cached/cached.conf" {
			n, err := ParseNode(filepath.Join(root, imageConf), s.Command[1:])
			if err != nil {
				e.add("compose %s: command: %v", name, err)
				continue
			}
			nodes[name] = n
		}
	}
	if len(nodes) != 3 {
		e.add("compose: %d cached nodes, want 3", len(nodes))
	}
	var founders []string
	for name, n := range nodes {
		checkComposeNode(&e, root, p, name, n, nodes)
		if !dependsOnNode(p, name, nodes) {
			founders = append(founders, name)
		}
	}
	if len(founders) != 1 {
		e.add("compose: %d nodes (%v) wait for no other node, want exactly 1 (the founder; the others wait for it)", len(founders), founders)
	} else {
		checkSeeds(&e, p, founders[0], nodes)
	}
	checkPrometheus(&e, p, nodes)
	checkGrafana(&e, p)
	return e
}

// checkComposeNode checks one node's image, address, ports and seeds.
func checkComposeNode(e *errs, root string, p *types.Project, name string, n *Node, nodes map[string]*Node) {
	s := p.Services[name]
	if s.Image != "cached:dev" || s.Build == nil {
		e.add("compose %s: image %q, build %v; want cached:dev built here", name, s.Image, s.Build != nil)
	} else if ctx, _ := filepath.Abs(root); filepath.Clean(s.Build.Context) != ctx {
		e.add("compose %s: build context %s, want the repository root %s", name, s.Build.Context, ctx)
	}
	if n.Get("cluster-enabled") != "yes" {
		e.add("compose %s: cluster-enabled is not yes", name)
	}
	ip := ""
	for netName, nc := range s.Networks {
		if nc != nil && nc.Ipv4Address != "" {
			ip = nc.Ipv4Address
			checkInSubnet(e, p, name, netName, ip)
		}
	}
	if ip == "" || n.Get("cluster-announce-ip") != ip {
		e.add("compose %s: cluster-announce-ip %q, fixed address %q: memberlist announces an IP, they must match", name, n.Get("cluster-announce-ip"), ip)
	}
	port := strconv.FormatInt(n.Int("port"), 10)
	published := false
	for _, sp := range s.Ports {
		published = published || strconv.FormatUint(uint64(sp.Target), 10) == port
	}
	if !published {
		e.add("compose %s: RESP port %s is not published", name, port)
	}
	seeds, err := n.Seeds()
	if err != nil {
		e.add("compose %s: %v", name, err)
	}
	for _, sd := range seeds {
		if seed, ok := nodes[sd[0]]; !ok || sd[1] != strconv.FormatInt(seed.GossipPort(), 10) {
			e.add("compose %s: cluster-join %s:%s is not a node's gossip port", name, sd[0], sd[1])
		}
	}
}

// dependsOnNode reports whether service name waits for a cached node.
func dependsOnNode(p *types.Project, name string, nodes map[string]*Node) bool {
	for dep := range p.Services[name].DependsOn {
		if _, ok := nodes[dep]; ok {
			return true
		}
	}
	return false
}

// checkSeeds checks how the nodes find each other: the founder, which
// starts first, lists itself among its seeds, so it forms the cluster
// when it reaches nobody else, and other nodes, so that restarted it
// joins them instead; every other node waits for the founder to be
// healthy and lists it among its seeds, so it joins that cluster. Seeds
// may name any node besides: a node restarted later joins whichever
// answer.
func checkSeeds(e *errs, p *types.Project, founder string, nodes map[string]*Node) {
	for name, n := range nodes {
		seeds, _ := n.Seeds() // a parse error is reported by checkComposeNode
		lists := func(svc string) bool {
			return slices.ContainsFunc(seeds, func(sd [2]string) bool { return sd[0] == svc })
		}
		switch {
		case name == founder:
			if !lists(founder) {
				e.add("compose %s: the founder's cluster-join lacks itself: it would wait for a seed instead of forming the cluster", name)
			}
			if !slices.ContainsFunc(seeds, func(sd [2]string) bool { return sd[0] != founder }) {
				e.add("compose %s: the founder's cluster-join lists no other node: restarted, it would found a cluster of its own", name)
			}
		case !lists(founder):
			e.add("compose %s: cluster-join lacks the founder %s", name, founder)
		default:
			if d, ok := p.Services[name].DependsOn[founder]; !ok || d.Condition != types.ServiceConditionHealthy {
				e.add("compose %s: joins %s but does not wait for it to be healthy", name, founder)
			}
		}
	}
}

func checkInSubnet(e *errs, p *types.Project, svc, netName, ip string) {
	nw, ok := p.Networks[netName]
	if !ok {
		e.add("compose %s: network %s not declared", svc, netName)
		return
	}
	for _, pool := range nw.Ipam.Config {
		if _, cidr, err := net.ParseCIDR(pool.Subnet); err == nil && cidr.Contains(net.ParseIP(ip)) {
			return
		}
	}
	e.add("compose %s: %s is outside network %s's subnets", svc, ip, netName)
}

// promConfig is the part of prometheus.yml checked here.
type promConfig struct {
	Global        map[string]string `json:"global"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		MetricsPath   string `json:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// mountSource returns the host path mounted at target in service svc.
func mountSource(p *types.Project, svc, target string) string {
	for _, v := range p.Services[svc].Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	return ""
}

func checkPrometheus(e *errs, p *types.Project, nodes map[string]*Node) {
	src := mountSource(p, "prometheus", "/etc/prometheus/prometheus.yml")
	var pc promConfig
	if err := readYAMLStrict(src, &pc); err != nil {
		e.add("compose prometheus: config %q: %v", src, err)
		return
	}
	var got, want []string
	for _, sc := range pc.ScrapeConfigs {
		if sc.MetricsPath != "/metrics" {
			e.add("compose prometheus: job %s scrapes %q, want /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			got = append(got, st.Targets...)
		}
	}
	for name, n := range nodes {
		mp, err := n.MetricsPort()
		if err != nil {
			e.add("compose %s: %v", name, err)
			continue
		}
		want = append(want, net.JoinHostPort(name, strconv.FormatInt(mp, 10)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		e.add("compose prometheus: scrapes %v, want every node's metrics address %v", got, want)
	}
}

// provisioning files of Grafana, the parts checked here.
type grafanaDatasources struct {
	APIVersion  int `json:"apiVersion"`
	Datasources []struct {
		Name      string `json:"name"`
		UID       string `json:"uid"`
		Type      string `json:"type"`
		Access    string `json:"access"`
		URL       string `json:"url"`
		IsDefault bool   `json:"isDefault"`
		Editable  bool   `json:"editable"`
	} `json:"datasources"`
}

type grafanaProviders struct {
	APIVersion int `json:"apiVersion"`
	Providers  []struct {
		Name            string            `json:"name"`
		Folder          string            `json:"folder"`
		Type            string            `json:"type"`
		DisableDeletion bool              `json:"disableDeletion"`
		AllowUIUpdates  bool              `json:"allowUiUpdates"`
		Options         map[string]string `json:"options"`
	} `json:"providers"`
}

func checkGrafana(e *errs, p *types.Project) {
	var ds grafanaDatasources
	dsDir := mountSource(p, "grafana", "/etc/grafana/provisioning/datasources")
	if err := readYAMLStrict(filepath.Join(dsDir, "prometheus.yaml"), &ds); err != nil {
		e.add("compose grafana: datasources: %v", err)
	} else if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		e.add("compose grafana: want one prometheus datasource at http://prometheus:9090, got %+v", ds.Datasources)
	}
	var pv grafanaProviders
	pvDir := mountSource(p, "grafana", "/etc/grafana/provisioning/dashboards")
	if err := readYAMLStrict(filepath.Join(pvDir, "cached.yaml"), &pv); err != nil {
		e.add("compose grafana: dashboard provider: %v", err)
		return
	}
	if len(pv.Providers) != 1 || pv.Providers[0].Type != "file" {
		e.add("compose grafana: want one file dashboard provider, got %+v", pv.Providers)
		return
	}
	dir := pv.Providers[0].Options["path"]
	src := mountSource(p, "grafana", dir+"/cached.json")
	if !strings.HasSuffix(src, filepath.Join("deploy", "grafana", "cached.json")) {
		e.add("compose grafana: %s/cached.json comes from %q, want deploy/grafana/cached.json", dir, src)
		return
	}
	b, err := os.ReadFile(src)
	var dash struct {
		UID    string            `json:"uid"`
		Title  string            `json:"title"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err == nil {
		err = json.Unmarshal(b, &dash)
	}
	if err != nil || dash.UID == "" || len(dash.Panels) == 0 {
		e.add("compose grafana: dashboard %s: %v (uid %q, %d panels)", src, err, dash.UID, len(dash.Panels))
	}
}

// readYAMLStrict decodes a YAML file into v, refusing unknown fields and
// duplicate keys, matching field names case for case (decodeStrict).
func readYAMLStrict(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}
