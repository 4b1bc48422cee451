//go:build linux

package keeper

import (
	"errors"
	"io/fs"
	"os"
)

// maxCrashLog bounds the crash log: past it, the next core start moves it to
// CrashName.1 (replacing the one before) and a fresh file begins.
const maxCrashLog = 1 << 20

// prepareCrashLog readies the crash log for the next core and returns where
// that core's output will begin. Each core appends its crash output (a panic,
// a fatal error, the goroutine dump of a hung core) to the file, so a dump
// stays there after the next core has started.
func prepareCrashLog(path string) int64 {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	if fi.Size() < maxCrashLog {
		return fi.Size()
	}
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Still there: append after what it holds.
		return fi.Size()
	}
	return 0
}
