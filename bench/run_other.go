//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
)

// errNeedsLinux is returned on systems without /proc, FIFOs as the bench uses
// them, and a child subreaper.
var errNeedsLinux = errors.New("the benchmarks run on Linux only")

func run(context.Context, options, io.Writer) error { return errNeedsLinux }
