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

	// mu guards procs. It is also held around every fork (see forker), so a child
	// is always registered before the reap loop can see its exit status.
	mu    sync.Mutex
	procs map[int]*Process

	// reaped counts statuses handed to registered Processes; tests read it.
	reaped int
}

// startReaper installs the SIGCHLD handler and the reap loop once per process.
func startReaper() {
	reaper.start.Do(func() {
		reaper.procs = make(map[int]*Process)
		// One slot suffices: signals coalesce and every wake-up drains all exits.
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			// Children that ended before Notify took effect raised no signal we saw.
			reapAll()
			for range ch {
				reapAll()
			}
		}()
	})
}

// reapAll collects every exited child, handing known ones their status and
// dropping the rest (orphans re-parented to us as subreaper).
func reapAll() {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		// No __WALL: Go's runtime clones a probe child with no exit signal and
		// waits for it itself; that child must stay invisible to us.
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none has exited yet
		}
		p, ok := reaper.procs[pid]
		if !ok {
			continue
		}
		delete(reaper.procs, pid)
		p.exit = exitFromStatus(ws, time.Now())
		reaper.reaped++
		close(p.done)
	}
}

func exitFromStatus(ws syscall.WaitStatus, at time.Time) Exit {
	if ws.Signaled() {
		return Exit{Code: -1, Signal: int(ws.Signal()), Core: ws.CoreDump(), At: at}
	}
	return Exit{Code: ws.ExitStatus(), At: at}
}
