package platform

// Cred is who is at the other end of a Unix socket, as the kernel recorded
// it when the connection was made: the peer cannot forge it.
type Cred struct {
	UID, GID uint32
	// PID is the peer's process id, 0 where the system does not say.
	PID int
	// Groups are the peer's groups, the effective one first, where the
	// kernel reports them with the credentials (macOS, FreeBSD); nil on
	// Linux.
	Groups []uint32
}
