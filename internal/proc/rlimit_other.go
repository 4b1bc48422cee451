//go:build !linux

package proc

import "golang.org/x/sys/unix"

// The resources that darwin and the BSDs share; the Linux-only ones
// (locks, sigpending, msgqueue, nice, rtprio) are unknown here.
var rlimitResources = map[string]int{
	"nofile":  unix.RLIMIT_NOFILE,
	"nproc":   unix.RLIMIT_NPROC,
	"core":    unix.RLIMIT_CORE,
	"cpu":     unix.RLIMIT_CPU,
	"fsize":   unix.RLIMIT_FSIZE,
	"data":    unix.RLIMIT_DATA,
	"stack":   unix.RLIMIT_STACK,
	"as":      unix.RLIMIT_AS,
	"memlock": unix.RLIMIT_MEMLOCK,
}
