package logs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The throughput benchmarks push 200 MB of 100-byte lines through a pipe into a file,
// the way a flooding service would, and compare the capture against plain copies of
// the same pipe: `cat > file` and a read/write loop.
const (
	benchLines   = 2_000_000
	benchLineLen = 100
	benchBytes   = benchLines * benchLineLen
	benchWrite   = 64 << 10
)

// benchPayload is a whole number of both lines and 64 KiB writes, so cycling through it
// writes the same lines in the same cuts as one 200 MB buffer would.
func benchPayload() []byte {
	const n = 16384 // lcm(100, 65536) / 100
	buf := make([]byte, 0, n*benchLineLen)
	for i := range n {
		l := fmt.Sprintf("%06d %s", i, "service output line with some ordinary text in it, padded to a hundred bytes ....................")
		buf = append(buf, l[:benchLineLen-1]...)
		buf = append(buf, '\n')
	}
	return buf
}

// produce writes benchBytes to fd, in 64 KiB writes or one write per line.
func produce(fd int, payload []byte, perLine bool) error {
	size := benchWrite
	if perLine {
		size = benchLineLen
	}
	for off, left := 0, benchBytes; left > 0; {
		n := min(size, left, len(payload)-off)
		if _, err := unix.Write(fd, payload[off:off+n]); err != nil {
			return err
		}
		off = (off + n) % len(payload)
		left -= n
	}
	return nil
}

// The producer is a separate process, as a service is: it shares no runtime with the
// capture under test.
func init() {
	extraHelpers["produce"] = func(mode string) int {
		if err := produce(1, benchPayload(), mode == "line"); err != nil {
			fmt.Fprintln(os.Stderr, "produce:", err)
			return 1
		}
		return 0
	}
}

// pipeRun starts a producer process on a fresh pipe and returns the read end; wait
// reports how the producer ended.
func pipeRun(b *testing.B, perLine bool) (r *os.File, wait func() error) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	mode := "chunk"
	if perLine {
		mode = "line"
	}
	cmd := exec.Command(exe, "-test.run=^$", mode)
	cmd.Env = append(os.Environ(), helperEnv+"=produce")
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	return r, cmd.Wait
}

type benchPath func(b *testing.B, r *os.File, out string)

func viaCat(b *testing.B, r *os.File, out string) {
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("cat")
	cmd.Stdin, cmd.Stdout = r, f
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	r.Close()
}

func viaCopyLoop(b *testing.B, r *os.File, out string) {
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, readSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				b.Fatal(err)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	r.Close()
}

func viaCapture(c *Capture) benchPath {
	return func(b *testing.B, r *os.File, out string) {
		s, err := c.Open(out, Options{MaxSize: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		done, err := s.Attach(Stdout, r)
		if err != nil {
			b.Fatal(err)
		}
		<-done
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if s.Dropped() != 0 {
			b.Fatalf("%d lines dropped", s.Dropped())
		}
	}
}

// runOnce times one 200 MB transfer through path and checks the output size.
func runOnce(b *testing.B, perLine bool, path benchPath, wantSize int64) time.Duration {
	out := filepath.Join(b.TempDir(), "out.log")
	start := time.Now()
	r, wait := pipeRun(b, perLine)
	path(b, r, out)
	if err := wait(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	fi, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	if fi.Size() != wantSize {
		b.Fatalf("output %d bytes, want %d", fi.Size(), wantSize)
	}
	os.Remove(out)
	return elapsed
}

// BenchmarkThroughput reports the capture's MB/s of service output and, as x-cat and
// x-copy, its speed relative to cat and to a read/write loop on the same pipe. The
// three run in turn within each iteration so that machine noise hits them alike, and
// the figures are medians over iterations (run with -benchtime=10x or more).
func BenchmarkThroughput(b *testing.B) {
	if _, err := exec.LookPath("cat"); err != nil {
		b.Skip("no cat:", err)
	}
	c, err := NewCapture(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	capSize := int64(benchLines * (benchLineLen + prefixLen))
	for _, mode := range []struct {
		name    string
		perLine bool
	}{{"write=64KiB", false}, {"write=line", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(benchBytes)
			var tCap, tCat, tCopy []float64
			for b.Loop() {
				b.StopTimer()
				tCat = append(tCat, runOnce(b, mode.perLine, viaCat, benchBytes).Seconds())
				tCopy = append(tCopy, runOnce(b, mode.perLine, viaCopyLoop, benchBytes).Seconds())
				b.StartTimer()
				tCap = append(tCap, runOnce(b, mode.perLine, viaCapture(c), capSize).Seconds())
			}
			mCap, mCat, mCopy := median(tCap), median(tCat), median(tCopy)
			b.ReportMetric(benchBytes/1e6/mCap, "capture-MB/s")
			b.ReportMetric(benchBytes/1e6/mCat, "cat-MB/s")
			b.ReportMetric(benchBytes/1e6/mCopy, "copy-MB/s")
			b.ReportMetric(mCat/mCap, "x-cat")
			b.ReportMetric(mCopy/mCap, "x-copy")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
