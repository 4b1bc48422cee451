// Package instance holds the one-supervisor-per-state-dir contract that the
// CLI, the client and the supervisor share: the lock file and who holds it,
// and the report a detached `up -d` supervisor sends the CLI waiting for it.
package instance
