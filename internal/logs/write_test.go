package logs

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// formatted returns lines in on-disk form, each exactly size bytes long.
func formatted(size int, texts ...string) []byte {
	var out []byte
	for _, t := range texts {
		t += strings.Repeat(".", size-prefixLen-1-len(t))
		out = FormatLine(out, Line{Time: time.Unix(0, 0), Stream: Stdout, Text: t})
	}
	return out
}

func TestWriteChunkRotatesBetweenReads(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{MaxSize: 300, MaxFiles: 5})
	a := formatted(100, "a1", "a2")
	b := formatted(100, "b1", "b2")
	cc := formatted(50, "c1")
	out := slices.Concat(a, b, cc)
	s.writeChunk(out, 5, []int{0, len(a), len(a) + len(b)})

	// a fits; a+b would not: b starts the next file, and c joins it.
	if got := texts(readLog(t, rotatedName(s.Path(), 1)), 0); len(got) != 2 || !strings.HasPrefix(got[0], "a1") || !strings.HasPrefix(got[1], "a2") {
		t.Errorf("first file holds %q, want the lines of read a", got)
	}
	got := texts(readLog(t, s.Path()), 0)
	if len(got) != 3 || !strings.HasPrefix(got[0], "b1") || !strings.HasPrefix(got[2], "c1") {
		t.Errorf("live file holds %q, want the lines of reads b and c", got)
	}

	// One read larger than MaxSize: into a fresh file, whole.
	big := formatted(100, "d1", "d2", "d3", "d4", "d5")
	s.writeChunk(big, 5, []int{0})
	if got := texts(readLog(t, s.Path()), 0); len(got) != 5 {
		t.Errorf("live file holds %d lines, want the 5 lines of one big read", len(got))
	}
	if got := texts(readLog(t, rotatedName(s.Path(), 2)), 0); len(got) != 2 || !strings.HasPrefix(got[0], "a1") {
		t.Errorf("oldest file holds %q, want the lines of read a", got)
	}
}

func TestRotationFailureKeepsWriting(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{MaxSize: 150, MaxFiles: 2})
	// Directories where the rotated files go, the second not empty: every rotation
	// fails, whoever runs the test.
	for _, dir := range []string{rotatedName(s.Path(), 1), rotatedName(s.Path(), 2) + "/sub"} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		line := formatted(100, "x"+string(rune('0'+i)))
		s.writeChunk(line, 1, []int{0})
	}
	if got := len(readLog(t, s.Path())); got != 5 {
		t.Errorf("%d lines in the live file, want all 5 kept despite failed rotations", got)
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0", s.Dropped())
	}
}

func TestDeviceSinkNeverRotates(t *testing.T) {
	c := newCapture(t)
	s, err := c.Open(os.DevNull, Options{MaxSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.writeChunk(formatted(100, "a", "b"), 2, []int{0, 100})
	if _, err := os.Stat(os.DevNull); err != nil {
		t.Fatalf("%s gone: %v", os.DevNull, err)
	}
	if _, err := os.Stat(rotatedName(os.DevNull, 1)); err == nil {
		t.Fatalf("%s was rotated", os.DevNull)
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d", s.Dropped())
	}
}

func TestTornWriteStartsNextLineFresh(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	// As after a partial write on a full disk: the file ends mid-line.
	s.fileMu.Lock()
	if _, err := s.file.WriteString("2024-01-01T00:00:00.000000Z out cut sh"); err != nil {
		t.Fatal(err)
	}
	s.size += 38
	s.torn = true
	s.fileMu.Unlock()
	s.writeChunk(formatted(60, "next"), 1, []int{0})
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, newline), newline)
	if len(lines) != 2 {
		t.Fatalf("file holds %d lines, want the torn one and the next", len(lines))
	}
	if l, err := ParseLine(lines[1]); err != nil || !strings.HasPrefix(l.Text, "next") {
		t.Fatalf("line after the torn one: %q, %v", lines[1], err)
	}
}
