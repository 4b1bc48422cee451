package proc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"syscall"

	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"golang.org/x/sys/unix"
)

// registered reports whether pid is a Process of its own (a service, an
// adopted daemon, a probe): such a pid is tracked as that Process.
func registered(pid int) bool {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	_, ok := reaper.procs[pid]
	return ok
}

// orphan is a child of ours that no Process stands for: something a
// service's tree left behind when the process that forked it ended.
type orphan struct {
	pid int
	st  observe.Stat
}

// adoptedOrphans lists our live children that are no registered Process.
// With isRegistered nil, the reaper's table is consulted under its lock.
//
// Without a subreaper (the POSIX path) no orphan comes to us: the list is
// empty, and /proc's children file of a process with many children — which
// the kernel walks from its start for every entry — is not read at all.
func adoptedOrphans(isRegistered func(int) bool) []orphan {
	if !platform.Current().Subreaper {
		return nil
	}
	if isRegistered == nil {
		isRegistered = registered
	}
	self := os.Getpid()
	var out []orphan
	for _, c := range observe.LeaderChildren(self) {
		if isRegistered(c) {
			continue
		}
		st, ok := observe.Read(c)
		if !ok || st.Ppid != self || st.State == 'Z' {
			continue
		}
		out = append(out, orphan{pid: c, st: st})
	}
	return out
}

// recordOf is what the records of a tracked process say: its group too
// when it leads one, so the group is killed after a supervisor crash.
func recordOf(pid int, st observe.Stat) cleanup.Record {
	r := cleanup.Record{Pid: pid, Start: st.Start}
	if st.Pgrp == pid {
		r.Pgid = pid
	}
	return r
}

// belongs says whether a process in group pgrp and session sid is p's by
// its group or session: p's own group while it exists, or one a tracked
// descendant created (its id is that descendant's pid, which Linux does not
// reuse while the group or session exists).
func (p *Process) belongs(st observe.Stat, known map[int]uint64) bool {
	if st.Pgrp == p.pgid && !p.groupGone.Load() {
		return true
	}
	_, byGroup := known[st.Pgrp]
	_, bySession := known[st.Session]
	return byGroup || bySession
}

// scanTree brings p's tracked descendants up to date: it drops those that
// ended, and adds every process below the main process or below a tracked
// descendant, and every orphan of ours that belongs to p. Processes that are
// Processes of their own are left to those.
func (p *Process) scanTree() { p.scanTreeWith(adoptedOrphans(nil), liveView{}) }

// procView is where a scan reads processes: /proc itself, or one snapshot
// of it taken for a whole sweep.
type procView interface {
	read(pid int) (observe.Stat, bool)
	children(pid int) []int
}

// liveView reads /proc at each call: right for one service's scan.
type liveView struct{}

func (liveView) read(pid int) (observe.Stat, bool) { return observe.Read(pid) }
func (liveView) children(pid int) []int            { return observe.Children(pid) }

// snapView is every process read once. A sweep of N services through
// liveView costs a directory listing and a children file per thread of every
// main process (at 1,000 multi-threaded services, most of a second); through
// one snapshot it costs one stat file per process on the machine.
type snapView struct {
	stats map[int]observe.Stat
	kids  map[int][]int
}

// snapshot reads every process, or returns liveView if /proc cannot be listed.
func snapshot() procView {
	all, err := observe.All()
	if err != nil {
		return liveView{}
	}
	v := snapView{stats: make(map[int]observe.Stat, len(all)), kids: make(map[int][]int)}
	for _, st := range all {
		v.stats[st.Pid] = st
		v.kids[st.Ppid] = append(v.kids[st.Ppid], st.Pid)
	}
	return v
}

func (v snapView) read(pid int) (observe.Stat, bool) {
	st, ok := v.stats[pid]
	return st, ok
}
func (v snapView) children(pid int) []int { return v.kids[pid] }

