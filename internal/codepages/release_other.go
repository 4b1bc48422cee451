//go:build !linux

package codepages

import (
	"log/slog"
	"time"
)

// Release does nothing where madvise(MADV_DONTNEED) is only a hint (macOS,
// FreeBSD): the pages a process has mapped stay mapped there.
func Release(*slog.Logger) {}

// KeepReleased does nothing either, for the same reason: it arms no
// watch of the collections.
func KeepReleased(*slog.Logger, time.Duration) {}
