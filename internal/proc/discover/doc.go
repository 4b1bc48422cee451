// Package discover finds processes respawn did not start: the pid a daemon
// wrote to its pidfile, the processes whose command line matches a pattern,
// and whether a process descends from a service's or sits in its cgroup.
package discover
