//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// startSupOn runs up with RESPAWN_PLATFORM set to platform, whatever the
// environment of the test says (the suite runs a second time in POSIX mode).
func startSupOn(t *testing.T, platform, config string) *sup {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sup{t: t, dir: dir, config: path, stderr: &syncBuffer{}, exited: make(chan struct{}),
		env: []string{"RESPAWN_PLATFORM=" + platform}}
	s.start()
	return s
}

// The POSIX path uses none of Linux's facilities, and the Linux path does:
// each check below fails on the other platform, so it can fail on its own.
func TestPOSIXPlatformUsesNoLinuxFacility(t *testing.T) {
	for _, platform := range []string{"linux", "posix"} {
		t.Run(platform, func(t *testing.T) {
			t.Parallel()
			posix := platform == "posix"
			mark := marker(t)
			dir := t.TempDir()
			deathFile := filepath.Join(dir, "pdeathsig")
			pidfile := filepath.Join(dir, "ext.pid")
			ext := startExternal(t, "sleep 9"+mark, pidfile)
			// The service reads its own parent-death signal, then becomes a sleep.
			probe := fmt.Sprintf(`import ctypes, os
c = ctypes.c_int(-1)
ctypes.CDLL(None).prctl(2, ctypes.byref(c))
open(%q + ".tmp", "w").write(str(c.value))
os.rename(%q + ".tmp", %q)
os.execvp("sleep", ["sleep", "%s1"])
`, deathFile, deathFile, deathFile, mark)
			s := startSupOn(t, platform, fmt.Sprintf(`version: 1
services:
  probe:
    command: ["python3", "-c", %q]
  tree:
    command: ["sh", "-c", "(sleep %[2]s2 &); exec sleep %[2]s3"]
  ext: {kind: external, pidfile: %[3]s}
`, probe, mark, pidfile))
			for _, name := range []string{"probe", "tree", "ext"} {
				s.waitFor(name, "running", func(v api.Service) bool { return v.State == "running" })
			}
			st := s.status()
			if st.Supervisor.Platform != platform {
				t.Fatalf("status says platform %q, want %q", st.Supervisor.Platform, platform)
			}
			keeper, core := st.Supervisor.Pid, st.Supervisor.CorePid

			// Parent-death signal: SIGKILL on Linux, none on the POSIX path.
			death := waitFileText(t, deathFile)
			if want := map[bool]string{false: "9", true: "0"}[posix]; death != want {
				t.Errorf("a service's parent-death signal is %s, want %s", death, want)
			}

			// Subreaper: the orphaned grandchild goes to the keeper on Linux,
			// elsewhere on the POSIX path.
			waitSome(t, "sleep "+mark+"2")
			grand := procsWith("sleep " + mark + "2")[0]
			if ppid := ppidOf(t, grand); (ppid == keeper) == posix {
				t.Errorf("an orphaned grandchild's parent is %d, keeper %d (posix %v)", ppid, keeper, posix)
			}

			// Cgroups: the POSIX path contains by process group only, its
			// services in the keeper's own cgroup.
			svc := s.service("tree")
			if posix {
				if svc.Containment != "process-group" || st.Supervisor.Containment != "process-group" {
					t.Errorf("containment %q / %q on the POSIX path", svc.Containment, st.Supervisor.Containment)
				}
				if a, b := cgroupOf(t, svc.Pid), cgroupOf(t, keeper); a != b {
					t.Errorf("a service's cgroup %q is not the keeper's %q", a, b)
				}
			}

			// The keeper–core socket: SOCK_SEQPACKET on Linux, SOCK_STREAM on the POSIX path.
			types := socketTypes(t, keeper)
			if seq := types["0005"] > 0; seq == posix {
				t.Errorf("the keeper's Unix sockets by type: %v (posix %v)", types, posix)
			}

			// Pidfds: the external service is watched through one on Linux;
			// the POSIX path has none open anywhere.
			n := pidfds(keeper) + pidfds(core)
			if (n > 0) == posix {
				t.Errorf("%d pidfds open in the keeper and core (posix %v)", n, posix)
			}

			// The external process's end is seen either way.
			ext.Process.Kill()
			ext.Wait()
			s.waitFor("ext", "not running", func(v api.Service) bool { return v.State != "running" })
		})
	}
}

