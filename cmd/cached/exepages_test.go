//go:build linux

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// exeRSS returns the resident kB of the read-only mappings of file bin in
// process pid (its code and read-only data), from /proc/PID/smaps.
func exeRSS(t *testing.T, pid int, bin string) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kb int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) >= 6 && strings.Contains(fs[0], "-"):
			in = fs[5] == bin && (fs[1] == "r-xp" || fs[1] == "r--p")
		case in && len(fs) >= 2 && fs[0] == "Rss:":
			n, err := strconv.ParseInt(fs[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps Rss %q: %v", fs[1], err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// TestBinaryDropsStartupPages runs the real binary: start-up leaves most of
// its code and read-only data mapped, and the cron drops what it does not
// use (server/exepages_linux.go) within seconds; the server then answers
// as before, mapping again what it runs.
func TestBinaryDropsStartupPages(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	cmd := exec.Command(bin, "--port", port, "--loglevel", "warning", "--metrics-addr", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	dialPoll(t, "127.0.0.1:"+port).Close()
	started := exeRSS(t, cmd.Process.Pid, bin)
	if started == 0 {
		t.Fatalf("no resident read-only mapping of %s", bin)
	}

	deadline := time.Now().Add(30 * time.Second)
	dropped := started
	for dropped*2 >= started {
		if time.Now().After(deadline) {
			t.Fatalf("the binary's read-only pages stayed at %d kB (%d kB at start)", dropped, started)
		}
		time.Sleep(50 * time.Millisecond)
		dropped = exeRSS(t, cmd.Process.Pid, bin)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	defer rc.Close()
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rc.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k after the drop: %q, %v", got, err)
	}
	info, err := rc.Info(ctx, "server").Result()
	if err != nil || !strings.Contains(info, "redis_version:") {
		t.Fatalf("INFO after the drop: %v", err)
	}
	t.Logf("binary's read-only pages: %d kB at start, %d kB after the drop, %d kB after SET, GET, INFO",
		started, dropped, exeRSS(t, cmd.Process.Pid, bin))
}
