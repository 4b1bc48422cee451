//go:build unix

package config

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The host's own signal table decides, since numbers differ between
// systems (USR1 is 10 on Linux and 30 on macOS).

func signalByNumber(n int) (string, bool) {
	name := unix.SignalName(syscall.Signal(n))
	return strings.TrimPrefix(name, "SIG"), name != ""
}

func signalKnown(name string) bool {
	return unix.SignalNum("SIG"+name) != 0
}
