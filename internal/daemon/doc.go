// Package daemon runs respawn up: the keeper process, and the core it starts (state dir, lock, logger, control socket, signals).
package daemon
