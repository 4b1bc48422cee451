//go:build !linux && !freebsd

package platform

// Native is the POSIX path: macOS and the other Unixes have none of the
// facilities beyond it that respawn can use.
func Native() Features { return Portable() }
