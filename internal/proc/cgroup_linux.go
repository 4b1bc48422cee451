package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupDir is one cgroup directory we created: a Manager's base or a service's.
// Its fd serves clone3(CLONE_INTO_CGROUP) and the control files, so a removed
// and re-created cgroup of the same name is never confused with this one.
type cgroupDir struct {
	path string

	mu      sync.Mutex // guards the fields below; held only around short syscalls
	fd      int
	removed bool
	// killed records a write to cgroup.kill. For a child cloned into a cgroup,
	// Linux (seen on 6.18) compares the kill count it recorded from the forking
	// process's own cgroup with the target cgroup's, and SIGKILLs the child when
	// they differ: a cgroup once killed kills every child later cloned into it.
	// Such a cgroup is replaced by a fresh one before the next spawn.
	killed bool
	// noMemory: memory.current was missing (no memory controller for this
	// cgroup); it is not looked for again.
	noMemory atomic.Bool
}

func openCgroupDir(path string) (*cgroupDir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &cgroupDir{path: path, fd: fd}, nil
}

// child creates (or reuses) the sub-cgroup name and opens it.
func (c *cgroupDir) child(name string) (*cgroupDir, error) {
	path := filepath.Join(c.path, name)
	c.mu.Lock()
	err := unix.Mkdirat(c.fd, name, 0o755)
	c.mu.Unlock()
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &fs.PathError{Op: "mkdir", Path: path, Err: err}
	}
	created := err == nil
	cg, err := openCgroupDir(path)
	if err != nil && created {
		// Out of fds, say: leave no empty cgroup that nothing refers to.
		c.mu.Lock()
		_ = unix.Unlinkat(c.fd, name, unix.AT_REMOVEDIR)
		c.mu.Unlock()
	}
	return cg, err
}

// wasKilled reports whether cgroup.kill was ever written.
func (c *cgroupDir) wasKilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// withFD runs fn with the directory fd unless the cgroup was removed.
func (c *cgroupDir) withFD(fn func(fd int) error) (removed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return true, nil
	}
	return false, fn(c.fd)
}

// populated reports whether any process lives in the cgroup or below it.
func (c *cgroupDir) populated() (bool, error) {
	var pop bool
	_, err := c.withFD(func(dirfd int) error {
		b, err := readAt(dirfd, "cgroup.events")
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
			return nil // removed under us: nothing lives there
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: filepath.Join(c.path, "cgroup.events"), Err: err}
		}
		pop, err = parsePopulated(b)
		return err
	})
	return pop, err
}

func parsePopulated(b []byte) (bool, error) {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("populated ")); ok {
			return string(v) != "0", nil
		}
	}
	return false, fmt.Errorf("cgroup.events has no populated line: %q", b)
}

// kill SIGKILLs every process in the cgroup and below it (cgroup.kill).
func (c *cgroupDir) kill() error {
	_, err := c.withFD(func(dirfd int) error {
		fd, err := unix.Openat(dirfd, "cgroup.kill", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: filepath.Join(c.path, "cgroup.kill"), Err: err}
		}
		defer unix.Close(fd)
		c.killed = true
		if _, err := unix.Write(fd, []byte("1")); err != nil {
			return &fs.PathError{Op: "write", Path: filepath.Join(c.path, "cgroup.kill"), Err: err}
		}
		return nil
	})
	return err
}

// procs lists the processes of the cgroup and of every cgroup below it.
func (c *cgroupDir) procs() ([]int, error) {
	var pids []int
	_, err := c.withFD(func(int) error {
		return filepath.WalkDir(c.path, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a sub-cgroup vanished while we walked
				}
				return err
			}
			if !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			pids = append(pids, parsePids(b)...)
			return nil
		})
	})
	return pids, err
}

