package discover

import "golang.org/x/sys/unix"

// cmdline returns pid's arguments, each ended by a NUL.
func cmdline(pid int) ([]byte, error) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return nil, err
	}
	return parseProcargs2(b)
}
