package keeper

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// startSleep starts a process that lives until the test ends.
func startSleep(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// fileLines returns the lines of the records file.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("records file ends in a partial line: %q", b)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func sortRecords(recs []cleanup.Record) []cleanup.Record {
	slices.SortFunc(recs, func(a, b cleanup.Record) int { return a.Pid - b.Pid })
	return recs
}

// openDir opens a fresh state dir.
func openDir(t *testing.T) *statedir.Dir {
	t.Helper()
	dir, err := statedir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	return dir
}

func newRecords(t *testing.T) (*records, string) {
	t.Helper()
	dir := openDir(t)
	path := filepath.Join(dir.Path(), RecordsName)
	r := openRecords(dir)
	if err := r.reset(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close(false) })
	return r, path
}

func TestRecordsAddWritesOneLineEach(t *testing.T) {
	r, path := newRecords(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("records file mode %v, want 0600", fi.Mode().Perm())
	}
	pids := []int{startSleep(t), startSleep(t)}
	var want []string
	for _, pid := range pids {
		start, err := observe.StartTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		r.add(pid, pid)
		want = append(want, strconv.Itoa(pid)+" "+strconv.Itoa(pid)+" "+strconv.FormatUint(start, 10))
	}
	r.addStart(99999999, 0, 12345)
	want = append(want, "99999999 0 12345")
	if got := fileLines(t, path); !slices.Equal(got, want) {
		t.Fatalf("file holds %q, want %q", got, want)
	}
	recs, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Pid != pids[0] || recs[1].Pid != pids[1] || recs[2] != (cleanup.Record{Pid: 99999999, Start: 12345}) {
		t.Errorf("load gave %+v", recs)
	}
	if got := sortRecords(r.snapshot()); !slices.Equal(got, sortRecords(recs)) {
		t.Errorf("snapshot %+v, want %+v", got, recs)
	}
}

func TestRecordsAddOfEndedProcess(t *testing.T) {
	r, path := newRecords(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// Reaped: no start time to record, so nothing to kill later.
	r.add(cmd.Process.Pid, cmd.Process.Pid)
	if got := fileLines(t, path); len(got) != 0 {
		t.Errorf("an ended process was recorded: %q", got)
	}
	if got := r.snapshot(); len(got) != 0 {
		t.Errorf("snapshot %+v, want none", got)
	}
}

func TestRecordsRemove(t *testing.T) {
	r, path := newRecords(t)
	r.addStart(10, 10, 100)
	r.addStart(11, 0, 101)
	r.remove(10)
	r.remove(12345) // unknown: nothing happens
	if got := r.snapshot(); !slices.Equal(got, []cleanup.Record{{Pid: 11, Start: 101}}) {
		t.Errorf("snapshot %+v, want only pid 11", got)
	}
	// Appends only: the dead line stays until a rewrite.
	if got := fileLines(t, path); !slices.Equal(got, []string{"10 10 100", "11 0 101"}) {
		t.Errorf("file holds %q", got)
	}
}

func TestRecordsLoadSkipsJunk(t *testing.T) {
	dir := openDir(t)
	path := filepath.Join(dir.Path(), RecordsName)
	content := strings.Join([]string{
		"100 100 5000",
		"",
		"garbage",
		"1 2",
		"0 0 77",   // pid 0
		"-5 -5 77", // negative pid
		"x 1 2",    // not a number
		"3 y 2",    // not a number
		"4 4 -1",   // negative start
		"5 5 6 7",  // too many fields
		"  200   0   6000  ",
		"300 30", // torn: the keeper died in the middle of the write
	}, "\n")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := openRecords(dir)
	got, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	want := []cleanup.Record{{Pid: 100, Pgid: 100, Start: 5000}, {Pid: 200, Pgid: 0, Start: 6000}}
	if !slices.Equal(got, want) {
		t.Fatalf("load gave %+v, want %+v", got, want)
	}
}

func TestRecordsLoadMissing(t *testing.T) {
	r := openRecords(openDir(t))
	got, err := r.load()
	if err != nil || len(got) != 0 {
		t.Fatalf("load of a missing file: %+v, %v; want nothing", got, err)
	}
}

func TestRecordsResetEmpties(t *testing.T) {
	r, path := newRecords(t)
	r.addStart(10, 10, 100)
	if err := r.reset(); err != nil {
		t.Fatal(err)
	}
	if got := fileLines(t, path); len(got) != 0 {
		t.Errorf("file after reset holds %q", got)
	}
	if got := r.snapshot(); len(got) != 0 {
		t.Errorf("snapshot after reset %+v", got)
	}
}

func TestRecordsCompaction(t *testing.T) {
	r, path := newRecords(t)
	live := []cleanup.Record{{Pid: 1, Pgid: 1, Start: 11}, {Pid: 2, Pgid: 0, Start: 22}, {Pid: 3, Pgid: 3, Start: 33}}
	for _, rec := range live {
		r.addStart(rec.Pid, rec.Pgid, rec.Start)
	}
	// Short-lived processes come and go; their lines pile up.
	prev := len(fileLines(t, path))
	compacted := false
	for i := range 2000 {
		pid := 1000 + i
		r.addStart(pid, pid, uint64(pid))
		lines := fileLines(t, path)
		liveNow := len(live) + 1
		if len(lines) < prev {
			// A rewrite: exactly the live records, the newest included.
			if prev <= 2*liveNow+256 {
				t.Fatalf("rewrite at %d lines, before dead lines piled up past 2×%d+256", prev, liveNow)
			}
			want := append(slices.Clone(live), cleanup.Record{Pid: pid, Pgid: pid, Start: uint64(pid)})
			got, err := r.load()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sortRecords(got), sortRecords(want)) {
				t.Fatalf("file after the rewrite holds %+v, want %+v", got, want)
			}
			compacted = true
			r.remove(pid)
			break
		}
		if len(lines) > 2*liveNow+256+2 {
			t.Fatalf("file grew to %d lines with %d live processes", len(lines), liveNow)
		}
		prev = len(lines)
		r.remove(pid)
	}
	if !compacted {
		t.Fatal("no rewrite after 2000 dead processes")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the rewrite left its temporary file: %v", err)
	}
	// Appends go on into the rewritten file.
	before := len(fileLines(t, path))
	r.addStart(7, 7, 77)
	lines := fileLines(t, path)
	if len(lines) != before+1 || lines[len(lines)-1] != "7 7 77" {
		t.Errorf("append after the rewrite: file holds %q", lines)
	}
}

