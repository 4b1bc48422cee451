// Command respawn is a process supervisor: it keeps the services its config names up.
package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/respawn-sh/respawn/internal/cli"
	"github.com/respawn-sh/respawn/internal/daemon"
	"github.com/respawn-sh/respawn/internal/keeper"
	_ "github.com/respawn-sh/respawn/internal/mainstack" // first, before the others' initialisation
	"github.com/respawn-sh/respawn/internal/proc"
)

func init() {
	// Nothing in the binary reads a heap profile (runtime/pprof is linked
	// for the count of threads created), yet every 512 KiB allocated on
	// average the runtime would record the allocating stack: a walk of the
	// stack through the binary's tables, page faults a short command pays
	// for nothing.
	runtime.MemProfileRate = 0
	// main (and so the fork loop) stays on the process's first thread. A
	// command that starts no process has no fork loop: left unlocked, it
	// spares the thread the runtime starts for a locked one.
	if !cli.ForksNothing(os.Args[1:]) {
		runtime.LockOSThread()
	}
}

func main() {
	// A child spawned with umask or rlimits runs through this binary first.
	proc.RunTrampoline()
	// Fds inherited from whoever launched us must never leak into services.
	if err := proc.MarkInheritedCloexec(); err != nil {
		fmt.Fprintln(os.Stderr, "respawn: mark inherited fds close-on-exec:", err)
	}
	env := cli.Stdio(daemon.Run)
	env.Core, env.Resume, env.KeeperCheck = daemon.RunCore, daemon.Resume, keeper.Check
	if cli.ForksNothing(os.Args[1:]) {
		// A command that starts no process runs right here, on a thread
		// like any other: without a fork thread to serve, the hand-offs
		// between it and a second thread are a cost and nothing more.
		os.Exit(cli.Main(os.Args[1:], env))
	}
	// Every fork and the upgrade's exec happen on this, the main thread (see
	// ForkOnMainThread): services forked before and after an upgrade then
	// all survive the next one.
	os.Exit(proc.ForkOnMainThread(func() int { return cli.Main(os.Args[1:], env) }))
}
