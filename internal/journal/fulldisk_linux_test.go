package journal

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/respawn-sh/respawn/internal/api"
)

// smallDisk mounts a tmpfs of size bytes on a fresh directory, unmounted when the
// test ends, or skips the test where mounting is not permitted.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestFullDiskLeavesNoTornLine(t *testing.T) {
	dir := smallDisk(t, "64k")
	// The filler is freed later, the way an operator makes room.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 16<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.jsonl")
	j, err := Open(path, Options{MaxSize: 1 << 20}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// Events of 1000-odd bytes against 4 KiB pages: the write that fills the disk
	// lands in part.
	msg := strings.Repeat("m", 1000)
	n := 0
	for ; j.Dropped() == 0; n++ {
		if n > 1000 {
			t.Fatal("the disk never filled")
		}
		j.Record(api.Event{Type: api.EventSupervisor, Attempt: n, Message: msg})
	}
	j.Record(api.Event{Type: api.EventSupervisor, Attempt: n, Message: msg}) // dropped too
	if d := j.Dropped(); d != 2 {
		t.Fatalf("Dropped = %d after 2 events the disk refused, want 2", d)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	j.Record(api.Event{Type: api.EventSupervisor, Reason: "after", Attempt: n + 1})

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []api.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e api.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not an event: %v: %.80q", len(evs)+1, err, sc.Text())
		}
		evs = append(evs, e)
	}
	if len(evs) != n+1 {
		for _, e := range evs {
			t.Logf("%d %q %.40q", e.Attempt, e.Reason, e.Message)
		}
		t.Fatalf("%d events in the file, want %d written before the disk filled, the note and the last", len(evs), n+1)
	}
	note, last := evs[len(evs)-2], evs[len(evs)-1]
	if note.Reason != "event journal writes resumed" || !strings.HasPrefix(note.Message, "2 events were not written") {
		t.Errorf("the event before the last is %+v, want the note of 2 lost events", note)
	}
	if last.Reason != "after" {
		t.Errorf("last event is %+v, want the one recorded after the disk was freed", last)
	}
}
