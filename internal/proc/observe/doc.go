// Package observe reads what the kernel says of any process, parent or not:
// its /proc stat line (state, parent, group, CPU time, memory, start time),
// its children, and through a pidfd whether it has exited. The packages that
// run, discover and clean up processes build on it.
package observe
