package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	unitFile   = filepath.Join(Root, "deploy", "systemd", "cached.service")
	unitConfig = filepath.Join(Root, "deploy", "systemd", "cached.conf")
)

func TestSystemdUnit(t *testing.T) {
	for _, err := range CheckUnit(unitFile, unitConfig) {
		t.Error(err)
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify where it is
// installed (.ci/run installs systemd); elsewhere TestSystemdUnit's key
// check is what remains.
func TestSystemdAnalyzeVerify(t *testing.T) {
	bin := buildStatic(t)
	out, ok, err := VerifyUnit(unitFile, bin, t.TempDir())
	if !ok {
		t.Log("systemd-analyze not installed: only the key check ran (TestSystemdUnit)")
		return
	}
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestSystemdCheckCatches(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"ProtectSystem=strict", "ProtectSytem=strict", "ProtectSytem"},
		{"NoNewPrivileges=yes", "NoNewPrivileges=no", "NoNewPrivileges"},
		{"MemoryMax=640M", "MemoryMax=1G", "MemoryMax"},
		{"GOMEMLIMIT=576MiB", "GOMEMLIMIT=1GiB", "GOMEMLIMIT"},
		{"ExecStart=/usr/local/bin/cached /etc/cached/cached.conf", "ExecStart=/usr/local/bin/cached /etc/redis/redis.conf", "ExecStart"},
	} {
		b, err := os.ReadFile(unitFile)
		if err != nil || !strings.Contains(string(b), tc.old) {
			t.Fatalf("unit lacks %q (%v): update the test", tc.old, err)
		}
		f := filepath.Join(t.TempDir(), "cached.service")
		if err := os.WriteFile(f, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if found := CheckUnit(f, unitConfig); !anyContains(found, tc.want) {
			t.Errorf("%q → %q: errors %v, want one mentioning %q", tc.old, tc.new, found, tc.want)
		}
	}
}
