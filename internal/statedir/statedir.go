// Package statedir opens a supervisor's state dir once, refusing one that another user could tamper with, and every file in it relative to that open dir, never through a symlink.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrUnsafe is wrapped by every refusal: a state dir, one of its parents or a
// file in it that another user could have planted or could replace.
var ErrUnsafe = errors.New("unsafe state dir")

// UnsafeError says what was refused and why.
type UnsafeError struct {
	Path   string // the state dir, parent or file refused
	Reason string
	Hint   string // what to do about it; may be empty
}

func (e *UnsafeError) Error() string {
	msg := "refusing " + e.Path + ": " + e.Reason
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrUnsafe) true.
func (e *UnsafeError) Is(target error) bool { return target == ErrUnsafe }

// hint is what a refused state dir or parent calls for.
const hint = "set supervisor.state_dir to a directory that only root or the supervisor's own user can write (e.g. /var/lib/respawn/<name>)"

// Dir is an open, checked state dir. Every name given to its methods is one
// path element inside it; a Dir is safe for concurrent use.
type Dir struct {
	path string
	f    *os.File // the directory, opened without following a symlink
	uid  int      // the effective uid: every file in the dir must be ours
}

// Open checks the state dir at path, creating it (mode 0700, and missing
// parents 0755) if it does not exist, and opens it. Like OpenSSH's StrictModes,
// it refuses, with an error wrapping ErrUnsafe: a parent that a user other
// than root or this process's own could write (a sticky directory such as
// /tmp is safe: others cannot replace what they do not own), a state dir that
// is a symlink or not a directory, and one owned by another user. A state dir
// of ours that others may read or write is made 0700.
func Open(path string) (*Dir, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("state dir %s: not an absolute path", path)
	}
	path = filepath.Clean(path)
	uid := os.Geteuid()
	parent, base := filepath.Split(path)
	if base == "" {
		return nil, &UnsafeError{Path: path, Reason: "the root directory cannot be a state dir", Hint: hint}
	}
	// The part of the path that exists is checked before anything is made
	// below it: no directory is created where another user could lead it.
	existing, missing := filepath.Clean(parent), []string(nil)
	for {
		if _, err := os.Lstat(existing); err == nil || existing == "/" {
			break
		}
		missing = append([]string{filepath.Base(existing)}, missing...)
		existing = filepath.Dir(existing)
	}
	// Symlinks among the parents are fine as long as the directories they lead
	// through are safe: those are what gets checked.
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return nil, fmt.Errorf("state dir parent: %w", err)
	}
	pf, err := checkParents(real, uid)
	if err != nil {
		return nil, err
	}
	for _, name := range missing {
		next, err := mkdirChild(pf, name, uid)
		pf.Close()
		if err != nil {
			return nil, fmt.Errorf("create state dir parent: %w", err)
		}
		pf = next
	}
	defer pf.Close()
	pfd := int(pf.Fd())
	if err := mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, syscall.EEXIST) {
		return nil, fmt.Errorf("create state dir %s: %w", path, err)
	}
	d, err := openDir(pfd, base, path, uid, true)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// mkdirChild creates the directory name (0755) in parent, or finds it made
