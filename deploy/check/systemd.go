package check

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// unitKeys are the keys cached's unit may use, by section: a misspelt key
// (which systemd ignores with a warning) fails the check.
var unitKeys = map[string][]string{
	"Unit":    {"Description", "Documentation", "After", "Wants", "Requires", "Before"},
	"Install": {"WantedBy", "Alias"},
	"Service": {"Type", "ExecStart", "ExecReload", "Restart", "RestartSec", "KillSignal", "TimeoutStopSec",
		"DynamicUser", "User", "Group", "ConfigurationDirectory", "RuntimeDirectory", "StateDirectory", "UMask",
		"MemoryMax", "MemoryHigh", "Environment", "LimitNOFILE", "NoNewPrivileges", "CapabilityBoundingSet",
		"AmbientCapabilities", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
		"ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
		"ProtectClock", "ProtectHostname", "ProtectProc", "RestrictAddressFamilies", "RestrictNamespaces",
		"RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
		"SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber"},
}

// hardening are settings the unit must have, with their values.
var hardening = map[string]string{
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
	"PrivateDevices": "yes", "DynamicUser": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes",
	"KillSignal": "SIGTERM",
}

// Unit is a parsed systemd unit: section → key → values (a key may repeat).
type Unit map[string]map[string][]string

// ParseUnit reads a unit file (comments, sections, key=value lines).
func ParseUnit(file string) (Unit, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u := Unit{}
	sec := ""
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			sec = line[1 : len(line)-1]
			if u[sec] == nil {
				u[sec] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				return nil, &unitError{file, ln, "not a key=value line in a section"}
			}
			u[sec][strings.TrimSpace(k)] = append(u[sec][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

type unitError struct {
	file string
	line int
	msg  string
}

func (e *unitError) Error() string {
	return filepath.Base(e.file) + ":" + strconv.Itoa(e.line) + ": " + e.msg
}

// last returns the last value of a key ("" if absent).
func (u Unit) last(sec, key string) string {
	v := u[sec][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// CheckUnit checks the unit's keys and hardening, that it runs cached on
// /etc/cached/cached.conf, and that MemoryMax and GOMEMLIMIT follow
// maxmemory of conf (the sample /etc/cached/cached.conf) by the sizing rule.
func CheckUnit(file, conf string) []error {
	var e errs
	u, err := ParseUnit(file)
	if err != nil {
		e.add("systemd: %v", err)
		return e
	}
	for sec, keys := range u {
		allowed, ok := unitKeys[sec]
		if !ok {
			e.add("systemd: unknown section [%s]", sec)
		}
		for k := range keys {
			if !slices.Contains(allowed, k) {
				e.add("systemd: unknown key %s in [%s]", k, sec)
			}
		}
	}
	for k, want := range hardening {
		if vs, ok := u["Service"][k]; !ok || vs[len(vs)-1] != want {
			e.add("systemd: %s=%q, want %q", k, u.last("Service", k), want)
		}
	}
	if ex := strings.Fields(u.last("Service", "ExecStart")); len(ex) != 2 || filepath.Base(ex[0]) != "cached" || ex[1] != "/etc/cached/cached.conf" {
		e.add("systemd: ExecStart %v, want cached /etc/cached/cached.conf", ex)
	}
	n, err := ParseNode(conf, nil)
	if err != nil {
		e.add("systemd: %v", err)
		return e
	}
	want := MemoryLimit(n.Int("maxmemory"))
	if v, err := ParseBytes(u.last("Service", "MemoryMax")); n.Int("maxmemory") <= 0 || err != nil || v != want {
		e.add("systemd: MemoryMax=%s, want %dM (2 × maxmemory + 128M)", u.last("Service", "MemoryMax"), want>>20)
	}
	gml := ""
	for _, env := range u["Service"]["Environment"] {
		if v, ok := strings.CutPrefix(env, "GOMEMLIMIT="); ok {
			gml = v
		}
	}
	if v, err := ParseBytes(gml); err != nil || v != GoMemLimit(want) {
		e.add("systemd: GOMEMLIMIT=%q, want %dMiB", gml, GoMemLimit(want)>>20)
	}
	if u.last("Service", "LimitNOFILE") == "" {
		e.add("systemd: no LimitNOFILE (maxclients needs descriptors)")
	}
	return e
}

// VerifyUnit runs `systemd-analyze verify` on a copy of the unit whose
// ExecStart points at bin (verify wants the binary to exist). Any output
// is a failure: systemd reports unknown keys and bad values as warnings.
// It returns ok=false when systemd-analyze is not installed.
func VerifyUnit(file, bin, dir string) (out string, ok bool, err error) {
	sa, lerr := exec.LookPath("systemd-analyze")
	if lerr != nil {
		return "", false, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", true, err
	}
	copyFile := filepath.Join(dir, filepath.Base(file))
	text := strings.ReplaceAll(string(b), "/usr/local/bin/cached", bin)
	if err := os.WriteFile(copyFile, []byte(text), 0o644); err != nil {
		return "", true, err
	}
	o, err := exec.Command(sa, "verify", copyFile).CombinedOutput()
	return string(o), true, err
}
