package proc

import (
	"fmt"
	"syscall"
)

// Reexec replaces the running program with path (argv, env) in place, for an
// upgrade: the PID, the children and their zombies, and every fd not marked
// close-on-exec survive. It execs from the fork thread because an execve from
// any other thread makes the kernel deliver the parent-death signal to every
// child that thread did not fork, killing the services. It returns only on
// failure.
func Reexec(path string, argv, env []string) error {
	var err error
	onForkThread(func() { err = syscall.Exec(path, argv, env) })
	return fmt.Errorf("re-exec %s: %w", path, err)
}
