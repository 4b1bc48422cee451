//go:build !linux

package codepages

import "log/slog"

// Release does nothing where madvise(MADV_DONTNEED) is only a hint (macOS,
// FreeBSD): the pages a process has mapped stay mapped there.
func Release(*slog.Logger) {}
