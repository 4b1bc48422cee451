package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// wait is generous: these tests must pass on a loaded 2-core machine.
const wait = 10 * time.Second

func open(t *testing.T, opts Options) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := Open(path, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

// readAll returns every stored event (no follow).
func readAll(t *testing.T, j *Journal, since time.Time, n int) []api.Event {
	t.Helper()
	var got []api.Event
	err := j.Follow(context.Background(), since, n, false, func(e api.Event) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func attempts(evs []api.Event) []int {
	out := make([]int, len(evs))
	for i, e := range evs {
		out[i] = e.Attempt
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestRecordAndReadBack(t *testing.T) {
	j, path := open(t, Options{})
	code := 3
	uid := 0
	before := time.Now()
	want := []api.Event{
		{Type: api.EventSupervisor, Message: "started", Pid: 10},
		{Type: api.EventExit, Service: "web", Gen: 2, Pid: 99, ExitCode: &code, OOM: true},
		{Type: api.EventCommand, Command: "stop", Args: []string{"web"}, UID: &uid, CallerPid: 4242},
	}
	for _, e := range want {
		j.Record(e)
	}
	fixed := time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	j.Record(api.Event{Time: fixed, Type: api.EventState, Service: "web", From: "running", To: "backoff", Reason: "exit status 3"})

	got := readAll(t, j, time.Time{}, 0)
	if len(got) != 4 {
		t.Fatalf("got %d events, want 4: %+v", len(got), got)
	}
	for i, e := range got[:3] {
		if e.Time.Location() != time.UTC || e.Time.Before(before.Add(-time.Second)) || time.Since(e.Time) > time.Minute {
			t.Errorf("event %d: time %v not set to now in UTC", i, e.Time)
		}
		e.Time = time.Time{}
		if !equalJSON(e, want[i]) {
			t.Errorf("event %d: got %+v, want %+v", i, e, want[i])
		}
	}
	if !got[3].Time.Equal(fixed) || got[3].Time.Location() != time.UTC || got[3].From != "running" || got[3].To != "backoff" {
		t.Errorf("explicit time event: %+v", got[3])
	}

	// It persists: a new Journal on the same file reads the same and appends after.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	j2.Record(api.Event{Type: api.EventSupervisor, Message: "started again"})
	again := readAll(t, j2, time.Time{}, 0)
	if len(again) != 5 || again[4].Message != "started again" || again[0].Message != "started" {
		t.Errorf("after reopen: %+v", again)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal file mode: %v %v", fi, err)
	}
}

func equalJSON(a, b api.Event) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestSinceAndNAcrossRotation(t *testing.T) {
	j, path := open(t, Options{MaxSize: 400, MaxFiles: 100})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 60 {
		j.Record(api.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: api.EventRespawn, Service: "w", Attempt: i})
	}
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatalf("expected several rotated files: %v", err)
	}
	for _, name := range []string{path, path + ".1", path + ".2"} {
		if fi, err := os.Stat(name); err != nil || fi.Size() > 400 {
			t.Errorf("%s: %v, %v (must be at most MaxSize)", name, fi, err)
		}
	}
	cases := []struct {
		since    time.Time
		n        int
		from, to int
	}{
		{time.Time{}, 0, 0, 59},
		{t0.Add(20 * time.Second), 0, 20, 59},
		{time.Time{}, 5, 55, 59},
		{t0.Add(40 * time.Second), 30, 40, 59},
		{t0.Add(10 * time.Second), 45, 15, 59},
		{time.Time{}, 1000, 0, 59},
	}
	for _, c := range cases {
		got := attempts(readAll(t, j, c.since, c.n))
		if fmt.Sprint(got) != fmt.Sprint(seq(c.from, c.to)) {
			t.Errorf("since %v n %d: got %v, want %d..%d", c.since, c.n, got, c.from, c.to)
		}
	}
	if got := readAll(t, j, t0.Add(time.Hour), 0); len(got) != 0 {
		t.Errorf("since after everything: %d events", len(got))
	}
}

func TestRotationKeepsMaxFiles(t *testing.T) {
	j, path := open(t, Options{MaxSize: 300, MaxFiles: 2})
	for i := range 100 {
		j.Record(api.Event{Type: api.EventRespawn, Attempt: i})
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.3 exists beyond MaxFiles: %v", path, err)
	}
	got := attempts(readAll(t, j, time.Time{}, 0))
	if len(got) == 0 || got[len(got)-1] != 99 || len(got) >= 100 {
		t.Fatalf("got %v: want a suffix ending at 99 with the oldest rotated away", got)
	}
	if fmt.Sprint(got) != fmt.Sprint(seq(got[0], 99)) {
		t.Errorf("not contiguous: %v", got)
	}
}

// TestFollowSeam records from several goroutines while followers join at
// different moments: each must see exactly the sequence the file holds, from
// the start, with nothing lost or repeated where the backlog meets the live stream.
func TestFollowSeam(t *testing.T) {
	// Small files, so followers also join across rotations.
	j, _ := open(t, Options{MaxSize: 8 << 10, MaxFiles: 1000})
	const writers, per = 4, 200 // total below followBuffer: a follower is never cut off here
	const total = writers * per
	var recorded atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range per {
				j.Record(api.Event{Type: api.EventRespawn, Service: fmt.Sprint(w), Attempt: w*per + i})
				recorded.Add(1)
			}
		})
	}
	const followers = 6
	results := make([][]int, followers)
	errs := make(chan error, followers)
	var fwg sync.WaitGroup
	for f := range followers {
		fwg.Go(func() {
			// Join after roughly f/followers of the events are in.
			for recorded.Load() < int64(f*total/followers) {
				time.Sleep(time.Microsecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			seen := map[int]bool{}
			err := j.Follow(ctx, time.Time{}, 0, true, func(e api.Event) error {
				results[f] = append(results[f], e.Attempt)
				seen[e.Attempt] = true
				if len(seen) == total {
					return errDone
				}
				return nil
			})
			if !errors.Is(err, errDone) {
				errs <- fmt.Errorf("follower %d: %w (saw %d)", f, err, len(results[f]))
			}
		})
	}
	close(start)
	wg.Wait()
	fwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored := fmt.Sprint(attempts(readAll(t, j, time.Time{}, 0)))
	for f, r := range results {
		if len(r) != total || fmt.Sprint(r) != stored {
			t.Errorf("follower %d saw %d events, not the stored sequence of %d", f, len(r), total)
		}
	}
	if d := j.Dropped(); d != 0 {
		t.Errorf("dropped %d", d)
	}
}

var errDone = errors.New("done")

func TestFollowFromNowSeesNewEventsInOrder(t *testing.T) {
	j, _ := open(t, Options{})
	for i := range 10 {
		j.Record(api.Event{Type: api.EventRespawn, Attempt: i})
	}
	got := make(chan api.Event, 100)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- j.Follow(ctx, time.Time{}, 2, true, func(e api.Event) error {
			got <- e
			return nil
		})
	}()
	for _, want := range []int{8, 9} {
		if e := next(t, got); e.Attempt != want {
			t.Fatalf("backlog: got attempt %d, want %d", e.Attempt, want)
		}
	}
	for i := 10; i < 20; i++ {
		j.Record(api.Event{Type: api.EventRespawn, Attempt: i})
	}
	for i := 10; i < 20; i++ {
		if e := next(t, got); e.Attempt != i {
			t.Fatalf("live: got attempt %d, want %d", e.Attempt, i)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Follow after cancel: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Follow did not end with its context")
	}
	// The follower is gone: Record has no one to hand events to.
	j.mu.Lock()
	n := len(j.subs)
	j.mu.Unlock()
	if n != 0 {
		t.Errorf("%d subscribers left after Follow returned", n)
	}
}

func next(t *testing.T, ch <-chan api.Event) api.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(wait):
		t.Fatal("no event")
		return api.Event{}
	}
}

