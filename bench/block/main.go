// Command block writes one byte to a FIFO to say it has started, then sleeps until it is signalled, or, given a LIFE, exits 1 after it.
package main

import (
	"fmt"
	"math"
	"os"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/runargs"
)

func main() {
	args, err := runargs.Args()
	if err != nil || len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: block FIFO [LIFE]", err)
		os.Exit(2)
	}
	life := time.Duration(math.MaxInt64)
	if len(args) == 2 {
		// A LIFE makes a crash storm: the service "crashes" after it, and
		// every supervisor restarts it.
		if life, err = time.ParseDuration(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "block:", err)
			os.Exit(2)
		}
	}
	// The reader holds the FIFO open, so this open does not wait; a single
	// byte is below PIPE_BUF, so the reader counts exactly one per start.
	f, err := os.OpenFile(args[0], os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "block:", err)
		os.Exit(2)
	}
	if _, err := f.Write([]byte{'.'}); err != nil {
		fmt.Fprintln(os.Stderr, "block:", err)
		os.Exit(2)
	}
	f.Close()
	// A pending timer keeps the runtime from reporting a deadlock, and the
	// default SIGTERM action ends the process when the supervisor stops it.
	time.Sleep(life)
	os.Exit(1)
}
