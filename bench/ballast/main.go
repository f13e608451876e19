// Command ballast holds memory and wakes up now and then, doing nothing
// else. It shows how a large idle process on the same machine changes
// another server's latency: on this project's virtual machine (a PVM
// guest), a 1.2 GB process that only wakes 10 times a second raised the
// p99 of an unrelated 100,000-key server 3-4 times, for cached and
// redis-server alike (docs/performance.md, "Latency with 20,000,000 keys:
// the machine's share"). bench/ballast-latency.sh runs it.
//
//	ballast -mb 1200 -wake 100ms
//
// It allocates mb MiB (pointer-free, so the collector never scans it),
// writes one byte in every 4 KiB page so that all of it is resident, then
// sleeps for wake at a time until it is killed; with -touch N it reads N
// random bytes of it at each wake-up.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	mb := flag.Int("mb", 1200, "MiB to hold, all of it resident")
	wake := flag.Duration("wake", 100*time.Millisecond, "sleep between wake-ups (0: never wake)")
	touch := flag.Int("touch", 0, "random bytes read at each wake-up")
	flag.Parse()
	if *mb < 1 || *wake < 0 || *touch < 0 {
		fmt.Fprintln(os.Stderr, "ballast: -mb must be positive, -wake and -touch not negative")
		os.Exit(2)
	}
	mem := make([]byte, *mb<<20)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	fmt.Printf("holding %d MiB\n", *mb)
	if *wake == 0 {
		select {}
	}
	sum := 0
	for {
		time.Sleep(*wake)
		for range *touch {
			sum += int(mem[rand.IntN(len(mem))])
		}
		if sum < 0 {
			fmt.Println(sum) // keeps the reads
		}
	}
}