func TestRecordsCloseClean(t *testing.T) {
	r, path := newRecords(t)
	r.addStart(10, 10, 100)
	r.close(true)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("records file after a clean close: %v, want it gone", err)
	}
}

func TestRecordsCloseKeeps(t *testing.T) {
	r, path := newRecords(t)
	r.addStart(10, 10, 100)
	r.close(false)
	if got := fileLines(t, path); !slices.Equal(got, []string{"10 10 100"}) {
		t.Fatalf("records file after close(false) holds %q", got)
	}
	// Closed: later adds are tracked but not written.
	r.addStart(11, 11, 110)
	if got := fileLines(t, path); len(got) != 1 {
		t.Errorf("closed records still write: %q", got)
	}
	if len(r.snapshot()) != 2 {
		t.Errorf("snapshot %+v, want both", r.snapshot())
	}
}

func TestRecordsResume(t *testing.T) {
	r, path := newRecords(t)
	r.addStart(10, 10, 100)
	r.addStart(11, 11, 110)
	r.remove(10)
	r.close(false)
	// The next image knows of a process the file does not hold yet.
	if err := r.resume([]cleanup.Record{{Pid: 12, Pgid: 12, Start: 120}}); err != nil {
		t.Fatal(err)
	}
	got, err := r.load()
	if err != nil {
		t.Fatal(err)
	}
	want := []cleanup.Record{{Pid: 11, Pgid: 11, Start: 110}, {Pid: 12, Pgid: 12, Start: 120}}
	if !slices.Equal(sortRecords(got), want) {
		t.Fatalf("file after resume holds %+v, want %+v", got, want)
	}
	r.addStart(13, 13, 130)
	if lines := fileLines(t, path); len(lines) != 3 || lines[2] != "13 13 130" {
		t.Errorf("append after resume: %q", lines)
	}
}

// snapshot returns the live records, in no order.
func (r *records) snapshot() []cleanup.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]cleanup.Record, 0, len(r.live))
	for _, rec := range r.live {
		out = append(out, rec)
	}
	return out
}
