package discover

import "golang.org/x/sys/unix"

// cmdline returns pid's arguments, each ended by a NUL, as kern.proc.args
// gives them.
func cmdline(pid int) ([]byte, error) { return unix.SysctlRaw("kern.proc.args", pid) }
