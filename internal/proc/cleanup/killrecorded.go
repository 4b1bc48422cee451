//go:build unix

package cleanup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// Pinned is a Record whose process was found alive with its recorded start
// time.
type Pinned struct {
	Record
	// pidfd pins the checked process, so the SIGKILL cannot reach a process
	// that took its pid after the check; -1 without pidfds (see Signal).
	pidfd  int
	zombie bool
}

// KillRecorded SIGKILLs what a previous run left behind, from its records:
// every recorded process that still exists with the recorded start time, and
// each recorded process group when that is safe. A group -Pgid is signalled
// only when its leader (the process whose pid is Pgid) is alive with the
// start time recorded for it, if recs hold it; or when no process with pid
// Pgid exists at all: no Unix gives a new process a pid that is still a
// group's id, so the group is then still the recorded one. A process whose
// start time differs (its pid was reused) is never signalled, nor is this
// process, its own group, or pid or group 1. Without pidfds (macOS, FreeBSD,
// Linux's POSIX path) each process is signalled just after its start time was
// found again (see Pinned.Signal). Then it waits, bounded by ctx, until all
// of them are gone (zombies count as gone: reaping them is their parent's
// job).
//
// killed counts the recorded processes that were alive and got the signal;
// members of a group that were not recorded are killed but not counted. A
// record with a pid that is not positive or a negative Pgid gives an error
// wrapping observe.ErrInvalidPid, and the others are still handled; what
// outlives ctx gives an error wrapping ErrLeftover and ctx's error.
func KillRecorded(ctx context.Context, recs []Record) (killed int, err error) {
	var errs []error
	targets, groups := checkRecords(recs, &errs)
	defer func() {
		for _, t := range targets {
			if t.pidfd >= 0 {
				unix.Close(t.pidfd)
			}
		}
	}()

	// Groups first, while the checked leaders are certainly still alive.
	var signalled []int
	for _, pgid := range groups {
		switch err := unix.Kill(-pgid, unix.SIGKILL); {
		case err == nil:
			signalled = append(signalled, pgid)
		case !errors.Is(err, unix.ESRCH):
			errs = append(errs, fmt.Errorf("kill process group %d: %w", pgid, err))
		}
	}
	for _, t := range targets {
		if err := t.kill(); err != nil {
			errs = append(errs, fmt.Errorf("kill pid %d: %w", t.Pid, err))
			continue
		}
		if !t.zombie {
			killed++
		}
	}
	if err := waitRecordedGone(ctx, targets, signalled); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return killed, fmt.Errorf("kill recorded processes: %w", err)
	}
	return killed, nil
}

// checkRecords finds the recorded processes that are still the recorded ones
// and the groups that are safe to signal. Bad records go to errs.
func checkRecords(recs []Record, errs *[]error) (targets []*Pinned, groups []int) {
	self, ownGroup := os.Getpid(), syscall.Getpgrp()
	byPid := make(map[int]*Pinned)
	listed := make(map[int]bool) // pids recorded, alive or not
	for _, r := range recs {
		if r.Pid <= 0 || r.Pgid < 0 {
			*errs = append(*errs, fmt.Errorf("record pid %d, pgid %d: %w", r.Pid, r.Pgid, observe.ErrInvalidPid))
			continue
		}
		if listed[r.Pid] || r.Pid == self || r.Pid == 1 {
			continue
		}
		listed[r.Pid] = true
		t, err := Pin(r)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		if t != nil {
			byPid[r.Pid] = t
			targets = append(targets, t)
		}
	}
	seen := make(map[int]bool)
	for _, r := range recs {
		pgid := r.Pgid
		if pgid <= 1 || pgid == ownGroup || seen[pgid] || r.Pid <= 0 {
			continue
		}
		seen[pgid] = true
		var safe bool
		if listed[pgid] && byPid[pgid] != nil {
			safe = true
		} else {
			safe = errors.Is(unix.Kill(pgid, 0), unix.ESRCH)
		}
		if safe {
			groups = append(groups, pgid)
		}
	}
	return targets, groups
}

