//go:build linux || darwin || freebsd

package keeper

import (
	"errors"
	"io/fs"

	"github.com/respawn-sh/respawn/internal/statedir"
)

// maxCrashLog bounds the crash log: past it, the next core start moves it to
// CrashName.1 (replacing the one before) and a fresh file begins.
const maxCrashLog = 1 << 20

// prepareCrashLog readies the crash log for the next core and returns where
// that core's output will begin. Each core appends its crash output (a panic,
// a fatal error, the goroutine dump of a hung core) to the file, so a dump
// stays there after the next core has started. The file is looked at only
// through the state dir: a symlink or a file of someone else's is not ours.
func prepareCrashLog(dir *statedir.Dir) int64 {
	f, err := dir.Open(CrashName)
	if err != nil {
		return 0
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return 0
	}
	if fi.Size() < maxCrashLog {
		return fi.Size()
	}
	if err := dir.Rename(CrashName, CrashName+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Still there: append after what it holds.
		return fi.Size()
	}
	return 0
}
