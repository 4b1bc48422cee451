package platform

// Native is the POSIX path plus FreeBSD's reaper (procctl PROC_REAP_ACQUIRE).
func Native() Features {
	f := Portable()
	f.Subreaper = true
	return f
}
