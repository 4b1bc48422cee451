// Package proc starts, signals, contains and reaps service processes on the host OS.
//
// Spawning (the fork thread and the exec trampoline), reaping and
// containment (process groups, cgroups, tracking of what leaves the group)
// share one process table, so they live here together; what does not need
// it is apart: observe reads what the kernel says of any process, discover
// finds processes respawn did not start, cleanup kills what a crashed run
// left from its records.
//
// One process-wide reaper owns every wait in the process: it handles SIGCHLD and
// calls wait4(-1) until nothing is left, so it also reaps children it did not
// start (orphans handed to us as child subreaper). A program that uses this
// package must therefore never wait for children by other means: no
// exec.Cmd.Run/Wait/Output and no os.Process.Wait anywhere in the process,
// including its tests, or exit statuses will be stolen from one side or the other.
//
// All forks happen on one goroutine locked to its OS thread for the life of the
// process, because the kernel's parent-death signal fires when the creating
// thread (not process) exits.
//
// A binary that spawns with umask or rlimits must call RunTrampoline first thing
// in main (and tests in TestMain), because those settings are applied by
// re-executing that binary as a small trampoline in the child.
package proc
