//go:build linux || darwin || freebsd

package keeper

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// records is the state-dir list of every process the keeper started, with
// its start time: if the keeper is killed before it can stop them, the next
// keeper kills exactly these (a pid reused since then has another start time).
// Appends are one write each; the file is rewritten from the live set when
// dead lines pile up.
type records struct {
	dir *statedir.Dir // the state dir; the file is RecordsName in it

	mu    sync.Mutex // guards the records file and its live set below
	f     *os.File
	live  map[int]cleanup.Record
	lines int
}

func openRecords(dir *statedir.Dir) *records {
	return &records{dir: dir, live: make(map[int]cleanup.Record)}
}

// load reads what an earlier keeper recorded.
func (r *records) load() ([]cleanup.Record, error) {
	f, err := r.dir.Open(RecordsName)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		// Pids planted by someone else must never be killed.
		return nil, err
	}
	defer f.Close()
	var out []cleanup.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue // a torn last line
		}
		pid, err1 := strconv.Atoi(fields[0])
		pgid, err2 := strconv.Atoi(fields[1])
		start, err3 := strconv.ParseUint(fields[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || pid <= 0 {
			continue
		}
		out = append(out, cleanup.Record{Pid: pid, Pgid: pgid, Start: start})
	}
	return out, sc.Err()
}

// reset empties the file (a fresh one replaces it) and opens it for appending.
func (r *records) reset() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.dir.Create(RecordsName, 0o600)
	if err != nil {
		return fmt.Errorf("create records: %w", err)
	}
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.lines = f, 0
	r.live = make(map[int]cleanup.Record)
	return nil
}

// resume opens the file for appending without emptying it, knowing live.
func (r *records) resume(live []cleanup.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range live {
		r.live[rec.Pid] = rec
	}
	return r.rewriteLocked()
}

// add records a started process (pgid 0: not a group leader of its own).
func (r *records) add(pid, pgid int) {
	start, err := observe.StartTime(pid)
	if err != nil {
		return // already gone, or not Linux: nothing to kill later
	}
	r.addStart(pid, pgid, start)
}

func (r *records) addStart(pid, pgid int, start uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := cleanup.Record{Pid: pid, Pgid: pgid, Start: start}
	r.live[pid] = rec
	if r.f == nil {
		return
	}
	if r.lines > 2*len(r.live)+256 {
		_ = r.rewriteLocked()
		return
	}
	_, _ = r.f.WriteString(format(rec))
	r.lines++
}

// remove forgets a process that ended (the file keeps it until a rewrite;
// its start time no longer matches anything then).
func (r *records) remove(pid int) {
	r.mu.Lock()
	delete(r.live, pid)
	r.mu.Unlock()
}

func (r *records) rewriteLocked() error {
	var b strings.Builder
	for _, rec := range r.live {
		b.WriteString(format(rec))
	}
	if err := r.dir.WriteFile(RecordsName, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("rewrite records: %w", err)
	}
	f, err := r.dir.OpenAppend(RecordsName, 0o600)
	if err != nil {
		return fmt.Errorf("open records: %w", err)
	}
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.lines = f, len(r.live)
	return nil
}

// close ends the records; a keeper that stopped every service leaves none.
func (r *records) close(clean bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if clean {
		_ = r.dir.Remove(RecordsName)
	}
}

func format(rec cleanup.Record) string {
	return strconv.Itoa(rec.Pid) + " " + strconv.Itoa(rec.Pgid) + " " + strconv.FormatUint(rec.Start, 10) + "\n"
}

// KillRecorded kills every live process the records file in dir lists: the
// last act of a core whose keeper died on the POSIX path, where no
// parent-death signal reached the services and no subreaper held what left
// their process groups. A pid reused since has another start time and is
// left alone.
func KillRecorded(ctx context.Context, dir *statedir.Dir) (int, error) {
	recs, err := openRecords(dir).load()
	if err != nil {
		return 0, fmt.Errorf("process records: %w", err)
	}
	return cleanup.KillRecorded(ctx, recs)
}
