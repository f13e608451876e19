// Command bench is cached's load generator: it drives any RESP server (one
// node or a cluster) with a cache-shaped workload and reports throughput,
// latency percentiles, hit ratio, errors and a per-second timeline. See
// README.md in this directory and package bench/load.
//
//	go run ./bench --addr 127.0.0.1:6379 --ratio 1:10 --key-dist zipf:0.99 --duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/cached/cached/bench/load"
)

// commandFlags collects repeated --command values.
type commandFlags []string

func (c *commandFlags) String() string     { return strings.Join(*c, "; ") }
func (c *commandFlags) Set(s string) error { *c = append(*c, s); return nil }

// options are the command line's settings that are not load.Config fields.
type options struct {
	jsonFile, htmlFile, compare string
	rounds                      int
	quiet                       bool
	progress                    time.Duration // off a terminal: a progress line this often (0: none)
}

func main() {
	cfg, opt, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, opt, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// rawFlags are flag values that need parsing after flag.Parse.
type rawFlags struct {
	addr, ratio, dist, size *string
	cmds                    commandFlags
}

// defineFlags registers every flag on fs, writing into cfg and opt.
func defineFlags(fs *flag.FlagSet, cfg *load.Config, opt *options) *rawFlags {
	raw := &rawFlags{}
	raw.addr = fs.String("addr", "127.0.0.1:6379", "target host:port; with --cluster a comma-separated seed list")
	fs.BoolVar(&cfg.Cluster, "cluster", false, "cluster-aware routing (CLUSTER SLOTS/SHARDS, follow MOVED/ASK)")
	fs.StringVar(&cfg.Password, "password", "", "AUTH password")
	fs.StringVar(&cfg.User, "user", "", "AUTH user name (ACL), with --password")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "connections, one goroutine each")
	fs.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "requests per batch (closed loop: in flight per connection)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured run time (after --warmup)")
	fs.Int64Var(&cfg.Requests, "requests", 0, "stop after this many measured requests instead of --duration")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unmeasured warm-up time before the run")
	raw.ratio = fs.String("ratio", "1:10", "SET:GET weights, as memtier's --ratio")
	fs.Var(&raw.cmds, "command", "command template `[WEIGHT:]TEMPLATE` with __key__/__data__ placeholders, e.g. '2:LPUSH __key__ __data__' (repeatable; replaces --ratio unless --ratio is given too)")
	fs.Uint64Var(&cfg.Keyspace, "keyspace", cfg.Keyspace, "number of distinct keys")
	fs.StringVar(&cfg.KeyPrefix, "key-prefix", cfg.KeyPrefix, "key name prefix")
	raw.dist = fs.String("key-dist", "uniform", "key popularity: uniform | zipf[:S] | sequential | gaussian[:SIGMA]")
	raw.size = fs.String("data-size", "32", "value size in bytes: N or MIN-MAX")
	fs.DurationVar(&cfg.TTL, "ttl", 0, "TTL on writes (SET ... EX/PX and the preload)")
	fs.BoolVar(&cfg.Preload, "preload", false, "SET every key of the key space before the run")
	fs.BoolVar(&cfg.CacheAside, "cache-aside", false, "after a read that misses, SET the key (reported as FILL), as an application filling its cache; closed loop only")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: total requests per second on a fixed schedule (0: closed loop)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "dial and reply timeout")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (0: from the clock)")
	fs.StringVar(&opt.jsonFile, "json", "", "write the results as JSON to `FILE`")
	fs.StringVar(&opt.htmlFile, "html", "", "write a self-contained HTML report to `FILE`")
	fs.StringVar(&opt.compare, "compare", "", "run the workload against `ADDR_A,ADDR_B` in alternating rounds and print A/B ratios")
	fs.IntVar(&opt.rounds, "rounds", 3, "rounds per target with --compare")
	fs.BoolVar(&opt.quiet, "quiet", false, "no progress lines at all")
	fs.DurationVar(&opt.progress, "progress", 5*time.Second, "when stderr is not a terminal, print a progress line this often (0: never); a terminal gets a live line every second")
	return raw
}