// scanTreeWith is scanTree with the orphans of ours listed already and the
// processes read through v: a sweep does both once for every service.
func (p *Process) scanTreeWith(orphans []orphan, v procView) {
	t := p.track
	if t == nil {
		return
	}
	tracker.mu.Lock()
	known := maps.Clone(t.desc)
	tracker.mu.Unlock()

	var roots []int
	var gone []cleanup.Record
	if !p.reaped() {
		roots = append(roots, p.pid)
	}
	for pid, start := range known {
		if st, ok := v.read(pid); ok && st.Start == start && st.State != 'Z' {
			roots = append(roots, pid)
		} else {
			gone = append(gone, cleanup.Record{Pid: pid, Start: start})
		}
	}
	found := make(map[int]cleanup.Record)
	for _, o := range orphans {
		if _, ok := known[o.pid]; !ok && p.belongs(o.st, known) {
			found[o.pid] = recordOf(o.pid, o.st)
			roots = append(roots, o.pid)
		}
	}
	visited := make(map[int]bool, len(roots))
	for _, r := range roots {
		visited[r] = true
	}
	for i := 0; i < len(roots) && len(known)+len(found) < maxDescendants; i++ {
		parent := roots[i]
		for _, c := range v.children(parent) {
			if visited[c] || registered(c) {
				continue
			}
			visited[c] = true
			st, ok := v.read(c)
			// A child whose parent is not the one we listed it under ended
			// and its pid went to a stranger in between.
			if !ok || st.Ppid != parent || st.State == 'Z' {
				continue
			}
			if start, ok := known[c]; !ok || start != st.Start {
				found[c] = recordOf(c, st)
			}
			roots = append(roots, c)
		}
	}
	deliver(p.commitTracked(found, gone))
}

// commitTracked applies a scan's result under the tracker's lock.
func (p *Process) commitTracked(found map[int]cleanup.Record, gone []cleanup.Record) []trackNote {
	t := p.track
	var notes []trackNote
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	for _, r := range gone {
		if t.desc[r.Pid] != r.Start {
			continue
		}
		delete(t.desc, r.Pid)
		if o, ok := tracker.owners[r.Pid]; ok && o.owner == p && o.start == r.Start {
			delete(tracker.owners, r.Pid)
		}
		notes = append(notes, trackNote{notify: t.notify, rec: r, live: false})
	}
	for pid, r := range found {
		if o, ok := tracker.owners[pid]; ok && o.start == r.Start && o.owner != nil && o.owner != p {
			continue // another service's
		}
		if len(t.desc) >= maxDescendants {
			t.full = true
			break
		}
		t.desc[pid] = r.Start
		tracker.owners[pid] = owned{start: r.Start, owner: p, notify: t.notify}
		notes = append(notes, trackNote{notify: t.notify, rec: r, live: true})
	}
	return notes
}

// attributeAtExitLocked gives p the orphans that arrived as its main process
// ended: when the reaper collects that process, the children it left are
// ours already. Orphans seen earlier and not claimed stay unclaimed, unless
// they are in p's group or a tracked descendant's. reaper.mu is held.
func (p *Process) attributeAtExitLocked() []trackNote {
	if p.track == nil {
		return nil
	}
	orphans := adoptedOrphans(func(pid int) bool { _, ok := reaper.procs[pid]; return ok })
	if len(orphans) == 0 {
		return nil
	}
	// The groups of the other live Processes: an orphan in one is theirs.
	groups := make(map[int]bool, len(reaper.procs))
	for _, q := range reaper.procs {
		if q != p {
			groups[q.pgid] = true
		}
	}
	found := make(map[int]cleanup.Record)
	tracker.mu.Lock()
	known := maps.Clone(p.track.desc)
	for _, o := range orphans {
		prev, seen := tracker.owners[o.pid]
		if seen && prev.start == o.st.Start && (prev.owner != nil || !p.belongs(o.st, known)) {
			continue
		}
		if !seen && !p.belongs(o.st, known) && (o.st.Start < p.track.start || groups[o.st.Pgrp]) {
			continue // older than p, or in another's group: another tree's, orphaned meanwhile
		}
		found[o.pid] = recordOf(o.pid, o.st)
	}
	tracker.mu.Unlock()
	return p.commitTracked(found, nil)
}

// signalDescendants sends sig to every tracked descendant that the group
// signal did not reach (it is outside p's group, or that signal was not
// sent), each pinned by a pidfd and checked by its start time.
func (p *Process) signalDescendants(sig syscall.Signal, groupSent bool) (delivered bool, err error) {
	if p.track == nil {
		return false, nil
	}
	tracker.mu.Lock()
	desc := maps.Clone(p.track.desc)
	tracker.mu.Unlock()
	var errs []error
	for pid, start := range desc {
		t, perr := cleanup.Pin(cleanup.Record{Pid: pid, Start: start})
		if perr != nil {
			errs = append(errs, perr)
			continue
		}
		if t == nil || t.Zombie() {
			if t != nil {
				t.Close()
			}
			continue
		}
		if groupSent && !p.groupGone.Load() {
			if st, ok := observe.Read(pid); ok && st.Pgrp == p.pgid {
				t.Close()
				delivered = true
				continue // the group signal reached it
			}
		}
		if serr := t.Signal(sig); serr != nil {
			errs = append(errs, fmt.Errorf("pid %d: %w", pid, serr))
		} else {
			delivered = true
		}
		t.Close()
	}
	return delivered, errors.Join(errs...)
}

