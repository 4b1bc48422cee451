//go:build !linux

package proc

func (p *Process) oomKills() (uint64, bool) { return 0, false }

// OOMKilled reports whether the OOM killer killed part of the tree; it is
// not detectable on this system.
func (p *Process) OOMKilled() bool { return false }
