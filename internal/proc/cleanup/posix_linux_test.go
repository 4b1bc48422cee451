package cleanup

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// pidfdCounts are what would show that a pidfd was used: calls to
// pidfd_open, and pidfds open in this process beyond base whenever a signal
// is about to be sent. (os/exec holds a pidfd for each child it started:
// base counts those.)
type pidfdCounts struct{ opened, base, extraAtSignal int }

// posix selects the POSIX path for the test and counts pidfds.
func posix(t *testing.T) *pidfdCounts {
	t.Helper()
	prev := platform.Current()
	platform.Set(platform.Portable())
	realOpen := pidfdOpen
	c := new(pidfdCounts)
	pidfdOpen = func(pid int) (int, error) { c.opened++; return realOpen(pid) }
	testHookSignal = func(*Pinned) { c.extraAtSignal += max(openPidfds(t)-c.base, 0) }
	t.Cleanup(func() {
		platform.Set(prev)
		pidfdOpen = realOpen
		testHookSignal = nil
	})
	return c
}

// check fails t if a pidfd was used.
func (c *pidfdCounts) check(t *testing.T) {
	t.Helper()
	if c.opened != 0 || c.extraAtSignal != 0 {
		t.Fatalf("POSIX path: %d pidfd_open calls, %d more pidfds open when signalling", c.opened, c.extraAtSignal)
	}
}

// openPidfds counts this process's open pidfds.
func openPidfds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}

func TestOpenPidfdsCounts(t *testing.T) {
	before := openPidfds(t)
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if errors.Is(err, unix.ENOSYS) {
		t.Skip("no pidfds on this kernel")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if n := openPidfds(t); n != before+1 {
		t.Fatalf("%d pidfds open with one more, %d before", n, before)
	}
}

func TestPOSIXKillRecorded(t *testing.T) {
	c := posix(t)
	cmd, done := sleeper(t)
	pid := cmd.Process.Pid
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	c.base = openPidfds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The same pid under another start time is a stranger: left alone.
	if killed, err := KillRecorded(ctx, []Record{{Pid: pid, Start: start + 1}}); killed != 0 || err != nil {
		t.Fatalf("stranger: killed %d, err %v", killed, err)
	}
	select {
	case <-done:
		t.Fatal("a process whose start time differs was killed")
	default:
	}
	killed, err := KillRecorded(ctx, []Record{{Pid: pid, Start: start}})
	if killed != 1 || err != nil {
		t.Fatalf("killed %d, err %v: want 1, nil", killed, err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the recorded process is still alive")
	}
	c.check(t)
}

func TestPOSIXKillRecordedGroup(t *testing.T) {
	c := posix(t)
	// A group leader and two members that will outlive it.
	cmd := exec.Command("sh", "-c", "sleep 60 & echo $!; sleep 60 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-done })
	r := bufio.NewReader(out)
	var members []int
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		m, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	leader := cmd.Process.Pid
	start, err := observe.StartTime(leader)
	if err != nil {
		t.Fatal(err)
	}
	c.base = openPidfds(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	killed, err := KillRecorded(ctx, []Record{{Pid: leader, Pgid: leader, Start: start}})
	if killed != 1 || err != nil {
		t.Fatalf("killed %d, err %v: want 1, nil", killed, err)
	}
	// KillRecorded returned once the group held no live process.
	for _, m := range members {
		if st, ok := observe.Read(m); ok && st.Pgrp == leader && st.State != 'Z' {
			t.Errorf("group member %d still alive: %+v", m, st)
		}
	}
	c.check(t)
}

func TestPOSIXPin(t *testing.T) {
	c := posix(t)
	cmd, done := sleeper(t)
	pid := cmd.Process.Pid
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	c.base = openPidfds(t)
	if p, err := Pin(Record{Pid: pid, Start: start + 1}); p != nil || err != nil {
		t.Fatalf("pinned a process with another start time: %v, %v", p, err)
	}
	p, err := Pin(Record{Pid: pid, Start: start})
	if err != nil || p == nil {
		t.Fatalf("Pin(live, right start) = %v, %v", p, err)
	}
	defer p.Close()
	if p.pidfd != -1 {
		t.Fatalf("pinned with pidfd %d on the POSIX path", p.pidfd)
	}
	// A record whose start time no longer matches is not signalled.
	stranger := *p
	stranger.Start++
	if err := stranger.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("signal to a stranger: %v", err)
	}
	select {
	case <-done:
		t.Fatal("the signal reached a process whose start time differs")
	default:
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pinned process did not die of the signal")
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("signal after exit: %v", err)
	}
	c.check(t)
}

// TestPidfdPathOpensPidfds shows that the counters above see pidfds when
// they are used.
func TestPidfdPathOpensPidfds(t *testing.T) {
	if !platform.Native().Pidfd {
		t.Skip("no pidfds")
	}
	realOpen := pidfdOpen
	opened := 0
	pidfdOpen = func(pid int) (int, error) { opened++; return realOpen(pid) }
	t.Cleanup(func() { pidfdOpen = realOpen })
	cmd, _ := sleeper(t)
	start, err := observe.StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	base := openPidfds(t)
	p, err := Pin(Record{Pid: cmd.Process.Pid, Start: start})
	if err != nil || p == nil {
		t.Fatalf("Pin = %v, %v", p, err)
	}
	defer p.Close()
	if opened != 1 || p.pidfd < 0 || openPidfds(t) != base+1 {
		t.Fatalf("pidfd path: %d pidfd_open calls, pidfd %d, %d pidfds open, %d before", opened, p.pidfd, openPidfds(t), base)
	}
}

// TestPOSIXSignalReportsAReusedPid: when the pid names another process
// right after the signal, Signal says the signal may have reached it.
func TestPOSIXSignalReportsAReusedPid(t *testing.T) {
	c := posix(t)
	cmd, done := sleeper(t)
	pid := cmd.Process.Pid
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Pin(Record{Pid: pid, Start: start})
	if err != nil || p == nil {
		t.Fatalf("Pin = %v, %v", p, err)
	}
	defer p.Close()
	// As if the recorded process had ended between the check and the
	// signal, and the sleep had taken its pid.
	testHookSignal = func(p *Pinned) { p.Start++; c.extraAtSignal += max(openPidfds(t)-c.base, 0) }
	c.base = openPidfds(t)
	// SIGSTOP, not a deadly signal: the check after the signal reads the
	// process again, which a killed sleep, reaped at once, would not allow.
	if err := p.Signal(syscall.SIGSTOP); !errors.Is(err, ErrPidReused) {
		t.Fatalf("Signal: %v, want ErrPidReused", err)
	}
	end := time.Now().Add(30 * time.Second)
	for {
		if st, err := observe.Of(pid); err == nil && st.State == 'T' {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the signal was not sent")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.check(t)
	cmd.Process.Kill()
	<-done
}
