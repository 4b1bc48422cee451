package proc

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setupCgroups creates (or cleans) this supervisor's base cgroup
// "<own cgroup>/respawn-<instanceID>" and checks that every mechanism cgroup
// containment needs works. An error says why process groups must be used.
func setupCgroups(instanceID string) (*cgroupDir, error) {
	basePath, err := baseCgroupPath(instanceID)
	if err != nil {
		return nil, err
	}
	if err := removeLeftoverBase(basePath); err != nil {
		return nil, err
	}
	if err := unix.Mkdir(basePath, 0o755); err != nil {
		return nil, &fs.PathError{Op: "mkdir", Path: basePath, Err: err}
	}
	base, err := openCgroupDir(basePath)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*cgroupDir, error) {
		_ = base.remove()
		return nil, err
	}
	if err := unix.Faccessat(base.fd, "cgroup.kill", unix.W_OK, 0); err != nil {
		return fail(fmt.Errorf("no writable cgroup.kill in %s (kernel before 5.14?): %w", basePath, err))
	}
	if err := probeCloneIntoCgroup(base); err != nil {
		return fail(err)
	}
	return base, nil
}

// baseCgroupPath returns where the base cgroup of instanceID lives: below
// our own cgroup.
func baseCgroupPath(instanceID string) (string, error) {
	mnt, root, err := cgroup2Mount("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	own, err := ownCgroup("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(own, root)
	// With root "/a", "/ab" is not below it although it has the prefix.
	if !ok || (root != "/" && rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", fmt.Errorf("own cgroup %s is outside the cgroup2 mount (root %s)", own, root)
	}
	return filepath.Join(mnt, rel, "respawn-"+instanceID), nil
}

// resumeCgroups opens, killing nothing, the base cgroup that the previous
// image of this process left (an in-place re-exec keeps our cgroup) and the
// cgroup of every service below it. base is nil when there is none: the
// previous image contained services by process group.
func resumeCgroups(instanceID string) (base *cgroupDir, services map[string]*cgroupDir, err error) {
	path, err := baseCgroupPath(instanceID)
	if err != nil {
		return nil, nil, err
	}
	base, err = openCgroupDir(path)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := unix.Faccessat(base.fd, "cgroup.kill", unix.W_OK, 0); err != nil {
		base.release()
		return nil, nil, fmt.Errorf("no writable cgroup.kill in %s: %w", path, err)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		base.release()
		return nil, nil, err
	}
	services = make(map[string]*cgroupDir)
	for _, e := range entries {
		if !e.IsDir() || !validServiceName(e.Name()) {
			continue
		}
		cg, err := openCgroupDir(filepath.Join(path, e.Name()))
		if errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile: nothing of ours lives there
		}
		if err != nil {
			releaseCgroups(base, services)
			return nil, nil, err
		}
		// Whether the previous image wrote its cgroup.kill is lost, and a
		// killed cgroup kills every child later cloned into it (see
		// cgroupDir.killed): the service's next spawn gets a fresh cgroup.
		cg.killed = true
		services[e.Name()] = cg
	}
	return base, services, nil
}

// releaseCgroups closes the fds of base and services, leaving the directories.
func releaseCgroups(base *cgroupDir, services map[string]*cgroupDir) {
	for _, cg := range services {
		cg.release()
	}
	if base != nil {
		base.release()
	}
}

// removeLeftoverBase kills and removes what a previous run (which crashed,
// since it did not remove its base) left under path: nothing of it may survive
// next to the new run. The base itself goes too, as a killed cgroup cannot be
// spawned into again (see cgroupDir.killed).
func removeLeftoverBase(path string) error {
	old, err := openCgroupDir(path)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := old.killAndWait(leftoverTimeout); err != nil {
		old.release()
		return fmt.Errorf("clean up previous run: %w", err)
	}
	if err := old.remove(); err != nil {
		old.release()
		return fmt.Errorf("clean up previous run: %w", err)
	}
	return nil
}

// probeCloneIntoCgroup checks that clone3(CLONE_INTO_CGROUP) is allowed (a
// seccomp filter or an old kernel may refuse it) by starting a child into the
// cgroup that execs a path that cannot exist there: ENOENT from exec proves the
// clone worked; any other error is the clone's.
func probeCloneIntoCgroup(c *cgroupDir) error {
	path := filepath.Join(c.path, "respawn-probe-does-not-exist")
	attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: c.fd}}
	_, err := forkExec(path, []string{path}, attr, nil)
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err == nil {
		// The child died before it could report: killed on arrival in the cgroup.
		return errors.New("a child cloned into a cgroup is killed at once (kernel cgroup.kill accounting)")
	}
	return fmt.Errorf("clone3 into cgroup: %w", err)
}

// cgroup2Mount finds the cgroup2 mount point and the cgroup path it shows as root.
func cgroup2Mount(mountinfo string) (mnt, root string, err error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if fstype, _, _ := strings.Cut(post, " "); fstype != "cgroup2" {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 5 {
			continue
		}
		return unescapeMountinfo(fields[4]), unescapeMountinfo(fields[3]), nil
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read %s: %w", mountinfo, err)
	}
	return "", "", errors.New("no cgroup2 file system mounted")
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space, ...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns this process's cgroup2 path from the "0::" line.
func ownCgroup(procCgroup string) (string, error) {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if path, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			if !strings.HasPrefix(path, "/") {
				return "", fmt.Errorf("odd cgroup2 path %q in %s", path, procCgroup)
			}
			return path, nil
		}
	}
	return "", fmt.Errorf("no cgroup2 entry in %s", procCgroup)
}
