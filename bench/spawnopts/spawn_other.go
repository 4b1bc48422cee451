//go:build !linux

package main

import (
	"errors"
	"time"
)

const forkerEnv = "SPAWNOPTS_FORKER"

func measure(int, int, int, string) ([]result, error) {
	return nil, errors.New("measures Linux's clone flags: runs on Linux only")
}

func serveForker(string) {}

var _ = time.Second
