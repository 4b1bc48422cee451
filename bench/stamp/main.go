// Command stamp appends "start <ns>" and "exit <ns>" (CLOCK_REALTIME) to a file and exits 1, so a supervisor restarts it at once.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/runargs"
)

func main() {
	// Taken first so that runtime start-up is the only cost hidden before it.
	start := time.Now().UnixNano()
	args, err := runargs.Args()
	if err != nil || len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: stamp FILE", err)
		os.Exit(2)
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stamp:", err)
		os.Exit(2)
	}
	// One write per line: O_APPEND makes each write land whole at the end,
	// so lines never interleave even if two instances ever overlapped.
	if _, err := f.Write([]byte("start " + strconv.FormatInt(start, 10) + "\n")); err != nil {
		fmt.Fprintln(os.Stderr, "stamp:", err)
		os.Exit(2)
	}
	if _, err := f.Write([]byte("exit " + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n")); err != nil {
		fmt.Fprintln(os.Stderr, "stamp:", err)
		os.Exit(2)
	}
	os.Exit(1)
}
