package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// starts counts the bytes services write to the FIFO, one per start.
type starts struct {
	mu    sync.Mutex // guards count, at, arrivals and the all channel
	count int
	want  int
	at    time.Time     // when count reached want
	all   chan struct{} // closed when count reaches want
	// arrivals holds when each of the first want starts was read, to show
	// the shape of the start-up curve.
	arrivals []time.Time
}

func (s *starts) read(f *os.File) {
	buf := make([]byte, 4096)
	for {
		k, err := f.Read(buf)
		now := time.Now()
		s.mu.Lock()
		before := s.count
		s.count += k
		for i := 0; i < k && len(s.arrivals) < s.want; i++ {
			s.arrivals = append(s.arrivals, now)
		}
		if before < s.want && s.count >= s.want {
			s.at = now
			close(s.all)
		}
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// curve describes the start-up as the time of the first start and of the
// 10th, 50th and 90th percentile, counted from t0.
func (s *starts) curve(t0 time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.arrivals) == 0 {
		return "no starts"
	}
	at := func(q int) time.Duration {
		i := max(0, min(len(s.arrivals)*q/100, len(s.arrivals)-1))
		return s.arrivals[i].Sub(t0).Round(time.Millisecond)
	}
	return fmt.Sprintf("first %v, 10%% %v, 50%% %v, 90%% %v", s.arrivals[0].Sub(t0).Round(time.Millisecond), at(10), at(50), at(90))
}

func (s *starts) snapshot() (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count, s.at
}

// listenStarts makes a FIFO in dir that services write one byte to when
// they start, and counts those bytes until the returned function is called.
func listenStarts(dir string, n int) (string, *starts, func(), error) {
	fifo := filepath.Join(dir, "started")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		return "", nil, nil, fmt.Errorf("mkfifo: %w", err)
	}
	// Read-write, so opening never waits for a writer and the reader never
	// sees end-of-file between services.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		return "", nil, nil, fmt.Errorf("open fifo: %w", err)
	}
	st := &starts{want: n, all: make(chan struct{})}
	reading := make(chan struct{})
	go func() { st.read(f); close(reading) }()
	return fifo, st, func() { f.Close(); <-reading }, nil
}

// spawnFloor is what starting n block processes costs on this machine with
// no supervisor at all: the bench forks and execs them back to back and
// times until all have said they started, the same way as for the peers.
func (e *env) spawnFloor(ctx context.Context, n int) (time.Duration, error) {
	dir, done, err := e.scratch(fmt.Sprintf("b-floor-%d", n))
	if err != nil {
		return 0, err
	}
	defer done()
	fifo, st, closeFIFO, err := listenStarts(dir, n)
	if err != nil {
		return 0, err
	}
	defer closeFIFO()
	procs := make([]*os.Process, 0, n)
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	attr := &os.ProcAttr{
		Files: []*os.File{nil, nil, nil},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		p, err := os.StartProcess(e.block, []string{e.block, fifo}, attr)
		if err != nil {
			return 0, fmt.Errorf("spawn block: %w", err)
		}
		procs = append(procs, p)
	}
	limit := time.NewTimer(5 * time.Minute)
	defer limit.Stop()
	select {
	case <-st.all:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-limit.C:
		c, _ := st.snapshot()
		return 0, fmt.Errorf("%w: %d of %d started in 5m", errTimeout, c, n)
	}
	_, at := st.snapshot()
	return at.Sub(t0), nil
}