// On the POSIX path a killed keeper's services die all the same — the
// direct ones, a child, and a double-forked grandchild that kept the
// service's process group — and the next up starts each once.
func TestPOSIXKeeperKilledLeavesNothing(t *testing.T) {
	t.Parallel()
	mark := marker(t)
	s := startSupOn(t, "posix", fmt.Sprintf(`version: 1
services:
  direct:
    command: ["sleep", "%[1]s1"]
  tree:
    command: ["sh", "-c", "sleep %[1]s2 & (sleep %[1]s4 &); exec sleep %[1]s3"]
`, mark))
	s.waitFor("direct", "running", func(v api.Service) bool { return v.State == "running" })
	s.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"2")
	waitSome(t, "sleep "+mark+"4")
	st := s.status()
	tree := s.service("tree")
	grand := procsWith("sleep " + mark + "4")[0]
	if pg, _ := syscall.Getpgid(grand); pg != tree.Pid {
		t.Fatalf("the grandchild's process group is %d, want the service's %d", pg, tree.Pid)
	}
	if ppidOf(t, grand) == st.Supervisor.Pid {
		t.Fatalf("the grandchild was re-parented to the keeper: a subreaper is in use")
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	for _, c := range []string{"1", "2", "3", "4"} {
		waitNone(t, "sleep "+mark+c)
	}
	waitGonePid(t, st.Supervisor.CorePid)

	s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{}), env: s.env}
	s2.start()
	s2.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"4")
	for _, c := range []string{"1", "2", "3", "4"} {
		if n := len(procsWith("sleep " + mark + c)); n != 1 {
			t.Errorf("sleep %s%s runs %d times, want once", mark, c, n)
		}
	}
}

// With no core to clean up after the keeper (it is stopped when the keeper
// dies, then killed), the next up on the POSIX path kills what the records
// name — without a subreaper, pidfd or cgroup to find them.
func TestPOSIXNextUpKillsRecordedLeftovers(t *testing.T) {
	t.Parallel()
	mark := marker(t)
	s := startSupOn(t, "posix", fmt.Sprintf(`version: 1
services:
  tree:
    command: ["sh", "-c", "(sleep %[1]s4 &); exec sleep %[1]s3"]
`, mark))
	s.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" })
	waitSome(t, "sleep "+mark+"4")
	st := s.status()
	// Both at once, so that no core is left to clean up.
	syscall.Kill(st.Supervisor.CorePid, syscall.SIGKILL)
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	waitGonePid(t, st.Supervisor.CorePid)
	if len(procsWith("sleep "+mark+"3")) != 1 || len(procsWith("sleep "+mark+"4")) != 1 {
		t.Fatalf("with keeper and core killed at once the services should be left running, found %v %v",
			procsWith("sleep "+mark+"3"), procsWith("sleep "+mark+"4"))
	}
	s2 := &sup{t: t, dir: s.dir, config: s.config, stderr: &syncBuffer{}, exited: make(chan struct{}), env: s.env}
	s2.start()
	s2.waitFor("tree", "running", func(v api.Service) bool { return v.State == "running" && v.Pid != st.Services[0].Pid })
	waitSome(t, "sleep "+mark+"4")
	for _, c := range []string{"3", "4"} {
		if n := len(procsWith("sleep " + mark + c)); n != 1 {
			t.Errorf("sleep %s%s runs %d times, want once (the old one killed by records)", mark, c, n)
		}
	}
}

// startExternal starts cmd (a sleep) in its own session, as something
// respawn did not start, and writes its pid to pidfile.
func startExternal(t *testing.T, cmd, pidfile string) *osProcess {
	t.Helper()
	f := strings.Fields(cmd)
	p, err := os.StartProcess("/bin/"+f[0], f, &os.ProcAttr{Sys: &syscall.SysProcAttr{Setsid: true}})
	if err != nil {
		t.Fatal(err)
	}
	ext := &osProcess{p}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(p.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ext
}

type osProcess struct{ Process *os.Process }

func (p *osProcess) Wait() { p.Process.Wait() }

// waitFileText waits until path exists and returns its text.
func waitFileText(t *testing.T, path string) string {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not written after %s", path, deadline)
	return ""
}

func ppidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}

func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// socketTypes counts pid's Unix sockets by type as /proc/net/unix writes it
// (0001 stream, 0002 datagram, 0005 seqpacket).
func socketTypes(t *testing.T, pid int) map[string]int {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range bytes.Lines(table) {
		f := strings.Fields(string(line))
		if len(f) >= 7 && inodes[f[6]] {
			out[f[4]]++
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Unix socket found among pid %d's fds", pid)
	}
	return out
}

// pidfds counts pid's open pidfds.
func pidfds(pid int) int {
	n := 0
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}
