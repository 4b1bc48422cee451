package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// writeLines writes lines i..j-1, one second apart from t0, in on-disk form.
func writeLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf []byte
	for i := from; i < to; i++ {
		buf = FormatLine(buf, Line{Time: t0.Add(time.Duration(i) * time.Second), Stream: Stream(1 + i%2), Text: fmt.Sprintf("line %d", i)})
	}
	if _, err := f.Write(buf); err != nil {
		t.Fatal(err)
	}
}

func lineTexts(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("line %d", i))
	}
	return s
}

// rotatedSet writes lines 0..29 as path.2 (0-9), path.1 (10-19) and path (20-29).
func rotatedSet(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path+".2", 0, 10)
	writeLines(t, path+".1", 10, 20)
	writeLines(t, path, 20, 30)
	return path
}

func TestReadFileLastNAcrossRotatedFiles(t *testing.T) {
	path := rotatedSet(t)
	for _, tc := range []struct {
		n          int
		from, to   int
		sinceIndex int // -1: no since
	}{
		{3, 27, 30, -1},
		{10, 20, 30, -1},
		{15, 15, 30, -1},
		{25, 5, 30, -1},
		{0, 0, 30, -1},
		{100, 0, 30, -1},
		{0, 12, 30, 12},
		{5, 25, 30, 12},
		{0, 0, 0, 31},
	} {
		var since time.Time
		if tc.sinceIndex >= 0 {
			since = t0.Add(time.Duration(tc.sinceIndex) * time.Second)
		}
		got, err := ReadFile(path, since, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if want := lineTexts(tc.from, tc.to); !slices.Equal(texts(got, 0), want) {
			t.Errorf("n=%d since=%d: got %q, want %q", tc.n, tc.sinceIndex, texts(got, 0), want)
		}
		for _, l := range got {
			var i int
			fmt.Sscanf(l.Text, "line %d", &i)
			if !l.Time.Equal(t0.Add(time.Duration(i)*time.Second)) || l.Stream != Stream(1+i%2) {
				t.Errorf("line %d: %+v", i, l)
			}
		}
	}
}

func TestReadFileMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	got, err := ReadFile(filepath.Join(dir, "nothing.log"), time.Time{}, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("missing file: %v, %v", got, err)
	}
	got, err = ReadFile(filepath.Join(dir, "no", "dir.log"), time.Time{}, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("missing dir: %v, %v", got, err)
	}
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o640)
	got, err = ReadFile(empty, time.Time{}, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("empty file: %v, %v", got, err)
	}
	// Mid-rotation: the live file is gone for a moment, its lines are in path.1.
	path := filepath.Join(dir, "rot.log")
	writeLines(t, path+".1", 0, 4)
	got, err = ReadFile(path, time.Time{}, 2)
	if err != nil || !slices.Equal(texts(got, 0), lineTexts(2, 4)) {
		t.Errorf("only rotated: %q, %v", texts(got, 0), err)
	}
}

func TestReadFileUnparseableLinesTakePreviousTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	writeLines(t, path, 0, 2)
	appendRaw(t, path, "garbage one\n\ngarbage two\n")
	writeLines(t, path, 2, 3)
	got, err := ReadFile(path, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"line 0", "line 1", "garbage one", "", "garbage two", "line 2"}
	if !slices.Equal(texts(got, 0), want) {
		t.Fatalf("got %q, want %q", texts(got, 0), want)
	}
	for _, l := range got[2:5] {
		if !l.Time.Equal(t0.Add(time.Second)) || l.Stream != Stdout {
			t.Errorf("unparseable line %+v: want stdout at line 1's time", l)
		}
	}
	// The last 4 include three unparseable lines, whose time needs line 1.
	got, err = ReadFile(path, time.Time{}, 4)
	if err != nil || !slices.Equal(texts(got, 0), want[2:]) || !got[0].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("n=4: %+v, %v", got, err)
	}
	// since after line 1: the unparseable lines are as old as line 1, so out.
	got, err = ReadFile(path, t0.Add(2*time.Second), 0)
	if err != nil || !slices.Equal(texts(got, 0), []string{"line 2"}) {
		t.Errorf("since: %q, %v", texts(got, 0), err)
	}
	// Unparseable lines first in the file take the time of the line after them.
	head := filepath.Join(t.TempDir(), "head.log")
	appendRaw(t, head, "junk\n")
	writeLines(t, head, 5, 6)
	got, err = ReadFile(head, time.Time{}, 0)
	if err != nil || len(got) != 2 || got[0].Text != "junk" || !got[0].Time.Equal(got[1].Time) {
		t.Errorf("leading junk: %+v, %v", got, err)
	}
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestReadFileLongLinesAndChunkEdges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	var buf []byte
	var want []string
	// Lines of many lengths, some longer than a backward read, so that line ends fall
	// everywhere relative to chunk boundaries.
	for i := range 400 {
		text := fmt.Sprintf("%d:%s", i, strings.Repeat("x", (i*977)%3000))
		if i%97 == 0 {
			text += strings.Repeat("y", backChunk+i)
		}
		want = append(want, text)
		buf = FormatLine(buf, Line{Time: t0, Stream: Stdout, Text: text})
	}
	buf = append(buf, FormatLine(nil, Line{Time: t0, Stream: Stderr, Text: "no newline"})...)
	buf = buf[:len(buf)-1]
	want = append(want, "no newline")
	if err := os.WriteFile(path, buf, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got, 0), want) {
		t.Fatalf("got %d lines, want %d; differ", len(got), len(want))
	}
	got, err = ReadFile(path, time.Time{}, 7)
	if err != nil || !slices.Equal(texts(got, 0), want[len(want)-7:]) {
		t.Fatalf("last 7 differ: %v", err)
	}
}

func TestReadFileHugeGarbageIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("z", 3*maxReadLine+5)), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range got {
		if len(l.Text) > maxReadLine+backChunk {
			t.Errorf("a piece of %d bytes", len(l.Text))
		}
		total += len(l.Text)
	}
	if total != 3*maxReadLine+5 {
		t.Errorf("pieces hold %d bytes, want %d", total, 3*maxReadLine+5)
	}
}

func TestReadFileSeesEverythingASinkRotated(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{MaxSize: 4 << 10, MaxFiles: 100})
	w, done := attachPipe(t, s, Stdout)
	data, want := numbered("r", 20000)
	waitW := writeAsync(w, data, 333)
	waitDone(t, done)
	if err := waitW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path() + ".4"); err != nil {
		t.Fatalf("expected many rotations: %v", err)
	}
	got, err := ReadFile(s.Path(), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(texts(got, 0), want) {
		t.Fatalf("read %d lines, want the %d written, in order", len(got), len(want))
	}
	got, err = ReadFile(s.Path(), time.Time{}, 15000)
	if err != nil || !slices.Equal(texts(got, 0), want[5000:]) {
		t.Fatalf("last 15000 differ: %v", err)
	}
}

// BenchmarkReadFileTail shows that -n 10 costs the same on a small and a big history.
func BenchmarkReadFileTail(b *testing.B) {
	for _, lines := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprint(lines), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "svc.log")
			var buf []byte
			for i := range lines {
				buf = FormatLine(buf, Line{Time: t0, Stream: Stdout, Text: fmt.Sprintf("line %d %s", i, filler)})
			}
			if err := os.WriteFile(path, buf, 0o640); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if got, err := ReadFile(path, time.Time{}, 10); err != nil || len(got) != 10 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