// parseFlags turns the command line into a workload and output options.
func parseFlags(args []string, errOut io.Writer) (load.Config, options, error) {
	cfg := load.DefaultConfig()
	var opt options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: bench [flags]   (a load generator for RESP servers; see bench/README.md)")
		fs.PrintDefaults()
	}
	raw := defineFlags(fs, &cfg, &opt)
	if err := fs.Parse(args); err != nil {
		return cfg, opt, err
	}
	if fs.NArg() > 0 {
		return cfg, opt, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Addrs = splitList(*raw.addr)
	var err error
	if cfg.KeyDist, err = load.ParseKeyDist(*raw.dist); err != nil {
		return cfg, opt, err
	}
	if cfg.DataMin, cfg.DataMax, err = load.ParseSize(*raw.size); err != nil {
		return cfg, opt, err
	}
	ratioSet := len(raw.cmds) == 0
	fs.Visit(func(f *flag.Flag) { ratioSet = ratioSet || f.Name == "ratio" })
	cfg.Commands = nil
	if ratioSet {
		s, g, err := load.ParseRatio(*raw.ratio)
		if err != nil {
			return cfg, opt, err
		}
		cfg.Commands = load.RatioCommands(s, g, cfg.TTL)
	}
	for _, spec := range raw.cmds {
		c, err := load.ParseCommand(spec)
		if err != nil {
			return cfg, opt, err
		}
		cfg.Commands = append(cfg.Commands, c)
	}
	if opt.compare != "" && (len(splitList(opt.compare)) != 2 || opt.rounds < 1) {
		return cfg, opt, fmt.Errorf("--compare wants ADDR_A,ADDR_B and --rounds >= 1")
	}
	return cfg, opt, cfg.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter returns the load.Config.Progress function for errOut:
// on a terminal a live line rewritten every second, elsewhere (a script, a
// CI log) one line per `every` of each phase, or nil for none. It is called
// from one goroutine at a time (the run's collector), phases one after
// another.
func progressPrinter(errOut io.Writer, terminal bool, every time.Duration) func(load.Progress) {
	if terminal {
		return func(p load.Progress) { fmt.Fprintf(errOut, "\r%s\033[K", load.ProgressLine(p)) }
	}
	if every <= 0 {
		return nil
	}
	var phase string
	var next time.Duration
	return func(p load.Progress) {
		if p.Phase != phase || p.Elapsed < next-every { // a new phase or run starts over
			phase, next = p.Phase, every
		}
		if p.Elapsed >= next {
			fmt.Fprintf(errOut, "bench: %s\n", load.ProgressLine(p))
			next = (p.Elapsed/every + 1) * every
		}
	}
}

// run executes the workload (or the comparison) and writes the outputs.
func run(ctx context.Context, cfg load.Config, opt options, out, errOut io.Writer) error {
	f, ok := errOut.(*os.File)
	live := ok && !opt.quiet && isTerminal(f)
	if !opt.quiet {
		cfg.Progress = progressPrinter(errOut, live, opt.progress)
	}
	clear := func() {
		if live {
			fmt.Fprint(errOut, "\r\033[K")
		}
	}
	var result any
	if opt.compare != "" {
		ab := splitList(opt.compare)
		cmp, err := load.Compare(ctx, cfg, ab[0], ab[1], opt.rounds)
		clear()
		if err != nil {
			return err
		}
		if err := load.WriteComparison(out, cmp); err != nil {
			return err
		}
		result = cmp
	} else {
		res, err := load.Run(ctx, cfg)
		clear()
		if err != nil {
			return err
		}
		if err := load.WriteTable(out, res); err != nil {
			return err
		}
		result = res
	}
	if opt.jsonFile != "" {
		if err := writeFile(opt.jsonFile, func(w io.Writer) error { return load.WriteJSON(w, result) }); err != nil {
			return err
		}
	}
	if opt.htmlFile != "" {
		if err := writeFile(opt.htmlFile, func(w io.Writer) error { return load.WriteHTML(w, result, time.Now()) }); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
