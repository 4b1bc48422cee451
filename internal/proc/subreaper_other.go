//go:build !linux && !freebsd

package proc

// becomeSubreaper does nothing: macOS has no subreaper. Orphaned descendants
// go to launchd; they are found by process group and the records file.
func becomeSubreaper() error { return nil }
