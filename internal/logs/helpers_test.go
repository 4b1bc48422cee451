package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// waitTimeout is generous: these things take milliseconds, but the machine may be loaded.
const waitTimeout = 10 * time.Second

// helperEnv selects a helper mode when the test binary is re-executed as a service.
const helperEnv = "RESPAWN_LOGS_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// extraHelpers holds helper modes defined by platform-specific test files.
var extraHelpers = map[string]func(arg string) int{}

// runHelper is the body of a helper process. "flood N" writes N numbered lines to
// stdout; "both N" writes N lines to each of stdout and stderr, interleaved.
func runHelper(mode, arg string) int {
	if h, ok := extraHelpers[mode]; ok {
		return h(arg)
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad count:", err)
		return 2
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	switch mode {
	case "flood":
		for i := range n {
			fmt.Fprintf(out, "flood line %08d %s\n", i, filler)
		}
		if err := out.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
	case "both":
		for i := range n {
			fmt.Fprintf(os.Stdout, "out %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
		return 2
	}
	return 0
}

const filler = "the quick brown fox jumps over the lazy dog"

// startHelper starts the test binary as a helper with the given stdout and stderr.
func startHelper(t *testing.T, mode string, n int, stdout, stderr *os.File) *os.Process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	attr := &os.ProcAttr{
		Env:   append(os.Environ(), helperEnv+"="+mode),
		Files: []*os.File{nil, stdout, stderr},
	}
	p, err := os.StartProcess(exe, []string{exe, "-test.run=^$", strconv.Itoa(n)}, attr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitProcess waits for p to exit, failing the test if it takes longer than waitTimeout.
func waitProcess(t *testing.T, p *os.Process) *os.ProcessState {
	t.Helper()
	type result struct {
		st  *os.ProcessState
		err error
	}
	ch := make(chan result, 1)
	go func() {
		st, err := p.Wait()
		ch <- result{st, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.st
	case <-time.After(waitTimeout):
		p.Kill()
		<-ch
		t.Fatalf("helper process did not exit within %v", waitTimeout)
		return nil
	}
}

func newCapture(t testing.TB) *Capture {
	t.Helper()
	return newCaptureLogger(t, slog.New(slog.DiscardHandler))
}

func newCaptureLogger(t testing.TB, logger *slog.Logger) *Capture {
	t.Helper()
	c, err := NewCapture(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Capture.Close: %v", err)
		}
	})
	return c
}

func openSink(t testing.TB, c *Capture, opts Options) *Sink {
	t.Helper()
	s, err := c.Open(filepath.Join(t.TempDir(), "svc", "out.log"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// attachPipe attaches the read end of a new pipe and returns the write end.
func attachPipe(t testing.TB, s *Sink, kind Stream) (*os.File, <-chan struct{}) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	done, err := s.Attach(kind, r)
	if err != nil {
		t.Fatal(err)
	}
	return w, done
}

func waitDone(t testing.TB, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("stream not finished within %v", waitTimeout)
	}
}

// readLog parses every line of the file at path.
func readLog(t testing.TB, path string) []Line {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseAll(t, path, data)
}

func parseAll(t testing.TB, name string, data []byte) []Line {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", name)
	}
	var lines []Line
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		l, err := ParseLine(data[:i+1])
		if err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		lines = append(lines, l)
		data = data[i+1:]
	}
	return lines
}

func texts(lines []Line, kind Stream) []string {
	var out []string
	for _, l := range lines {
		if kind == 0 || l.Stream == kind {
			out = append(out, l.Text)
		}
	}
	return out
}

// writeAll writes data to w in pieces of the given size, then closes w.
func writeAll(w io.WriteCloser, data []byte, piece int) error {
	for len(data) > 0 {
		n := min(piece, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return w.Close()
}

// writeAsync runs writeAll in a goroutine and returns a function reporting its error.
func writeAsync(w io.WriteCloser, data []byte, piece int) func() error {
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = writeAll(w, data, piece) })
	return func() error { wg.Wait(); return err }
}

// waitGoroutines polls until the goroutine count is back to at most base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for runtime.NumGoroutine() > base {
		select {
		case <-ctx.Done():
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// countHandler counts records at Warn level and above.
type countHandler struct {
	mu    sync.Mutex
	warns int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		h.warns++
		h.mu.Unlock()
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.warns
}
