//go:build unix

package alerts

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the command in a process group of its own and has the
// timeout kill the whole group: a script's children go with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
