// Command spawnopts times the ways a supervisor can start many programs: one
// fork thread, with and without a large descriptor table, two fork threads, and
// a small forker process whose children are re-parented with CLONE_PARENT.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "programs started per measurement")
	fds := flag.Int("fds", 3000, "descriptors held open beside them (a keeper of 1,000 services holds about 3,000)")
	runs := flag.Int("runs", 5, "measurements per option; the median is printed")
	prog := flag.String("prog", "/bin/true", "the program started")
	flag.Parse()
	if os.Getenv(forkerEnv) != "" {
		serveForker(*prog)
		return
	}
	res, err := measure(*n, *fds, *runs, *prog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spawnopts:", err)
		os.Exit(1)
	}
	fmt.Printf("starting %d × %s (each start timed from the fork to the return of exec), median of %d\n", *n, *prog, *runs)
	for _, r := range res {
		fmt.Printf("  %-58s %8.3f s   runs %v\n", r.name, r.median.Seconds(), roundAll(r.all))
	}
}

type result struct {
	name   string
	median time.Duration
	all    []time.Duration
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
