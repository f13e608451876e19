// Command cached runs one cached node: a Redis-compatible in-memory cache.
//
// Usage, as redis-server:
//
//	cached [/path/to/cached.conf] [--directive value ...]
//	cached --config /path/to/cached.conf --port 7000 --maxmemory 100mb
//	cached --help | --version
//	cached healthcheck [--ready] [config args]   (exit 0 if /healthz answers 200)
//
// Directives use redis-server's names; --help lists them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cached/cached/server"
	"github.com/cached/cached/server/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], stdout, stderr)
	}
	cfg, action, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "cached: %v\n", err)
		return 1
	}
	switch action {
	case actionHelp:
		printHelp(stdout)
		return 0
	case actionVersion:
		printVersion(stdout)
		return 0
	}
	stopTrace := startFlightRecorder(os.Getenv(traceDirEnv), func(format string, args ...any) {
		fmt.Fprintf(stderr, format+"\n", args...)
	})
	defer stopTrace()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	cfg.ManageRuntime = true      // this process is the server's: it tunes the GC
	srv, err := server.Start(cfg) // logs its start, or why it did not start
	if err != nil {
		fmt.Fprintf(stderr, "cached: %v\n", err)
		return 1
	}
	var reason string
	var fatal error
	select {
	case s := <-sig:
		reason = signalName(s)
	case <-srv.ShutdownRequested():
		reason, fatal = srv.ShutdownReason()
	}
	if err := srv.Shutdown(reason); err != nil && !errors.Is(err, os.ErrClosed) {
		fmt.Fprintf(stderr, "cached: shutdown: %v\n", err)
		return 1
	}
	if fatal != nil {
		return 1
	}
	return 0
}

// signalName names a stop signal as operators write it (SIGTERM, SIGINT).
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `Usage: cached [/path/to/cached.conf] [--config FILE] [--directive value ...]
       cached --help | --version

A Redis-compatible in-memory cache. Directives have redis-server's names and
can be given on the command line (--port 7000), in a config file (port 7000)
or at run time with CONFIG SET (those marked *). As in redis.conf, a file (or
the command line) may also say "include PATH" (nested, globs allowed) and
"rename-command NAME NEWNAME" (NEWNAME "" removes the command). Lines
"# cached: name value" are directives too (CONFIG REWRITE writes cached's own
directives that way, so redis-server can read the same file).

Directives:
`)
	for _, d := range config.Directives() {
		if d.Inert {
			continue
		}
		mut := " "
		if d.Mutable {
			mut = "*"
		}
		def := d.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %s --%-26s %s (default %s)\n", mut, d.Name, d.Doc, def)
	}
	fmt.Fprintf(w, "\nAccepted for redis.conf compatibility, without effect:\n ")
	n := 1
	for _, d := range config.Directives() {
		if !d.Inert {
			continue
		}
		if n+len(d.Name)+1 > 78 {
			fmt.Fprint(w, "\n ")
			n = 1
		}
		fmt.Fprintf(w, " %s", d.Name)
		n += len(d.Name) + 1
	}
	fmt.Fprintln(w)
}
