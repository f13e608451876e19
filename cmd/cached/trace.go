package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"
)

// traceDirEnv names the environment variable that turns on the flight
// recorder: with CACHED_TRACE_DIR set, the process keeps the last few
// seconds of its execution trace (runtime/trace.FlightRecorder) in memory,
// and each SIGUSR1 writes them to DIR/cached-PID-N.trace, for `go tool
// trace`. The CPU profiler runs too, so the trace holds CPU samples. A
// measurement aid (docs/performance.md, issue 12): off unless
// set, and it costs a few percent of CPU while on.
const traceDirEnv = "CACHED_TRACE_DIR"

// startFlightRecorder starts the flight recorder if CACHED_TRACE_DIR is
// set. The returned stop ends it and its signal goroutine; it is never nil.
func startFlightRecorder(dir string, logf func(format string, args ...any)) (stop func()) {
	if dir == "" {
		return func() {}
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 256 << 20})
	if err := fr.Start(); err != nil {
		logf("cached: flight recorder: %v", err)
		return func() {}
	}
	// With the CPU profiler on, the trace carries its samples too, so a
	// window of the trace is also a CPU profile of that window.
	profiling := pprof.StartCPUProfile(io.Discard) == nil
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() { // owned by stop
		defer close(done)
		for n := 1; ; n++ {
			select {
			case <-quit:
				return
			case <-sig:
			}
			name := filepath.Join(dir, fmt.Sprintf("cached-%d-%d.trace", os.Getpid(), n))
			if err := writeTrace(fr, name); err != nil {
				logf("cached: flight recorder: %v", err)
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(quit)
		<-done
		if profiling {
			pprof.StopCPUProfile()
		}
		fr.Stop()
	}
}

// writeTrace writes fr's window to a new file name.
func writeTrace(fr *trace.FlightRecorder, name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := fr.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