// Pin returns r's process when it still exists with the recorded start
// time; nil when it does not. Where pidfds are in force (Linux, unless the
// POSIX path was chosen) a pidfd holds it, so that no later process that
// takes its pid can be signalled; elsewhere Signal checks the start time
// again. The caller closes it.
func Pin(r Record) (*Pinned, error) {
	fd := -1
	if pidfdsInForce() {
		var err error
		fd, err = pidfdOpen(r.Pid)
		switch {
		case errors.Is(err, unix.ESRCH):
			return nil, nil
		case errors.Is(err, unix.ENOSYS):
			fd = -1 // before Linux 5.3: as without pidfds
		case err != nil:
			return nil, fmt.Errorf("pidfd_open %d: %w", r.Pid, err)
		}
	}
	// Checked after the pidfd was opened: if the start time matches, the pidfd
	// is the recorded process's.
	st, err := observe.Of(r.Pid)
	if err != nil || st.Start != r.Start {
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			return nil, fmt.Errorf("pid %d: %w", r.Pid, err)
		}
		return nil, nil
	}
	return &Pinned{Record: r, pidfd: fd, zombie: st.State == 'Z'}, nil
}

// kill sends SIGKILL to the checked process.
func (t *Pinned) kill() error { return t.Signal(unix.SIGKILL) }

// Signal sends sig to the checked process; one that is already gone is no
// error.
//
// Without a pidfd it checks the start time, signals the pid, and checks
// again. The first check keeps the signal from a process that took the pid
// before it; the second reports, with an error wrapping ErrPidReused, the
// one case left: the process ended, was reaped, and its pid was taken in the
// moment between the check and the signal, which may then have reached the
// newcomer.
func (t *Pinned) Signal(sig unix.Signal) error {
	if t.pidfd >= 0 {
		return ignoreGone(pidfdSignal(t.pidfd, sig))
	}
	if !t.sameProcess() {
		return nil
	}
	if testHookSignal != nil {
		testHookSignal(t)
	}
	if err := ignoreGone(unix.Kill(t.Pid, sig)); err != nil {
		return err
	}
	if st, err := observe.Of(t.Pid); err == nil && st.Start != t.Start {
		return fmt.Errorf("signal pid %d: %w", t.Pid, ErrPidReused)
	}
	return nil
}

// testHookSignal, when set, runs just before a signal is sent without a pidfd.
var testHookSignal func(*Pinned)

// sameProcess reports whether the pid still names the recorded process.
func (t *Pinned) sameProcess() bool {
	st, err := observe.Of(t.Pid)
	return err == nil && st.Start == t.Start
}

func ignoreGone(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// Zombie reports whether the process had exited, unreaped, when pinned.
func (t *Pinned) Zombie() bool { return t.zombie }

// Close releases the pidfd.
func (t *Pinned) Close() {
	if t.pidfd >= 0 {
		unix.Close(t.pidfd)
		t.pidfd = -1
	}
}

// exited reports whether the checked process has ended.
func (t *Pinned) exited() bool {
	if t.pidfd >= 0 {
		return pidfdExited(t.pidfd)
	}
	st, err := observe.Of(t.Pid)
	return err != nil || st.State == 'Z' || st.Start != t.Start
}

// waitRecordedGone polls, with a short bounded interval (it runs once, at
// start), until the targets have exited and the groups hold no live process.
func waitRecordedGone(ctx context.Context, targets []*Pinned, groups []int) error {
	const maxInterval = 50 * time.Millisecond
	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		targets = dropExited(targets)
		groups = dropEmptyGroups(groups)
		if len(targets) == 0 && len(groups) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d processes and %d process groups still there: %w (%w)", len(targets), len(groups), ErrLeftover, ctx.Err())
		case <-timer.C:
			interval = min(2*interval, maxInterval)
			timer.Reset(interval)
		}
	}
}

func dropExited(targets []*Pinned) []*Pinned {
	live := targets[:0:0]
	for _, t := range targets {
		if !t.exited() {
			live = append(live, t)
		}
	}
	return live
}

func dropEmptyGroups(groups []int) []int {
	live := groups[:0:0]
	for _, pgid := range groups {
		if groupHasLiveMember(pgid) {
			live = append(live, pgid)
		}
	}
	return live
}

// groupHasLiveMember reports whether a process other than a zombie is in
// group pgid. kill(-pgid, 0) alone counts zombies, whose parent may never reap
// them.
func groupHasLiveMember(pgid int) bool {
	if errors.Is(unix.Kill(-pgid, 0), unix.ESRCH) {
		return false
	}
	members, err := observe.Group(pgid)
	if err != nil {
		return true
	}
	for _, st := range members {
		if st.State != 'Z' {
			return true
		}
	}
	return false
}
