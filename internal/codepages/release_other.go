//go:build !linux

package codepages

// Release does nothing where madvise(MADV_DONTNEED) is only a hint (macOS,
// FreeBSD): the pages a process has mapped stay mapped there.
func Release() (int, error) { return 0, nil }
