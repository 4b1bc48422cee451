package proc

import "golang.org/x/sys/unix"

var rlimitResources = map[string]int{
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"fsize":      unix.RLIMIT_FSIZE,
	"data":       unix.RLIMIT_DATA,
	"stack":      unix.RLIMIT_STACK,
	"as":         unix.RLIMIT_AS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"locks":      unix.RLIMIT_LOCKS,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"rtprio":     unix.RLIMIT_RTPRIO,
}