func TestSlowFollowerNeverBlocksRecord(t *testing.T) {
	j, _ := open(t, Options{})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(context.Background(), time.Time{}, 0, true, func(api.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return nil
		})
	}()
	j.Record(api.Event{Type: api.EventRespawn})
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("follower never got the first event")
	}
	// The follower is stuck in emit; Record must go on regardless.
	recorded := make(chan struct{})
	go func() {
		for i := range 5 * followBuffer {
			j.Record(api.Event{Type: api.EventRespawn, Attempt: i})
		}
		close(recorded)
	}()
	select {
	case <-recorded:
	case <-time.After(wait):
		t.Fatal("Record blocked behind a slow follower")
	}
	close(release)
	select {
	case err := <-done:
		if !errors.Is(err, ErrTooSlow) {
			t.Errorf("slow follower ended with %v, want ErrTooSlow", err)
		}
	case <-time.After(wait):
		t.Fatal("slow follower was never cut off")
	}
	if got := len(readAll(t, j, time.Time{}, 0)); got != 5*followBuffer+1 {
		t.Errorf("stored %d events, want every one", got)
	}
}

func TestConcurrentRecordWritesWholeLines(t *testing.T) {
	j, path := open(t, Options{MaxSize: 64 << 10, MaxFiles: 1000})
	const goroutines, per = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				// Long, varying lines make interleaving visible if writes were split.
				j.Record(api.Event{Type: api.EventState, Service: fmt.Sprint(g), Attempt: i,
					Reason: strings.Repeat(string(rune('a'+g)), 100+(i*37)%2000)})
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	files, _ := filepath.Glob(path + "*")
	if len(files) < 2 {
		t.Fatalf("expected rotation during the test, files: %v", files)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e api.Event
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("%s: line does not parse: %v: %.80q", name, err, sc.Text())
			}
			if e.Reason != strings.Repeat(e.Reason[:1], len(e.Reason)) || e.Reason[0] != byte('a'+atoi(t, e.Service)) {
				t.Fatalf("mixed line: %.80q", sc.Text())
			}
			key := e.Service + "/" + fmt.Sprint(e.Attempt)
			if seen[key] {
				t.Fatalf("event %s twice", key)
			}
			seen[key] = true
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if len(seen) != goroutines*per {
		t.Errorf("found %d events, want %d", len(seen), goroutines*per)
	}
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("service %q: %v", s, err)
	}
	return n
}

func TestCorruptLinesAreSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	good := `{"time":"2024-01-01T00:00:00Z","type":"supervisor","message":"one"}`
	content := good + "\n" +
		"not json at all\n" +
		"\n" +
		`{"type":"state"}` + "\n" + // no time: not an event we wrote
		`{"time":"2024-01-01T00:00:01Z","type":"sta` // torn by a crash
	if err := os.WriteFile(path+".1", []byte(`{"time":"2023-12-31T00:00:00Z","type":"supervisor","message":"zero"}`+"\n\x00\x00garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.Record(api.Event{Type: api.EventSupervisor, Message: "two"})
	var got []string
	err = j.Follow(context.Background(), time.Time{}, 0, false, func(e api.Event) error {
		got = append(got, e.Message)
		return nil
	})
	if err != nil {
		t.Fatalf("reader got an error for corrupt lines: %v", err)
	}
	if fmt.Sprint(got) != "[zero one two]" {
		t.Errorf("got %v, want [zero one two]", got)
	}
	// The torn line was ended, so the new event has a line of its own.
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"message":"two"`) || !strings.HasPrefix(last, "{") {
		t.Errorf("last line %q", last)
	}
}

func TestOverlongLineIsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	long := `{"time":"2024-01-01T00:00:00Z","type":"state","reason":"` + strings.Repeat("x", maxLine) + `"}`
	good := `{"time":"2024-01-01T00:00:01Z","type":"supervisor","message":"after"}`
	if err := os.WriteFile(path, []byte(long+"\n"+good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got := readAll(t, j, time.Time{}, 0)
	if len(got) != 1 || got[0].Message != "after" {
		t.Errorf("got %+v", got)
	}
}

func TestCloseEndsFollowersAndLaterRecordsAreCounted(t *testing.T) {
	j, _ := open(t, Options{})
	done := make(chan error, 1)
	got := make(chan api.Event, 1)
	go func() {
		done <- j.Follow(context.Background(), time.Time{}, 0, true, func(e api.Event) error {
			got <- e
			return nil
		})
	}()
	j.Record(api.Event{Type: api.EventSupervisor, Message: "stopping"})
	next(t, got)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("follower after Close: %v, want nil (an orderly end)", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not end the follower")
	}
	j.Record(api.Event{Type: api.EventSupervisor})
	if d := j.Dropped(); d != 1 {
		t.Errorf("Dropped = %d after a Record on a closed journal, want 1", d)
	}
	if err := j.Follow(context.Background(), time.Time{}, 0, false, func(api.Event) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Follow on a closed journal: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestEmitErrorEndsFollow(t *testing.T) {
	j, _ := open(t, Options{})
	j.Record(api.Event{Type: api.EventSupervisor})
	j.Record(api.Event{Type: api.EventSupervisor})
	calls := 0
	err := j.Follow(context.Background(), time.Time{}, 0, true, func(api.Event) error {
		calls++
		return errDone
	})
	if !errors.Is(err, errDone) || calls != 1 {
		t.Errorf("got %v after %d calls", err, calls)
	}
}

// countingHandler counts warnings.
type countingHandler struct {
	slog.Handler
	warns atomic.Int32
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warns.Add(1)
	}
	return nil
}

func TestWriteErrorsAreCountedAndLoggedOnce(t *testing.T) {
	h := &countingHandler{Handler: slog.DiscardHandler}
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := Open(path, Options{}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// A read-only fd stands for a file the disk refuses to extend.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.file.Close()
	j.file = ro
	j.mu.Unlock()

	got := make(chan api.Event, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Follow(ctx, time.Time{}, 0, true, func(e api.Event) error {
		got <- e
		return nil
	})
	// Wait until the follower is subscribed before recording.
	deadline := time.Now().Add(wait)
	for {
		j.mu.Lock()
		n := len(j.subs)
		j.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("follower never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		j.Record(api.Event{Type: api.EventSupervisor})
	}
	if d := j.Dropped(); d != 3 {
		t.Errorf("Dropped = %d, want 3", d)
	}
	if w := h.warns.Load(); w != 1 {
		t.Errorf("%d warnings for 3 failed writes within 10s, want 1", w)
	}
	if e := next(t, got); e.Reason != "event journal writes failing" {
		t.Errorf("first event followers get is %+v, want the note that writes fail", e)
	}
	for range 3 {
		next(t, got) // followers still get what the file refused
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{{MaxSize: -1}, {MaxFiles: -1}} {
		if _, err := Open(filepath.Join(dir, "e"), o, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open with %+v: %v, want ErrInvalid", o, err)
		}
	}
	if _, err := Open("", Options{}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with empty path: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing", "e"), Options{}, nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing dir: %v", err)
	}
	j, _ := open(t, Options{})
	if err := j.Follow(context.Background(), time.Time{}, -1, false, func(api.Event) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("Follow with n = -1: %v", err)
	}
	// A time JSON cannot hold is counted, not written, and does not panic.
	j.Record(api.Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Type: api.EventSupervisor})
	if j.Dropped() != 1 || len(readAll(t, j, time.Time{}, 0)) != 0 {
		t.Errorf("unencodable event: dropped %d", j.Dropped())
	}
}

// ReadFile reads what a closed journal left, as Follow reads an open one.
func TestReadFileOfAClosedJournal(t *testing.T) {
	j, path := open(t, Options{MaxSize: 400, MaxFiles: 100})
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		j.Record(api.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: api.EventRespawn, Service: "w", Attempt: i})
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(since time.Time, n int) []int {
		var got []api.Event
		if err := ReadFile(context.Background(), path, since, n, func(e api.Event) error {
			got = append(got, e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return attempts(got)
	}
	if got := read(time.Time{}, 0); fmt.Sprint(got) != fmt.Sprint(seq(0, 29)) {
		t.Errorf("all: %v", got)
	}
	if got := read(t0.Add(10*time.Second), 5); fmt.Sprint(got) != fmt.Sprint(seq(25, 29)) {
		t.Errorf("since 10 s, last 5: %v", got)
	}
	if err := ReadFile(context.Background(), path, time.Time{}, -1, func(api.Event) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("n -1: %v, want ErrInvalid", err)
	}
	var none int
	if err := ReadFile(context.Background(), filepath.Join(t.TempDir(), "none.jsonl"), time.Time{}, 0, func(api.Event) error { none++; return nil }); err != nil || none != 0 {
		t.Errorf("a journal that does not exist: %v, %d events", err, none)
	}
}
