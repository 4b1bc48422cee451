package statedir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenAppend opens the file name for appending, creating it with perm. It is
// never truncated and never followed through a symlink.
func (d *Dir) OpenAppend(name string, perm os.FileMode) (*os.File, error) {
	return d.openFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
}

// OpenRW opens the file name for reading and writing, creating it with perm,
// without truncating it: the caller truncates the fd once it holds it.
func (d *Dir) OpenRW(name string, perm os.FileMode) (*os.File, error) {
	return d.openFile(name, os.O_RDWR|os.O_CREATE, perm)
}

// Open opens the file name for reading. A missing file is an error wrapping
// fs.ErrNotExist.
func (d *Dir) Open(name string) (*os.File, error) {
	return d.openFile(name, os.O_RDONLY, 0)
}

// ReadFile returns the content of name, refusing one larger than limit bytes.
func (d *Dir) ReadFile(name string, limit int64) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Join(name), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", d.Join(name), limit)
	}
	return b, nil
}

// Create returns a new, empty file at name: the file is created afresh under
// a temporary name and renamed over whatever was at name, so an old file (or a
// symlink planted there) is replaced, never truncated or written through.
func (d *Dir) Create(name string, perm os.FileMode) (*os.File, error) {
	f, tmp, err := d.createTemp(name, perm)
	if err != nil {
		return nil, err
	}
	if err := d.Rename(tmp, name); err != nil {
		f.Close()
		_ = d.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// WriteFile replaces name with a file holding data, atomically: a reader sees
// the old content or the new, whole.
func (d *Dir) WriteFile(name string, data []byte, perm os.FileMode) error {
	f, tmp, err := d.createTemp(name, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = d.Remove(tmp)
		return fmt.Errorf("write %s: %w", d.Join(name), err)
	}
	if err := d.Rename(tmp, name); err != nil {
		_ = d.Remove(tmp)
		return err
	}
	return nil
}

func (d *Dir) createTemp(name string, perm os.FileMode) (*os.File, string, error) {
	if err := checkName(name); err != nil {
		return nil, "", err
	}
	for range 16 {
		tmp := "." + name + ".new-" + strconv.FormatUint(rand.Uint64(), 36)
		f, err := d.openFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", fmt.Errorf("create %s: no free temporary name", d.Join(name))
}

// Rename renames oldname to newname within the dir; a symlink is renamed
// itself, never followed.
func (d *Dir) Rename(oldname, newname string) error {
	if err := errors.Join(checkName(oldname), checkName(newname)); err != nil {
		return err
	}
	if err := unix.Renameat(d.fd(), oldname, d.fd(), newname); err != nil {
		return &os.LinkError{Op: "rename", Old: d.Join(oldname), New: d.Join(newname), Err: err}
	}
	return nil
}

// Remove removes the entry name (a symlink is removed itself); a missing one
// is an error wrapping fs.ErrNotExist.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.Join(name), Err: err}
	}
	return nil
}

// RemoveSocket removes a stale Unix socket at name before a bind there: only
// a socket of ours is removed; anything else is refused.
func (d *Dir) RemoveSocket(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	var st unix.Stat_t
	err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "stat", Path: d.Join(name), Err: err}
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFSOCK {
		return &UnsafeError{Path: d.Join(name), Reason: "is not a socket, where the supervisor binds one", Hint: "remove it"}
	}
	if int(st.Uid) != d.uid {
		return &UnsafeError{Path: d.Join(name), Reason: "is a socket owned by " + describeUser(int(st.Uid)), Hint: "remove it"}
	}
	if err := d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// openFile opens name in the dir without following a symlink or blocking on
// a FIFO, and checks that it is a regular file of ours with no other link.
func (d *Dir) openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	path := d.Join(name)
	fd, err := openatRetry(d.fd(), name, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
			return nil, &UnsafeError{Path: path, Reason: "is a symlink", Hint: "remove it"}
		}
		if errors.Is(err, syscall.ENXIO) { // a FIFO without a reader, a socket, a device
			return nil, &UnsafeError{Path: path, Reason: "is not a regular file", Hint: "remove it"}
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	var why string
	switch {
	case uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG:
		why = "is not a regular file"
	case int(st.Uid) != d.uid:
		why = "is owned by " + describeUser(int(st.Uid))
	case uint64(st.Nlink) > 1:
		why = "has other hard links"
	}
	if why != "" {
		unix.Close(fd)
		return nil, &UnsafeError{Path: path, Reason: why, Hint: "remove it"}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openatRetry(dirfd int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flag, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// openat opens the directory entry name of dir.
func openat(dir *os.File, name string, flag int) (*os.File, error) {
	return openatFd(int(dir.Fd()), name, flag, filepath.Join(dir.Name(), name))
}

func openatFd(dirfd int, name string, flag int, path string) (*os.File, error) {
	fd, err := openatRetry(dirfd, name, flag|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func mkdirat(dirfd int, name string, perm uint32) error {
	return unix.Mkdirat(dirfd, name, perm)
}

// lstatType returns the file type bits (S_IFMT) of the entry name of a
// directory, a symlink as itself.
func lstatType(dirfd int, name string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, err
	}
	return uint32(st.Mode) & unix.S_IFMT, nil
}

// CheckSubdir checks the subdirectory name if it exists: it must be a real
// directory of ours. A missing one is fine.
func (d *Dir) CheckSubdir(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	var st unix.Stat_t
	err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "stat", Path: d.Join(name), Err: err}
	}
	switch {
	case uint32(st.Mode)&unix.S_IFMT == unix.S_IFLNK:
		return &UnsafeError{Path: d.Join(name), Reason: "is a symlink", Hint: "remove it"}
	case uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR:
		return &UnsafeError{Path: d.Join(name), Reason: "is not a directory", Hint: "remove it"}
	case int(st.Uid) != d.uid:
		return &UnsafeError{Path: d.Join(name), Reason: "is owned by " + describeUser(int(st.Uid)), Hint: "remove it"}
	}
	return nil
}

// CheckTree checks every entry of the dir, and of its subdirectories, as
// StrictModes would: each file and directory must be ours, and none a
// symlink, a hard link to a file elsewhere or a device or FIFO (sockets are
// never opened, so any owner's will do). It reports the first refusal.
func (d *Dir) CheckTree() error {
	return d.checkTree(1)
}

// maxEntries bounds how many entries of one directory are checked.
const maxEntries = 100_000

func (d *Dir) checkTree(depth int) error {
	// A fresh fd, so that listing leaves d's offset alone.
	f, err := openatFd(d.fd(), ".", syscall.O_RDONLY|syscall.O_DIRECTORY, d.path)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(maxEntries)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("list %s: %w", d.path, err)
	}
	for _, name := range names {
		path := d.Join(name)
		var st unix.Stat_t
		if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, syscall.ENOENT) {
				continue // gone meanwhile
			}
			return &os.PathError{Op: "stat", Path: path, Err: err}
		}
		var why string
		switch typ := uint32(st.Mode) & unix.S_IFMT; {
		case typ == unix.S_IFLNK:
			why = "is a symlink"
		case typ == unix.S_IFSOCK:
			// Never opened, only bound after a check of its own; a service's
			// notify socket may belong to the service's user.
		case int(st.Uid) != d.uid:
			why = "is owned by " + describeUser(int(st.Uid))
		case typ == unix.S_IFREG && uint64(st.Nlink) > 1:
			why = "has other hard links"
		case typ != unix.S_IFREG && typ != unix.S_IFDIR && typ != unix.S_IFSOCK:
			why = "is not a regular file, directory or socket"
		case typ == unix.S_IFDIR && depth > 0:
			sub, err := openDir(d.fd(), name, path, d.uid, false)
			if err != nil {
				return err
			}
			err = sub.checkTree(depth - 1)
			sub.Close()
			if err != nil {
				return err
			}
		}
		if why != "" {
			return &UnsafeError{Path: path, Reason: why, Hint: "the state dir holds only what the supervisor made: remove it"}
		}
	}
	return nil
}
