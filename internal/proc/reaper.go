package proc

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// reaper is the one place in the process that waits for children. It is shared
// by every Manager: wait4(-1) cannot be split between owners.
var reaper struct {
	start sync.Once
	// wake nudges the reap loop (it is also where SIGCHLD arrives); set once
	// the loop runs.
	wake chan os.Signal

	// mu guards procs, vanished and every Process's onExit. It is also held
	// around every fork (see forker), so a child is always registered before
	// the reap loop can see its exit status.
	mu    sync.Mutex
	procs map[int]*Process
	// vanished are Processes whose end was settled before their OnExit was
	// armed, or without a wait (a resumed child that is no longer ours); the
	// reap loop runs their OnExit.
	vanished []*Process

	// reaped counts statuses handed to registered Processes; tests read it.
	reaped int
}

// The table exists before the loop starts, so resumed children can be
// registered before the first wait4.
func init() { reaper.procs = make(map[int]*Process) }

// startReaper installs the SIGCHLD handler and the reap loop once per process.
func startReaper() {
	reaper.start.Do(func() {
		// One slot suffices: signals coalesce and every wake-up drains all exits.
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		reaper.wake = ch
		go func() {
			// Children that ended before Notify took effect raised no signal we saw.
			reapAll()
			for range ch {
				reapAll()
			}
		}()
	})
}

// wakeReaper makes the reap loop drain once more, for exits or vanished
// Processes that no SIGCHLD announced.
func wakeReaper() {
	startReaper()
	select {
	case reaper.wake <- syscall.SIGCHLD:
	default: // a wake-up is pending already
	}
}

// reapAll collects every exited child, handing known ones their status and
// dropping the rest (orphans re-parented to us as subreaper). Exit callbacks
// run between waits, with the lock released, so a callback may use the
// Manager.
func reapAll() {
	for {
		p, onExit, notes, more := reapOne()
		if !more {
			return
		}
		deliver(notes)
		if onExit != nil {
			onExit(p)
		}
	}
}

// reapOne settles one ended Process, if any, and returns it with the
// callback to run and the changes to tracked descendants to report. p is nil
// for an unknown orphan; more is false once nothing is left to collect for now.
func reapOne() (p *Process, onExit func(*Process), notes []trackNote, more bool) {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if len(reaper.vanished) > 0 {
		p = reaper.vanished[0]
		reaper.vanished[0] = nil
		reaper.vanished = reaper.vanished[1:]
		return p, p.onExit, nil, true
	}
	for {
		var ws syscall.WaitStatus
		// No __WALL: Go's runtime clones a probe child with no exit signal and
		// waits for it itself; that child must stay invisible to us.
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return nil, nil, nil, false // ECHILD: no children; 0: none has exited yet
		}
		p, ok := reaper.procs[pid]
		if !ok {
			return nil, nil, forgetTrackedLocked(pid), true
		}
		delete(reaper.procs, pid)
		p.exit = exitFromStatus(ws, time.Now())
		reaper.reaped++
		// The children it left are ours by now: they are its tree's, and
		// must be known before anyone sees it ended and kills that tree.
		notes = p.attributeAtExitLocked()
		close(p.done)
		return p, p.onExit, notes, true
	}
}

// armOnExit makes the reap loop call fn once p's main process is reaped, also
// when that already happened.
func armOnExit(p *Process, fn func(*Process)) {
	if fn == nil {
		return
	}
	reaper.mu.Lock()
	p.onExit = fn
	queued := p.reaped()
	if queued {
		reaper.vanished = append(reaper.vanished, p)
	}
	reaper.mu.Unlock()
	if queued {
		wakeReaper()
	}
}

func exitFromStatus(ws syscall.WaitStatus, at time.Time) Exit {
	if ws.Signaled() {
		return Exit{Code: -1, Signal: int(ws.Signal()), Core: ws.CoreDump(), At: at}
	}
	return Exit{Code: ws.ExitStatus(), At: at}
}
