// Package load is cached's load generator: it drives a RESP server (one
// node or a cluster) with a cache-shaped workload and measures it.
//
// A workload is a weighted mix of command templates ("SET __key__
// __data__", "INCR __key__") over a key space with a popularity
// distribution (uniform, zipfian, sequential, gaussian), values of a fixed
// or ranged size, optional TTLs and an optional pre-load of every key.
// Load is closed loop (each connection keeps Pipeline requests in flight)
// or open loop (a fixed rate, latencies measured from each request's
// intended send time, so a stalled server cannot hide behind a waiting
// client: no coordinated omission).
//
// Each connection is one goroutine with its own histograms and counters, so
// the generator shares no lock on its hot path; it writes with
// protocol.Writer and reads with protocol.Reader, which allocates nothing
// per reply. Results carry per-operation throughput, HdrHistogram latency
// percentiles, the GET hit ratio, errors by kind and a per-second timeline,
// and render as a text table, JSON or a self-contained HTML report.
//
// # Usage
//
//	cfg := load.DefaultConfig()
//	cfg.Addrs = []string{"127.0.0.1:6379"}
//	cfg.Commands = load.RatioCommands(1, 10, 0)
//	cfg.Duration = 5 * time.Second
//	res, err := load.Run(ctx, cfg)
//	load.WriteTable(os.Stdout, res)
//
// Compare runs the same workload against two targets in alternating rounds.
package load
