package logs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func numbered(prefix string, n int) ([]byte, []string) {
	var buf bytes.Buffer
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("%s %06d %s", prefix, i, filler[:i%len(filler)])
		buf.WriteString(want[i])
		buf.WriteByte('\n')
	}
	return buf.Bytes(), want
}

func TestLinesWholeAndInOrderAcrossSmallWrites(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	wOut, doneOut := attachPipe(t, s, Stdout)
	wErr, doneErr := attachPipe(t, s, Stderr)
	outData, wantOut := numbered("out", 3000)
	errData, wantErr := numbered("err", 3000)
	// Pieces of 7 and 13 bytes: nearly every line is cut across writes, and likely reads.
	waitOut := writeAsync(wOut, outData, 7)
	waitErr := writeAsync(wErr, errData, 13)
	waitDone(t, doneOut)
	waitDone(t, doneErr)
	if err := waitOut(); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(); err != nil {
		t.Fatal(err)
	}
	lines := readLog(t, s.Path())
	if got := texts(lines, Stdout); !slices.Equal(got, wantOut) {
		t.Errorf("stdout: %d lines, want %d (first difference matters)", len(got), len(wantOut))
	}
	if got := texts(lines, Stderr); !slices.Equal(got, wantErr) {
		t.Errorf("stderr: %d lines, want %d", len(got), len(wantErr))
	}
	for i := 1; i < len(lines); i++ {
		if lines[i].Time.Before(lines[i-1].Time) {
			t.Fatalf("line %d time %v before line %d time %v", i, lines[i].Time, i-1, lines[i-1].Time)
		}
	}
}

func TestLongLineSplitIntoPieces(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	long := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16) // 200 KiB
	data := append(append([]byte("before\n"), long...), "\nafter\n"...)
	wait := writeAsync(w, data, 5000)
	waitDone(t, done)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	got := texts(readLog(t, s.Path()), 0)
	want := []string{"before", string(long[:64<<10]), string(long[64<<10 : 128<<10]), string(long[128<<10 : 192<<10]), string(long[192<<10:]), "after"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %d bytes, want %d bytes", i, len(got[i]), len(want[i]))
		}
	}
}

func TestBinaryDataAndPartialLastLine(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stderr)
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	data[len(data)-1] = 0 // ends mid-line, on a NUL
	wait := writeAsync(w, data, 4093)
	waitDone(t, done)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	lines := readLog(t, s.Path())
	var rebuilt []byte
	for _, l := range lines {
		if l.Stream != Stderr {
			t.Fatalf("stream %v, want stderr", l.Stream)
		}
		rebuilt = append(append(rebuilt, l.Text...), '\n')
	}
	if !bytes.Equal(rebuilt, append(data, '\n')) {
		t.Fatalf("rebuilt %d bytes differ from the %d written", len(rebuilt), len(data)+1)
	}
}

func TestNoNewlineAtAll(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	data := bytes.Repeat([]byte{0}, 150<<10)
	wait := writeAsync(w, data, 1000)
	waitDone(t, done)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	got := texts(readLog(t, s.Path()), 0)
	want := []int{64 << 10, 64 << 10, 22 << 10}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i, n := range want {
		if len(got[i]) != n {
			t.Errorf("line %d: %d bytes, want %d", i, len(got[i]), n)
		}
	}
}

