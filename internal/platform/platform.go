package platform

import (
	"fmt"
	"sync/atomic"
)

// Features are the facilities beyond POSIX that respawn may use. Each is
// false on the POSIX path, which uses only what every Unix has: fork/exec,
// SIGCHLD and wait4, process groups, SOCK_STREAM Unix sockets with
// SCM_RIGHTS, and polling where nothing better exists.
type Features struct {
	// Name is "linux" or "posix": what `status -o json` reports.
	Name string `json:"name"`
	// Cgroups: services may be contained in cgroup2 (Linux).
	Cgroups bool `json:"cgroups"`
	// Subreaper: orphaned descendants re-parent to the keeper (Linux
	// PR_SET_CHILD_SUBREAPER, FreeBSD PROC_REAP_ACQUIRE).
	Subreaper bool `json:"subreaper"`
	// Pidfd: processes that are not our children are watched and signalled
	// through pidfds (Linux).
	Pidfd bool `json:"pidfd"`
	// Pdeathsig: children get a signal when the keeper dies (Linux
	// PR_SET_PDEATHSIG); without it they learn of it from a pipe.
	Pdeathsig bool `json:"pdeathsig"`
	// SeqPacket: the keeper–core socket keeps message boundaries itself
	// (SOCK_SEQPACKET); without it messages are framed on a SOCK_STREAM.
	SeqPacket bool `json:"seqpacket"`
}

// Portable is the POSIX path: none of the facilities above.
func Portable() Features { return Features{Name: NamePOSIX} }

// Names of the platforms, as the config's supervisor.platform and status say.
const (
	NameLinux = "linux"
	NamePOSIX = "posix"
)

// Choose returns the features for a config's supervisor.platform: "auto"
// (or "") is the best this system offers, "posix" the portable path;
// "linux" is accepted only on Linux.
func Choose(setting string) (Features, error) {
	switch setting {
	case "", "auto":
		return Native(), nil
	case NamePOSIX:
		return Portable(), nil
	case NameLinux:
		if n := Native(); n.Name == NameLinux {
			return n, nil
		}
		return Features{}, fmt.Errorf("platform %q: this system is not Linux", setting)
	}
	return Features{}, fmt.Errorf("unknown platform %q (want auto, linux or posix)", setting)
}

// current holds the process's choice: set once at start, read everywhere.
var current atomic.Pointer[Features]

// Set makes f the features every later Current returns. Call it once at
// start, before any process is spawned or socket opened.
func Set(f Features) { current.Store(&f) }

// Current returns the features in force: those given to Set, else Native.
func Current() Features {
	if f := current.Load(); f != nil {
		return *f
	}
	return Native()
}
