package cleanup

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// sleeper starts a process this test binary waits for itself: nothing here
// runs a reaper of its own.
func sleeper(t *testing.T) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return cmd, done
}

func TestPinChecksTheStartTime(t *testing.T) {
	cmd, done := sleeper(t)
	pid := cmd.Process.Pid
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Another start time: a process that reused the pid is not pinned.
	if p, err := Pin(Record{Pid: pid, Start: start + 1}); p != nil || err != nil {
		t.Fatalf("pinned a process with another start time: %v, %v", p, err)
	}
	p, err := Pin(Record{Pid: pid, Start: start})
	if err != nil || p == nil {
		t.Fatalf("Pin(live, right start) = %v, %v", p, err)
	}
	defer p.Close()
	if p.Zombie() {
		t.Error("a live sleep pinned as a zombie")
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the pinned process did not die of the signal")
	}
	// Gone and reaped: signalling it is no error.
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("signal after exit: %v", err)
	}
}

func TestKillRecordedSkipsStrangersAndRejectsBadRecords(t *testing.T) {
	cmd, done := sleeper(t)
	pid := cmd.Process.Pid
	start, err := observe.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The live sleep under another start time is a stranger; pid 0 is bad.
	killed, err := KillRecorded(ctx, []Record{{Pid: pid, Start: start + 7}, {Pid: 0}})
	if killed != 0 || !errors.Is(err, observe.ErrInvalidPid) {
		t.Fatalf("killed %d, err %v: want 0 and ErrInvalidPid", killed, err)
	}
	select {
	case <-done:
		t.Fatal("a process whose start time differs was killed")
	default:
	}
	// Recorded as it is: killed, and waited for.
	killed, err = KillRecorded(ctx, []Record{{Pid: pid, Start: start}})
	if killed != 1 || err != nil {
		t.Fatalf("killed %d, err %v: want 1, nil", killed, err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the recorded process is still alive")
	}
}