// descendantsGone reports whether no tracked descendant lives any more.
func (p *Process) descendantsGone() bool {
	if p.track == nil {
		return true
	}
	tracker.mu.Lock()
	desc := maps.Clone(p.track.desc)
	tracker.mu.Unlock()
	for pid, start := range desc {
		if st, ok := observe.Read(pid); ok && st.Start == start && st.State != 'Z' {
			return false
		}
	}
	return true
}

// Track sweeps, in process-group mode, every service's tree for descendants
// that left its process group, and remembers the orphans of ours nobody
// claims, reporting each new one to Options.OnTrack. The Manager runs it by
// itself (soon after each spawn, and every few seconds); a caller may run it
// too, say before it reports what it tracks.
func (m *Manager) Track() {
	if m.containment != ContainProcessGroup {
		return
	}
	// Listed once for the whole sweep: reading the children of a process
	// with N of them costs the kernel N² steps.
	orphans := adoptedOrphans(nil)
	v := snapshot()
	for _, p := range m.lastProcesses() {
		p.scanTreeWith(orphans, v)
		m.warnFull(p)
	}
	var notes []trackNote
	// An orphan listed while the process it came from is ended but not yet
	// reaped is that process's (see attributeAtExitLocked): marking it as
	// nobody's now would keep it from its service. With the reaper held,
	// such an exit is either still pending, and the marking waits for the
	// next sweep, or settled already, and its orphans are claimed.
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if exitPending() {
		return
	}
	tracker.mu.Lock()
	unclaimed := 0
	for _, o := range tracker.owners {
		if o.owner == nil {
			unclaimed++
		}
	}
	for _, o := range orphans {
		if prev, ok := tracker.owners[o.pid]; ok && prev.start == o.st.Start {
			continue
		}
		if unclaimed >= maxOrphans {
			break
		}
		unclaimed++
		rec := recordOf(o.pid, o.st)
		tracker.owners[o.pid] = owned{start: rec.Start, notify: m.onTrack}
		notes = append(notes, trackNote{notify: m.onTrack, rec: rec, live: true})
	}
	tracker.mu.Unlock()
	// Delivered with the reaper held, which OnTrack must not need anyway.
	deliver(notes)
}

// exitPending reports whether a child of ours has ended and waits to be
// reaped; it reaps nothing.
func exitPending() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && info.Signo != 0
	}
}

// warnFull logs, once per process, that its tracked descendants hit the bound.
func (m *Manager) warnFull(p *Process) {
	if p.track == nil {
		return
	}
	tracker.mu.Lock()
	full := p.track.full
	if full {
		p.track.full = false
	}
	tracker.mu.Unlock()
	if full {
		m.logger.Warn("too many descendants outside the process group to track; the rest are not tracked", "service", p.name, "pid", p.pid, "tracked", maxDescendants)
	}
}

// KillOrphans SIGKILLs, in process-group mode, every child of ours that no
// Process stands for (what services left behind, adopted by us as child
// subreaper) and every descendant still tracked, then waits, bounded by
// ctx, until they are gone. Call it once every service was stopped.
func (m *Manager) KillOrphans(ctx context.Context) error {
	if m.containment != ContainProcessGroup {
		return nil
	}
	m.Track()
	var recs []cleanup.Record
	for _, o := range adoptedOrphans(nil) {
		recs = append(recs, recordOf(o.pid, o.st))
	}
	tracker.mu.Lock()
	for pid, o := range tracker.owners {
		recs = append(recs, cleanup.Record{Pid: pid, Start: o.start})
	}
	tracker.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	n, err := cleanup.KillRecorded(ctx, recs)
	if n > 0 {
		m.logger.Warn("killed processes that services left behind", "count", n)
	}
	// Collect what we killed, so none stays a zombie of ours.
	wakeReaper()
	return err
}
