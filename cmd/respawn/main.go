// Command respawn is a process supervisor: it keeps the services its config names up.
package main

import (
	"fmt"
	"os"

	"github.com/respawn-sh/respawn/internal/cli"
	"github.com/respawn-sh/respawn/internal/daemon"
	"github.com/respawn-sh/respawn/internal/proc"
)

func main() {
	// A child spawned with umask or rlimits runs through this binary first.
	proc.RunTrampoline()
	// Fds inherited from whoever launched us must never leak into services.
	if err := proc.MarkInheritedCloexec(); err != nil {
		fmt.Fprintln(os.Stderr, "respawn: mark inherited fds close-on-exec:", err)
	}
	os.Exit(cli.Main(os.Args[1:], cli.Stdio(daemon.Run)))
}
