package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes services orphaned by a crashed or killed supervisor
// reparent to the bench instead of init, so sweep can still find them.
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return nil
}

// sweep kills and reaps every remaining descendant of the bench. It must run
// only while no exec.Cmd of the bench is still waiting, since it reaps any
// child. It returns how many live processes it had to kill.
func sweep() (int, error) {
	self := os.Getpid()
	killed := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := descendants(self)
		if err != nil {
			return len(killed), err
		}
		live := 0
		for _, pid := range ds {
			s, err := readStat(pid)
			if err != nil || s.state == 'Z' {
				continue
			}
			live++
			if unix.Kill(pid, unix.SIGKILL) == nil {
				killed[pid] = true
			}
		}
		reapAll()
		if live == 0 {
			return len(killed), nil
		}
		if time.Now().After(deadline) {
			return len(killed), fmt.Errorf("%d processes survive SIGKILL", live)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reapAll collects every exited child without blocking.
func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}

// sleepCtx waits d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