func TestPartialLineFlushedAtEOF(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stdout)
	if err := writeAll(w, []byte("one\ntwo\nno newline"), 1<<20); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done)
	if got, want := texts(readLog(t, s.Path()), 0), []string{"one", "two", "no newline"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestChildProcessOutput(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	rOut, wOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startHelper(t, "both", 500, wOut, wErr)
	wOut.Close()
	wErr.Close()
	doneOut, err := s.Attach(Stdout, rOut)
	if err != nil {
		t.Fatal(err)
	}
	doneErr, err := s.Attach(Stderr, rErr)
	if err != nil {
		t.Fatal(err)
	}
	if st := waitProcess(t, p); !st.Success() {
		t.Fatalf("helper: %v", st)
	}
	waitDone(t, doneOut)
	waitDone(t, doneErr)
	lines := readLog(t, s.Path())
	for _, kind := range []Stream{Stdout, Stderr} {
		got := texts(lines, kind)
		if len(got) != 500 {
			t.Fatalf("%v: %d lines, want 500", kind, len(got))
		}
		for i, g := range got {
			if want := fmt.Sprintf("%s %d", map[Stream]string{Stdout: "out", Stderr: "err"}[kind], i); g != want {
				t.Fatalf("%v line %d = %q, want %q", kind, i, g, want)
			}
		}
	}
}

// writeInTurns writes data through one stream after another, each taking about size
// bytes cut at a newline. A read never spans two streams, so this bounds the chunks the
// sink sees, which a single fast writer does not.
func writeInTurns(t *testing.T, s *Sink, data []byte, size int) {
	t.Helper()
	for len(data) > 0 {
		n := min(len(data), size)
		n += bytes.IndexByte(data[n-1:], '\n')
		w, done := attachPipe(t, s, Stdout)
		wait := writeAsync(w, data[:n], 300)
		waitDone(t, done)
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
}

// rotatedFiles returns the rotated files of path, oldest first, checking there are no gaps.
func rotatedFiles(t *testing.T, path string) []string {
	t.Helper()
	matches, err := filepath.Glob(path + ".*")
	if err != nil {
		t.Fatal(err)
	}
	files := make([]string, 0, len(matches)+1)
	for i := len(matches); i >= 1; i-- {
		name := rotatedName(path, i)
		if _, err := os.Stat(name); err != nil {
			t.Fatalf("rotated files are not numbered 1..%d: %v", len(matches), err)
		}
		files = append(files, name)
	}
	return append(files, path)
}

func TestRotationKeepsEveryLineOnce(t *testing.T) {
	c := newCapture(t)
	const maxSize = 16 << 10
	s := openSink(t, c, Options{MaxSize: maxSize, MaxFiles: 1000})
	data, want := numbered("rot", 4000)
	writeInTurns(t, s, data, 100*66)
	files := rotatedFiles(t, s.Path())
	if len(files) < 10 {
		t.Fatalf("only %d files for %d bytes with MaxSize %d", len(files), len(data), maxSize)
	}
	var got []string
	for i, f := range files {
		got = append(got, texts(readLog(t, f), 0)...) // readLog fails on a line cut across files
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize {
			t.Errorf("file %d of %d: %d bytes, over MaxSize", i, len(files), fi.Size())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines across %d files, want %d", len(got), len(files), len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatal("lines across rotated files are not the lines written, in order")
	}
}

func TestRotationKeepsMaxFiles(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{MaxSize: 4 << 10, MaxFiles: 2})
	// Left over from an earlier, larger MaxFiles: must go at the first rotation.
	for _, i := range []int{3, 4} {
		if err := os.WriteFile(rotatedName(s.Path(), i), []byte("old\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	data, want := numbered("max", 1000)
	writeInTurns(t, s, data, 1000)
	files := rotatedFiles(t, s.Path())
	if len(files) != 3 {
		t.Fatalf("files %q, want live file plus 2 rotated", files)
	}
	var got []string
	for _, f := range files {
		got = append(got, texts(readLog(t, f), 0)...)
	}
	if len(got) == 0 || !slices.Equal(got, want[len(want)-len(got):]) {
		t.Fatalf("kept %d lines; they are not the last lines written, in order", len(got))
	}
}

func TestSingleChunkLargerThanMaxSizeWrittenWhole(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{MaxSize: 100, MaxFiles: 3})
	w, done := attachPipe(t, s, Stdout)
	line := strings.Repeat("x", 1000)
	if err := writeAll(w, []byte(line+"\n"), 1<<20); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done)
	if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{line}) {
		t.Fatalf("live file holds %d lines, want the one long line", len(got))
	}
}

func TestRecentIsBounded(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	if got := s.Recent(10); len(got) != 0 {
		t.Fatalf("Recent on an empty sink = %q", got)
	}
	w, done := attachPipe(t, s, Stdout)
	var data []byte
	var want []string
	for i := range 100 {
		l := fmt.Sprintf("short %d", i)
		want = append(want, l)
		data = append(append(data, l...), '\n')
	}
	long := strings.Repeat("é", 400) // 800 bytes: cut at 512 on a rune boundary
	want = append(want, long)
	data = append(append(data, long...), '\n')
	if err := writeAll(w, data, 333); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done)

	got := s.Recent(1000)
	if len(got) != ringLines {
		t.Fatalf("Recent(1000) returned %d lines, want %d", len(got), ringLines)
	}
	wantTail := want[len(want)-ringLines:]
	for i, l := range got[:len(got)-1] {
		if l.Text != wantTail[i] || l.Stream != Stdout || l.Time.IsZero() {
			t.Fatalf("Recent line %d = %+v, want text %q", i, l, wantTail[i])
		}
	}
	last := got[len(got)-1].Text
	if len(last) != 512 || last != long[:512] {
		t.Fatalf("long line kept as %d bytes, want its first 512", len(last))
	}
	if got3 := s.Recent(3); len(got3) != 3 || got3[2].Text != last || got3[0].Text != wantTail[ringLines-3] {
		t.Fatalf("Recent(3) = %q", texts(got3, 0))
	}
	if s.Recent(0) != nil || s.Recent(-1) != nil {
		t.Fatal("Recent(<=0) returned lines")
	}

	// Lines of 300 bytes: the 8 KiB bound holds before the 64-line one.
	w2, done2 := attachPipe(t, s, Stderr)
	wide := bytes.Repeat([]byte(strings.Repeat("w", 299)+"\n"), 100)
	if err := writeAll(w2, wide, 7000); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done2)
	got = s.Recent(1000)
	total := 0
	for _, l := range got {
		total += len(l.Text)
		if l.Stream != Stderr {
			t.Fatalf("old stdout line still in the ring after 8 KiB of stderr")
		}
	}
	if total > ringBytes || len(got) != ringBytes/299 {
		t.Fatalf("ring holds %d lines, %d bytes; want %d lines within %d bytes", len(got), total, ringBytes/299, ringBytes)
	}
}

