// Command produce writes numbered 100-byte lines to stdout, in 64 KiB writes or one write per line.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/lines"
	"github.com/respawn-sh/respawn/bench/internal/runargs"
)

func main() {
	n := flag.Int("lines", 2_000_000, "number of lines to write")
	mode := flag.String("mode", "chunk", "chunk (64 KiB writes) or line (one write per line)")
	stamp := flag.String("stamp", "", "file to record start and end times in (CLOCK_REALTIME ns)")
	args, err := runargs.Args()
	if err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(2)
	}
	// Parse errors exit 2 with the usage (flag.ExitOnError).
	_ = flag.CommandLine.Parse(args)
	if err := run(*n, *mode, *stamp); err != nil {
		fmt.Fprintln(os.Stderr, "produce:", err)
		os.Exit(1)
	}
}

func run(n int, mode, stamp string) error {
	if n < 1 {
		return fmt.Errorf("-lines must be at least 1, got %d", n)
	}
	var stampFile *os.File
	if stamp != "" {
		f, err := os.OpenFile(stamp, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("open stamp file: %w", err)
		}
		defer f.Close()
		stampFile = f
		if err := writeStamp(f, "start"); err != nil {
			return err
		}
	}
	var err error
	switch mode {
	case "chunk":
		err = chunked(n)
	case "line":
		err = perLine(n)
	default:
		return fmt.Errorf("unknown -mode %q: want chunk or line", mode)
	}
	if err != nil {
		return fmt.Errorf("write stdout: %w", err)
	}
	if stampFile != nil {
		return writeStamp(stampFile, "end")
	}
	return nil
}

// chunked writes exactly 64 KiB per write(2). 64 KiB is not a multiple of
// the line size, so most writes end in the middle of a line: the reader has
// to reassemble lines across reads.
func chunked(n int) error {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	var line [lines.Size]byte
	for i := 0; i < n; i++ {
		lines.Put(line[:], i)
		if _, err := w.Write(line[:]); err != nil {
			return err
		}
	}
	return w.Flush()
}

// perLine issues one write(2) per line, straight to fd 1: os.File's
// locking and poller would otherwise cost more than the write itself and
// make the producer, not the reader, the bottleneck.
func perLine(n int) error {
	// The write end may arrive non-blocking; a raw write would then fail
	// with EAGAIN whenever the reader falls behind.
	if err := syscall.SetNonblock(1, false); err != nil {
		return err
	}
	var line [lines.Size]byte
	for i := 0; i < n; i++ {
		lines.Put(line[:], i)
		if err := writeAll(line[:]); err != nil {
			return err
		}
	}
	return nil
}

func writeAll(b []byte) error {
	for len(b) > 0 {
		k, err := syscall.Write(1, b)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

func writeStamp(f *os.File, what string) error {
	if _, err := f.WriteString(what + " " + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n"); err != nil {
		return fmt.Errorf("write stamp: %w", err)
	}
	return nil
}
