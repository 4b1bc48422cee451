// Package observe reads what the kernel says of any process, parent or not —
// state, parent, group, CPU time, memory, start time, children (from /proc on
// Linux, sysctl kern.proc on macOS and FreeBSD) — and through a pidfd whether
// it has exited.
package observe
