// Command block writes one byte to a FIFO to say it has started, then sleeps until it is signalled.
package main

import (
	"fmt"
	"math"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: block FIFO")
		os.Exit(2)
	}
	// The reader holds the FIFO open, so this open does not wait; a single
	// byte is below PIPE_BUF, so the reader counts exactly one per start.
	f, err := os.OpenFile(os.Args[1], os.O_WRONLY, 0)
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
	time.Sleep(math.MaxInt64)
}
