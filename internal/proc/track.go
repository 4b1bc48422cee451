package proc

import (
	"sync"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/cleanup"
)

// Descendant tracking serves process-group containment, where a process that
// calls setsid (or setpgid) leaves the group that stands for the service.
// Such descendants are found by walking the tree from the main process
// through /proc's children links (Linux), kept by pid and start time so a
// reused pid is never taken for one of them, and signalled one by one next
// to the group. Orphans re-parented to us (the child subreaper) are counted
// as the service's whose main process ended as they arrived, or whose group
// or session they are in; orphans nobody claims are still remembered, and
// killed by KillOrphans.

// maxDescendants bounds the descendants tracked per process; more are
// not tracked (and the Manager logs that once per process).
const maxDescendants = 1024

// maxOrphans bounds the orphans remembered without an owner.
const maxOrphans = 4096

// Intervals of the Manager's tracking sweep in process-group mode: a sweep
// comes trackSettle after each spawn (escapers usually leave while their
// service starts) and at least every trackSweep.
const (
	trackSettle = 500 * time.Millisecond
	trackSweep  = 10 * time.Second
)

// tracking is the descendant bookkeeping of one process-group-contained
// Process.
type tracking struct {
	// notify reports a descendant found (live) or gone; nil reports nothing.
	notify func(rec cleanup.Record, live bool)
	// desc maps each tracked descendant's pid to its start time; guarded by
	// tracker.mu.
	desc map[int]uint64
	// full latches once desc reached maxDescendants; guarded by tracker.mu.
	full bool
	// start is the main process's start time when it was spawned by us (0:
	// unknown); set before the Process is shared. An orphan that started
	// before it cannot be its descendant.
	start uint64
}

// tracker is shared by every Manager, like the reaper: orphans come to the
// process, not to a Manager.
var tracker struct {
	mu sync.Mutex // guards owners and every tracking's desc and full
	// owners holds every tracked pid: a descendant with its owner, or an
	// orphan nobody claimed yet (owner nil).
	owners map[int]owned
}

// owned is one tracked pid.
type owned struct {
	start  uint64
	owner  *Process // nil: an orphan not attributed to a service
	notify func(cleanup.Record, bool)
}

func init() { tracker.owners = make(map[int]owned) }

// trackNote is a change to report to a notify callback once no lock is held.
type trackNote struct {
	notify func(cleanup.Record, bool)
	rec    cleanup.Record
	live   bool
}

func deliver(notes []trackNote) {
	for _, n := range notes {
		if n.notify != nil {
			n.notify(n.rec, n.live)
		}
	}
}

// newTracking returns the bookkeeping for a process-group-contained Process.
func (m *Manager) newTracking() *tracking {
	return &tracking{notify: m.onTrack, desc: make(map[int]uint64)}
}

// Descendants returns the pids of the descendants tracked for p (they left
// its process group or were adopted as orphans), in no order.
func (p *Process) Descendants() []int {
	if p.track == nil {
		return nil
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	out := make([]int, 0, len(p.track.desc))
	for pid := range p.track.desc {
		out = append(out, pid)
	}
	return out
}

// forgetTrackedLocked drops pid, which the reaper just collected as an
// orphan; reaper.mu is held. Its note goes out once the lock is released.
func forgetTrackedLocked(pid int) []trackNote {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	o, ok := tracker.owners[pid]
	if !ok {
		return nil
	}
	delete(tracker.owners, pid)
	if o.owner != nil && o.owner.track != nil && o.owner.track.desc[pid] == o.start {
		delete(o.owner.track.desc, pid)
	}
	return []trackNote{{notify: o.notify, rec: cleanup.Record{Pid: pid, Start: o.start}, live: false}}
}

// startTracking runs the sweep loop of a process-group Manager until Close.
func (m *Manager) startTracking() {
	m.trackSoon = make(chan struct{}, 1)
	m.trackStop = make(chan struct{})
	m.trackDone = make(chan struct{})
	go func() {
		defer close(m.trackDone)
		timer := time.NewTimer(trackSweep)
		defer timer.Stop()
		next := time.Now().Add(trackSweep)
		for {
			select {
			case <-m.trackStop:
				return
			case <-m.trackSoon:
				if soon := time.Now().Add(trackSettle); soon.Before(next) {
					next = soon
					timer.Reset(trackSettle)
				}
			case <-timer.C:
				m.Track()
				next = time.Now().Add(trackSweep)
				timer.Reset(trackSweep)
			}
		}
	}()
}

// kickTracking asks for a sweep soon (a service was just started).
func (m *Manager) kickTracking() {
	if m.trackSoon == nil {
		return
	}
	select {
	case m.trackSoon <- struct{}{}:
	default:
	}
}

func (m *Manager) stopTracking() {
	if m.trackStop == nil {
		return
	}
	close(m.trackStop)
	<-m.trackDone
}

// lastProcesses returns the latest Process of every service.
func (m *Manager) lastProcesses() []*Process {
	m.mu.Lock()
	services := make([]*service, 0, len(m.services))
	for _, s := range m.services {
		services = append(services, s)
	}
	m.mu.Unlock()
	var out []*Process
	for _, s := range services {
		s.mu.Lock()
		if s.last != nil {
			out = append(out, s.last)
		}
		s.mu.Unlock()
	}
	return out
}
