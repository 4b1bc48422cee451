package platform

// Native is the best Linux offers. (Cgroups is a permission: the process
// manager still falls back to process groups where cgroup2 is not writable.)
func Native() Features {
	return Features{Name: NameLinux, Cgroups: true, Subreaper: true, Pidfd: true, Pdeathsig: true, SeqPacket: true}
}
