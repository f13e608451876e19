package check

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// goModVersion reads the go directive of the repository's go.mod.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

func TestDockerfile(t *testing.T) {
	for _, err := range CheckDockerfile(filepath.Join(Root, "Dockerfile"), goModVersion(t)) {
		t.Error(err)
	}
}

// TestDockerfileCheckCatches wants the Dockerfile checks to notice the
// mistakes they are there for.
func TestDockerfileCheckCatches(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"USER 65532:65532", "USER root", "root"},
		{"FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm", "run stage"},
		{`"healthcheck", "/etc/cached/cached.conf"`, `"healthcheck", "/etc/cached.conf"`, "HEALTHCHECK"},
		{"sh scripts/build-static.sh /out/cached", "go build -o /out/cached ./cmd/cached", "build-static.sh"},
		{"golang:" + goModVersion(t), "golang:1.20", "go.mod"},
	} {
		b, err := os.ReadFile(filepath.Join(Root, "Dockerfile"))
		if err != nil || !bytes.Contains(b, []byte(tc.old)) {
			t.Fatalf("Dockerfile lacks %q (%v): update the test", tc.old, err)
		}
		f := filepath.Join(t.TempDir(), "Dockerfile")
		if err := os.WriteFile(f, bytes.Replace(b, []byte(tc.old), []byte(tc.new), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		if found := CheckDockerfile(f, goModVersion(t)); !anyContains(found, tc.want) {
			t.Errorf("%q → %q: errors %v, want one mentioning %q", tc.old, tc.new, found, tc.want)
		}
	}
}

// built is the binary scripts/build-static.sh made for this test run.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildStatic runs scripts/build-static.sh, the Dockerfile's build step,
// once per test run, and returns the binary.
func buildStatic(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "cached-check-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "cached")
		cmd := exec.Command("sh", "scripts/build-static.sh", built.bin)
		cmd.Dir = Root
		cmd.Env = append(os.Environ(), "COMMIT=0123456789abcdef")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("scripts/build-static.sh: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// Log lines that give a node's addresses, in text or JSON log format.
var (
	metricsLine = regexp.MustCompile(`metrics.*127\.0\.0\.1:(\d+)`)
	respLine    = regexp.MustCompile(`msg"?[=:]"?listening.*addr"?[=:]"?(127\.0\.0\.1:\d+)`)
	gossipLine  = regexp.MustCompile(`gossip"?[=:]"?(127\.0\.0\.1:\d+)`)
)

// nodeAddrs are the addresses a started node logged.
type nodeAddrs struct{ metrics, resp, gossip string }

// TestStaticBinary builds the release binary as the image does, checks it
// is static, reports its size, and runs it with the image's cached.conf:
// `cached healthcheck` (the image's HEALTHCHECK) answers 0 while it runs
// and 1 after SIGTERM stopped it.
func TestStaticBinary(t *testing.T) {
	bin := buildStatic(t)
	if err := StaticELF(bin); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static binary: %d bytes (%.1f MiB)", fi.Size(), float64(fi.Size())/(1<<20))
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "sha=0123456789abcdef") {
		t.Fatalf("--version: %q %v; want the commit given to the build", out, err)
	}
	na, stop := startBinary(t, bin, filepath.Join(Root, imageConf), "--bind", "127.0.0.1", "--port", "0", "--metrics-addr", "127.0.0.1:0")
	addr := na.metrics
	for _, args := range [][]string{{"healthcheck", "--metrics-addr", addr}, {"healthcheck", "--ready", "--metrics-addr", addr}} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Errorf("%v: %v %s", args, err, out)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0", err)
	}
	if err := exec.Command(bin, "healthcheck", "--metrics-addr", addr).Run(); err == nil {
		t.Error("healthcheck of a stopped node exited 0")
	}
}

// startBinary runs bin with args and returns the addresses it logs (once
// it logged its metrics address, the last of them) and a function that
// sends SIGTERM and returns the exit status. The process is killed when the
// test ends if it still runs.
func startBinary(t *testing.T, bin string, args ...string) (nodeAddrs, func() error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	addrs := make(chan nodeAddrs, 1)
	go func() {
		var na nodeAddrs
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := respLine.FindStringSubmatch(line); m != nil && na.resp == "" {
				na.resp = m[1]
			}
			if m := gossipLine.FindStringSubmatch(line); m != nil && na.gossip == "" {
				na.gossip = m[1]
			}
			if m := metricsLine.FindStringSubmatch(line); m != nil && na.metrics == "" {
				na.metrics = "127.0.0.1:" + m[1]
				addrs <- na
			}
		}
		done <- cmd.Wait()
	}()
	var exit error
	exited := false
	wait := func() error {
		if !exited {
			exit, exited = <-done, true
		}
		return exit
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = wait()
	})
	select {
	case na := <-addrs:
		return na, func() error {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				return err
			}
			select {
			case err := <-done:
				exit, exited = err, true
				return err
			case <-time.After(30 * time.Second):
				return errors.New("no exit within 30 s of SIGTERM")
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no metrics address logged within 20 s")
		return nodeAddrs{}, nil
	}
}