// waitEmpty returns once the cgroup holds no process, or ctx's error. It
// sleeps in the runtime's poller on cgroup.events, which the kernel marks
// changed when "populated" flips (at most every few ms: the kernel rate-limits
// these notifications). Unlike an inotify instance per wait, this needs no
// grace period on close and counts against no per-user instance limit.
func (c *cgroupDir) waitEmpty(ctx context.Context) error {
	if pop, err := c.populated(); err != nil || !pop {
		return err
	}
	var fd int
	removed, err := c.withFD(func(dirfd int) (err error) {
		fd, err = unix.Openat(dirfd, "cgroup.events", unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		return err
	})
	if removed || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: filepath.Join(c.path, "cgroup.events"), Err: err}
	}
	// Non-blocking, so os.NewFile registers it with the poller.
	events := os.NewFile(uintptr(fd), filepath.Join(c.path, "cgroup.events"))
	defer events.Close()
	rc, err := events.SyscallConn()
	if err != nil {
		return c.pollEmpty(ctx)
	}
	stop := context.AfterFunc(ctx, func() { _ = events.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 512)
	var empty bool
	var readErr error
	err = rc.Read(func(fd uintptr) bool {
		n, err := unix.Pread(int(fd), buf, 0)
		if errors.Is(err, unix.ENODEV) {
			empty = true // the cgroup was removed: nothing lives there
			return true
		}
		if err != nil {
			readErr = &fs.PathError{Op: "read", Path: events.Name(), Err: err}
			return true
		}
		pop, err := parsePopulated(buf[:n])
		readErr, empty = err, !pop
		return err != nil || empty
	})
	switch {
	case ctx.Err() != nil && !empty:
		return ctx.Err()
	case readErr != nil:
		return readErr
	case err != nil:
		// Not pollable after all (an unusual kernel): fall back to polling.
		return c.pollEmpty(ctx)
	}
	return nil
}

// pollEmpty polls populated with a short bounded interval; the fallback of waitEmpty.
func (c *cgroupDir) pollEmpty(ctx context.Context) error {
	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		pop, err := c.populated()
		if err != nil || !pop {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			interval = min(2*interval, 20*time.Millisecond)
			timer.Reset(interval)
		}
	}
}

// killAndWait kills everything in the cgroup and waits, bounded, until it is empty.
func (c *cgroupDir) killAndWait(timeout time.Duration) error {
	pop, err := c.populated()
	if err != nil || !pop {
		return err
	}
	if err := c.kill(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.waitEmpty(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w", c.path, ErrLeftover)
		}
		return err
	}
	return nil
}

// removeCgroupChildren removes every sub-cgroup below path, deepest first.
// It fails on a populated one.
func removeCgroupChildren(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue // the control files go with the directory
		}
		sub := filepath.Join(path, e.Name())
		if err := removeCgroupChildren(sub); err != nil {
			return err
		}
		if err := unix.Rmdir(sub); err != nil && !errors.Is(err, unix.ENOENT) {
			return &fs.PathError{Op: "rmdir", Path: sub, Err: err}
		}
	}
	return nil
}

// remove deletes the cgroup and everything below it, which must be empty, and
// releases its fd. Processes holding this cgroupDir then see their tree as gone.
func (c *cgroupDir) remove() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	if err := removeCgroupChildren(c.path); err != nil {
		return err
	}
	if err := unix.Rmdir(c.path); err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "rmdir", Path: c.path, Err: err}
	}
	c.removed = true
	unix.Close(c.fd)
	return nil
}

// removeIfEmpty deletes the cgroup when it has no sub-cgroup (and so no
// process) and releases its fd.
func (c *cgroupDir) removeIfEmpty() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	if err := unix.Rmdir(c.path); err != nil && !errors.Is(err, unix.ENOENT) {
		return &fs.PathError{Op: "rmdir", Path: c.path, Err: err}
	}
	c.removed = true
	unix.Close(c.fd)
	return nil
}

// release closes the fd and leaves the directory in place.
func (c *cgroupDir) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.removed {
		c.removed = true
		unix.Close(c.fd)
	}
}

// readAt reads a small control file relative to dirfd.
func readAt(dirfd int, name string) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 512)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
