package proc

import (
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// forker runs every fork of the process on one goroutine that stays locked to
// its OS thread and never returns: the parent-death signal of a child fires
// when the thread that forked it exits, so that thread must live as long as
// the process.
var forker struct {
	start sync.Once
	reqs  chan func()
}

func startForker() {
	forker.start.Do(func() {
		forker.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the process
			for fn := range forker.reqs {
				fn()
			}
		}()
	})
}

// ForkOnMainThread runs main in a new goroutine while the calling goroutine
// serves every fork (and Reexec) of the process; it returns main's result.
// Call it from the main goroutine with the main OS thread locked (by
// runtime.LockOSThread in an init function). Forking from the thread group
// leader matters across an in-place upgrade: an execve kills every
// parent-death-signal child that another thread forked, and the leader is the
// one thread that survives an exec as itself, so children forked before and
// after an upgrade all stay children of the thread that execs next.
func ForkOnMainThread(main func() int) int {
	mine := false
	forker.start.Do(func() {
		forker.reqs = make(chan func())
		mine = true
	})
	if !mine {
		return main() // the forker already runs elsewhere
	}
	result := make(chan int, 1)
	go func() { result <- main() }()
	for {
		select {
		case fn := <-forker.reqs:
			fn()
		case code := <-result:
			return code
		}
	}
}

// onForkThread runs fn on the fork thread and returns when it is done.
func onForkThread(fn func()) {
	startForker()
	done := make(chan struct{})
	forker.reqs <- func() {
		defer close(done)
		fn()
	}
	<-done
}

// forkExec starts argv0 on the fork thread. When p is not nil it is registered
// with the reaper under the same lock that the reap loop holds around wait4, so
// its exit status cannot be collected before it is known.
func forkExec(argv0 string, argv []string, attr *syscall.ProcAttr, p *Process) (pid int, err error) {
	startReaper()
	onForkThread(func() {
		reaper.mu.Lock()
		defer reaper.mu.Unlock()
		pid, err = syscall.ForkExec(argv0, argv, attr)
		if err != nil || p == nil {
			return
		}
		p.pid = pid
		p.pgid = pid
		p.startedAt = time.Now()
		if p.track != nil {
			// Unreaped, so surely the child's; its descendants start later.
			p.track.start, _ = observe.StartTime(pid)
		}
		reaper.procs[pid] = p
	})
	return pid, err
}
