package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/cached/cached/server"
)

// commit is the source revision, set at link time by the release build
// (-ldflags "-X main.commit=$(git rev-parse HEAD)", see Dockerfile); when
// empty, the revision Go stamped into the build info is used.
var commit string

// buildCommit returns the commit the binary was built from, with "-dirty"
// when the build info says the work tree had changes, or "unknown".
func buildCommit(info *debug.BuildInfo, ok bool) string {
	if commit != "" {
		return commit
	}
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// printVersion writes the --version line: cached's version, the commit and
// the Go toolchain, in the shape of redis-server's `v=… sha=…` line.
func printVersion(w io.Writer) {
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintf(w, "cached v=%s sha=%s go=%s (Redis %s compatible)\n",
		server.Version, buildCommit(info, ok), runtime.Version(), "7.0")
}
