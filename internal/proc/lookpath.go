package proc

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// defaultPath is searched when neither the Spec nor the supervisor has PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Account is who a service runs as, for checking what it may reach: a PATH
// is searched as the service's user, so that a directory only the
// supervisor's user can enter (a root-only shim directory first in root's
// PATH) is skipped for a service with `user:`, as the service's own execvp
// would skip it.
type Account struct {
	UID, GID uint32
	Groups   []uint32
}

// LookupAccount resolves a service's user and group (names or numbers) as
// Spawn does; empty ones mean the supervisor's own.
func LookupAccount(user, group string) (Account, error) {
	c, err := resolveCreds(user, group, identity{uid: os.Getuid(), gid: os.Getgid()})
	if err != nil {
		return Account{}, err
	}
	return accountOf(c), nil
}

// accountOf returns the ids a child with c runs as: c's when it switches
// identity, else the supervisor's own.
func accountOf(c creds) Account {
	if c.set {
		return Account{UID: c.uid, GID: c.gid, Groups: c.groups}
	}
	a := Account{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	if gs, err := os.Getgroups(); err == nil {
		for _, g := range gs {
			a.Groups = append(a.Groups, uint32(g))
		}
	}
	return a
}

// may reports whether a has permission bit (1: execute or search) on a file
// with info fi, by its mode bits as the kernel checks them: owner bits for
// the owner, else group bits for a member, else the others' bits. Root may
// search any directory and execute any file with an execute bit. Access
// control lists are not read.
func (a Account) may(fi fs.FileInfo, bit fs.FileMode) bool {
	mode := fi.Mode().Perm()
	if a.UID == 0 {
		return fi.IsDir() || mode&(bit|bit<<3|bit<<6) != 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode&(bit|bit<<3|bit<<6) != 0
	}
	switch {
	case uint32(st.Uid) == a.UID:
		return mode&(bit<<6) != 0
	case uint32(st.Gid) == a.GID || slices.Contains(a.Groups, uint32(st.Gid)):
		return mode&(bit<<3) != 0
	}
	return mode&bit != 0
}

// Reaches reports whether a can search every directory from the root down to
// dir (absolute, symlinks resolved).
func (a Account) Reaches(dir string) bool {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() || !a.may(fi, 1) {
			return false
		}
		if p == "/" {
			return true
		}
	}
}

// lookPath resolves a command without a slash through the PATH of env (else
// the supervisor's, else defaultPath), as who would: an entry who cannot
// search, or a candidate who cannot execute, is skipped. Relative PATH entries
// are skipped: they would resolve against a directory nobody chose. Like
// execvp, a candidate that exists but cannot be executed yields EACCES when
// nothing better is found.
func lookPath(file string, env []string, who Account) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil // relative paths resolve in the child, after chdir
	}
	if file == "" {
		return "", syscall.ENOENT
	}
	pathVar, ok := lookupEnv(env, "PATH")
	if !ok {
		pathVar = os.Getenv("PATH")
	}
	if pathVar == "" {
		pathVar = defaultPath
	}
	notFound := syscall.ENOENT
	for dir := range strings.SplitSeq(pathVar, ":") {
		if !filepath.IsAbs(dir) {
			continue
		}
		candidate := filepath.Join(dir, file)
		fi, err := os.Stat(candidate)
		if err != nil || fi.IsDir() {
			continue
		}
		if real, err := filepath.EvalSymlinks(dir); err != nil || !who.Reaches(real) || !who.may(fi, 1) {
			notFound = syscall.EACCES
			continue
		}
		return candidate, nil
	}
	return "", notFound
}
