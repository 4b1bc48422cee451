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

// searcher is who a PATH is searched as: the ids the child will run with, so
// that a directory only the supervisor's user can enter (a root-only shim
// directory first in root's PATH) is skipped for a service with `user:`, as
// the service's own execvp would skip it.
type searcher struct {
	uid, gid uint32
	groups   []uint32
}

// searcherFor returns the ids a child with c runs as: c's when it switches
// identity, else the supervisor's own.
func searcherFor(c creds) searcher {
	if c.set {
		return searcher{uid: c.uid, gid: c.gid, groups: c.groups}
	}
	s := searcher{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	if gs, err := os.Getgroups(); err == nil {
		for _, g := range gs {
			s.groups = append(s.groups, uint32(g))
		}
	}
	return s
}

// may reports whether s has permission bit (1: execute or search) on a file
// with info fi, by its mode bits as the kernel checks them: owner bits for
// the owner, else group bits for a member, else the others' bits. Root may
// search any directory and execute any file with an execute bit. Access
// control lists are not read.
func (s searcher) may(fi fs.FileInfo, bit fs.FileMode) bool {
	mode := fi.Mode().Perm()
	if s.uid == 0 {
		return fi.IsDir() || mode&(bit|bit<<3|bit<<6) != 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode&(bit|bit<<3|bit<<6) != 0
	}
	switch {
	case uint32(st.Uid) == s.uid:
		return mode&(bit<<6) != 0
	case uint32(st.Gid) == s.gid || slices.Contains(s.groups, uint32(st.Gid)):
		return mode&(bit<<3) != 0
	}
	return mode&bit != 0
}

// reaches reports whether s can search every directory from the root down to
// dir (absolute, symlinks resolved).
func (s searcher) reaches(dir string) bool {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() || !s.may(fi, 1) {
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
func lookPath(file string, env []string, who searcher) (string, error) {
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
		if real, err := filepath.EvalSymlinks(dir); err != nil || !who.reaches(real) || !who.may(fi, 1) {
			notFound = syscall.EACCES
			continue
		}
		return candidate, nil
	}
	return "", notFound
}