func TestManyStreamsAtOnce(t *testing.T) {
	c := newCapture(t)
	const n = 500
	type feed struct {
		sink *Sink
		w    *os.File
		done <-chan struct{}
		want []string
	}
	feeds := make([]feed, n)
	for i := range feeds {
		s := openSink(t, c, Options{})
		w, done := attachPipe(t, s, Stream(1+i%2))
		feeds[i] = feed{sink: s, w: w, done: done}
	}
	// All streams are attached before any is written to, so all are live at once.
	waits := make([]func() error, n)
	for i := range feeds {
		var data []byte
		data, feeds[i].want = numbered(fmt.Sprintf("svc%03d", i), 200)
		waits[i] = writeAsync(feeds[i].w, data, 1000)
	}
	for i, f := range feeds {
		waitDone(t, f.done)
		if err := waits[i](); err != nil {
			t.Fatal(err)
		}
		if got := texts(readLog(t, f.sink.Path()), 0); !slices.Equal(got, f.want) {
			t.Fatalf("stream %d: %d lines, want %d in order", i, len(got), len(f.want))
		}
	}
}

func TestWriteErrorCountsDroppedAndKeepsReading(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	h := &countHandler{}
	c := newCaptureLogger(t, slog.New(h))
	frozen := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	c.now = func() time.Time { return frozen }
	s, err := c.Open("/dev/full", Options{MaxSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// 100,000 lines, about 7 MB: far more than a pipe holds, so the helper
	// exits only if the capture keeps reading while every write fails.
	const lines = 100_000
	p := startHelper(t, "flood", lines, w, os.Stderr)
	w.Close()
	done, err := s.Attach(Stdout, r)
	if err != nil {
		t.Fatal(err)
	}
	if st := waitProcess(t, p); !st.Success() {
		t.Fatalf("helper: %v", st)
	}
	waitDone(t, done)
	if got := s.Dropped(); got != lines {
		t.Errorf("Dropped() = %d, want %d", got, lines)
	}
	if got := h.count(); got != 1 {
		t.Errorf("%d warnings with a frozen clock, want 1", got)
	}
	if got := s.Recent(1); len(got) != 1 || !strings.HasPrefix(got[0].Text, fmt.Sprintf("flood line %08d", lines-1)) {
		t.Errorf("Recent(1) = %q, want the last line even though the file failed", texts(got, 0))
	}
}

func TestCaptureCloseWithAttachedStreams(t *testing.T) {
	base := runtime.NumGoroutine()
	c, err := NewCapture(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var sinks []*Sink
	var writers []*os.File
	var dones []<-chan struct{}
	for range 20 {
		s := openSink(t, c, Options{})
		w, done := attachPipe(t, s, Stdout)
		// A whole line and a partial one, both still in the pipe or the carry at Close.
		if _, err := w.WriteString("whole\npartial"); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, s)
		writers = append(writers, w)
		dones = append(dones, done)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Capture.Close hung")
	}
	for i := range sinks {
		waitDone(t, dones[i])
		if got, want := texts(readLog(t, sinks[i].Path()), 0), []string{"whole", "partial"}; !slices.Equal(got, want) {
			t.Errorf("sink %d holds %q, want %q drained at Close", i, got, want)
		}
		// The read end is closed: the writer sees a broken pipe, not a block.
		if _, err := writers[i].WriteString("late\n"); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("write after Close: %v, want EPIPE", err)
		}
		if err := sinks[i].Close(); err != nil {
			t.Errorf("Sink.Close after Capture.Close: %v", err)
		}
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := c.Open(filepath.Join(t.TempDir(), "x.log"), Options{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v, want ErrClosed", err)
	}
	for _, w := range writers {
		w.Close()
	}
	waitGoroutines(t, base)
}

func TestSinkCloseDetachesStreams(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	w, done := attachPipe(t, s, Stderr)
	if _, err := w.WriteString("kept\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Sink.Close hung with a stream attached")
	}
	waitDone(t, done)
	if _, err := w.WriteString("late\n"); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("write after Sink.Close: %v, want EPIPE", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := s.Attach(Stdout, r2); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close: %v, want ErrClosed", err)
	}
	if got := texts(readLog(t, s.Path()), 0); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("file holds %q, want the line written before Close", got)
	}
}

func TestBadArguments(t *testing.T) {
	c := newCapture(t)
	dir := t.TempDir()
	for _, opts := range []Options{{MaxSize: -1}, {MaxFiles: -1}} {
		if _, err := c.Open(filepath.Join(dir, "a.log"), opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open with %+v: %v, want ErrInvalid", opts, err)
		}
	}
	if _, err := c.Open("", Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with empty path: %v, want ErrInvalid", err)
	}
	if _, err := c.Open(dir, Options{}); err == nil {
		t.Error("Open of a directory succeeded")
	}
	s := openSink(t, c, Options{})
	if _, err := s.Attach(Stdout, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Attach(nil): %v, want ErrInvalid", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := s.Attach(Stream(7), r); !errors.Is(err, ErrInvalid) {
		t.Errorf("Attach(stream 7): %v, want ErrInvalid", err)
	}
	if err := r.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Attach did not close the file it rejected: %v", err)
	}
}

func TestOpenDefaultsAndPermissions(t *testing.T) {
	c := newCapture(t)
	path := filepath.Join(t.TempDir(), "deep", "er", "svc.log")
	s, err := c.Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.opts.MaxSize != DefaultMaxSize || s.opts.MaxFiles != DefaultMaxFiles {
		t.Errorf("defaults %+v", s.opts)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&^0o640 != 0 {
		t.Errorf("file mode %v, want at most 0640", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm()&^0o750 != 0 {
		t.Errorf("dir mode %v, want at most 0750", di.Mode().Perm())
	}
}
