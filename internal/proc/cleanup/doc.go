// Package cleanup holds the record a supervisor keeps of each process it
// starts and, from those records, kills what a crashed run left behind —
// never a process that merely reused a recorded pid.
package cleanup