// meanwhile, opens it and checks it as a parent.
func mkdirChild(parent *os.File, name string, uid int) (*os.File, error) {
	if err := mkdirat(int(parent.Fd()), name, 0o755); err != nil && !errors.Is(err, syscall.EEXIST) {
		return nil, &os.PathError{Op: "mkdir", Path: filepath.Join(parent.Name(), name), Err: err}
	}
	f, err := openat(parent, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if why := othersCanWrite(fi, uid); why != "" {
		f.Close()
		return nil, &UnsafeError{Path: f.Name(), Reason: "a parent of the state dir " + why + ", who could replace the state dir", Hint: hint}
	}
	return f, nil
}

// checkParents checks dir (symlink-free) and each directory above it, and
// returns dir opened.
func checkParents(dir string, uid int) (*os.File, error) {
	var chain []string
	for p := dir; ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if p == "/" || p == "." {
			break
		}
	}
	// From the root down, each opened relative to the one above it, so what
	// is checked is what is opened.
	var cur *os.File
	for i := len(chain) - 1; i >= 0; i-- {
		p := chain[i]
		var f *os.File
		var err error
		if cur == nil {
			f, err = os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		} else {
			f, err = openat(cur, filepath.Base(p), syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW)
			cur.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("state dir parent %s: %w", p, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("state dir parent %s: %w", p, err)
		}
		if why := othersCanWrite(fi, uid); why != "" {
			f.Close()
			return nil, &UnsafeError{Path: p, Reason: "a parent of the state dir " + why + ", who could replace the state dir", Hint: hint}
		}
		cur = f
	}
	return cur, nil
}

// othersCanWrite says how a user other than root or uid could change the
// entries of a directory, or "" when none can.
func othersCanWrite(fi fs.FileInfo, uid int) string {
	st := fi.Sys().(*syscall.Stat_t)
	if owner := int(st.Uid); owner != 0 && owner != uid {
		return "is owned by " + describeUser(owner)
	}
	mode := fi.Mode()
	if mode&fs.ModeSticky != 0 {
		return "" // others cannot remove or rename what they do not own
	}
	if mode&0o002 != 0 {
		return "is writable by every user"
	}
	if mode&0o020 != 0 && st.Gid != 0 {
		return "is writable by group " + describeGroup(int(st.Gid))
	}
	return ""
}

func describeUser(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return "user " + u.Username + " (uid " + strconv.Itoa(uid) + ")"
	}
	return "uid " + strconv.Itoa(uid)
}

func describeGroup(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name + " (gid " + strconv.Itoa(gid) + ")"
	}
	return "gid " + strconv.Itoa(gid)
}

// openDir opens the directory name in parent without following a symlink,
// checks that it is ours and, with restrict, makes it 0700.
func openDir(parent int, name, path string, uid int, restrict bool) (*Dir, error) {
	f, err := openatFd(parent, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, path)
	if err != nil {
		if typ, lerr := lstatType(parent, name); lerr == nil && typ == syscall.S_IFLNK {
			return nil, &UnsafeError{Path: path, Reason: "is a symlink", Hint: "a state dir must be a real directory; " + hint}
		} else if lerr == nil && typ != syscall.S_IFDIR {
			return nil, &UnsafeError{Path: path, Reason: "is not a directory", Hint: hint}
		}
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("state dir %s: %w", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid {
		f.Close()
		return nil, &UnsafeError{Path: path, Reason: "is owned by " + describeUser(int(st.Uid)) + ", not by " + describeUser(uid) + " who runs the supervisor", Hint: hint}
	}
	// Ours: whatever its history, nothing inside may be listed, read or
	// written by others. Search permission alone is kept: it lets a service
	// that runs as another user reach its own sd_notify socket (0600, its
	// own) and nothing else, and taking it away would cut a running
	// service off until the supervisor gives it back.
	if restrict && (fi.Mode().Perm()&^0o011 != 0o700 || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0) {
		if err := f.Chmod(0o700 | fi.Mode().Perm()&0o011); err != nil {
			f.Close()
			return nil, fmt.Errorf("restrict state dir %s: %w", path, err)
		}
	}
	return &Dir{path: path, f: f, uid: uid}, nil
}

// Path returns the state dir's path.
func (d *Dir) Path() string { return d.path }

// Join returns the path of name in the dir (for messages, and for sockets,
// whose bind takes a path).
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

// Close closes the dir.
func (d *Dir) Close() error { return d.f.Close() }

// Sub opens the subdirectory name, creating it with mode 0700, with the same
// checks as the state dir itself.
func (d *Dir) Sub(name string) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := mkdirat(d.fd(), name, 0o700); err != nil && !errors.Is(err, syscall.EEXIST) {
		return nil, fmt.Errorf("create %s: %w", d.Join(name), err)
	}
	return openDir(d.fd(), name, d.Join(name), d.uid, true)
}

func (d *Dir) fd() int { return int(d.f.Fd()) }

// checkName refuses anything but one path element.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return fmt.Errorf("state dir entry %q: not a plain file name", name)
	}
	return nil
}
