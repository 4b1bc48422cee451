//go:build !linux || portable_poller

package logs

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

const (
	// drainReads bounds the reads of one stream when it is detached or the capture
	// closes, so a writer that never stops cannot hold Close.
	drainReads = 32
	// drainWait is how long a detached stream's drain waits for more data; what is
	// already in the pipe is read without waiting.
	drainWait = time.Millisecond
)

// source is the read end of a stream, read by its own goroutine.
type source struct{ f *os.File }

// newSource duplicates r's descriptor, closes r, and wraps the duplicate
// non-blocking, so that the runtime's poller serves its reads and a read
// deadline can stop them: a blocking read of a pipe whose writer is quiet
// could be stopped by nothing, and a detach would wait for the writer.
func newSource(r *os.File) (source, error) {
	name := r.Name()
	fd, err := dupNonblocking(r)
	if err != nil {
		return source{}, err
	}
	return source{f: os.NewFile(uintptr(fd), name)}, nil
}

func (s source) close() { s.f.Close() }

// file returns the read end for Detach, its deadline cleared.
func (s source) file(string) *os.File {
	s.f.SetReadDeadline(time.Time{})
	return s.f
}

// poller is the portable capture: one goroutine per stream with blocking reads. A
// stream is detached by expiring its read deadline, which wakes its reader to drain it;
// a file without deadlines is closed instead, losing what it still held.
type poller struct {
	c  *Capture
	wg sync.WaitGroup

	// feedMu serializes stamping and writing: each stream has its own
	// reader, and a line stamped by one must not reach its log after a
	// later-stamped line of another (Linux's one loop does both in turn).
	feedMu sync.Mutex

	mu         sync.Mutex // guards the fields below
	closed     bool
	handingOff bool // readers stopped by their deadline stop without draining: see handoff
	streams    map[*attachment]struct{}
	detaching  map[*attachment]struct{}
	handedOff  []*attachment
}

var writerPool = sync.Pool{New: func() any { return newLineWriter() }}

func newPoller(c *Capture) (*poller, error) {
	return &poller{
		c:         c,
		streams:   make(map[*attachment]struct{}),
		detaching: make(map[*attachment]struct{}),
	}, nil
}

func (p *poller) attach(st *attachment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.streams[st] = struct{}{}
	p.wg.Add(1)
	go p.read(st)
	return nil
}

func (p *poller) read(st *attachment) {
	defer p.wg.Done()
	buf := make([]byte, readSize)
	var rerr error
	for {
		n, err := st.src.f.Read(buf)
		if n > 0 {
			p.feed(st, buf[:n])
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			switch p.stopped(st) {
			case stopHandoff:
				return
			case stopDetach:
				p.drain(st, buf)
			default:
				rerr = err
			}
		} else if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
			rerr = err
		}
		break
	}
	if rerr != nil {
		p.c.logger.Warn("log capture read failed", "path", st.sink.path, "stream", st.kind.String(), "err", rerr)
	}
	p.feedMu.Lock()
	w := writerPool.Get().(*lineWriter)
	w.finish(st, p.c.now())
	writerPool.Put(w)
	p.feedMu.Unlock()
	st.src.close()
	p.mu.Lock()
	delete(p.streams, st)
	delete(p.detaching, st)
	p.mu.Unlock()
	st.sink.forget(st)
	close(st.done)
}

func (p *poller) feed(st *attachment, data []byte) {
	p.feedMu.Lock()
	defer p.feedMu.Unlock()
	w := writerPool.Get().(*lineWriter)
	w.feed(st, data, p.c.now())
	w.flush()
	writerPool.Put(w)
}

// drain reads what st holds, waiting at most drainWait for more.
func (p *poller) drain(st *attachment, buf []byte) {
	if err := st.src.f.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
		return
	}
	for range drainReads {
		n, err := st.src.f.Read(buf)
		if n > 0 {
			p.feed(st, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// stopReason tells why a reader's deadline expired.
type stopReason int

const (
	stopNone    stopReason = iota // not asked to stop: the stream ends as at EOF
	stopDetach                    // Sink.Close or Capture.Close: drain, then finish
	stopHandoff                   // Detach: leave the stream as it is
)

// stopped reports why st's reader was stopped; a stream handed off is recorded as such
// and forgotten, so that a later detach leaves it alone.
func (p *poller) stopped(st *attachment) stopReason {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.detaching[st]; ok {
		return stopDetach
	}
	if !p.handingOff {
		return stopNone
	}
	delete(p.streams, st)
	p.handedOff = append(p.handedOff, st)
	return stopHandoff
}

func (p *poller) detach(sts []*attachment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range sts {
		p.detachLocked(st)
	}
}

func (p *poller) detachLocked(st *attachment) {
	if _, ok := p.streams[st]; !ok {
		return
	}
	p.detaching[st] = struct{}{}
	if err := st.src.f.SetReadDeadline(time.Now()); err != nil {
		st.src.close()
	}
}

// handoff stops every reader through its read deadline without draining or closing its
// stream, and returns the streams, each with its partial line in its carry. Streams
// being detached are drained and finished as usual; so is one whose file has no
// deadlines, which can only be stopped by closing it. It returns ErrClosed after close
// or handoff.
func (p *poller) handoff() ([]*attachment, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.closed = true
	p.handingOff = true
	for st := range p.streams {
		if _, ok := p.detaching[st]; ok {
			continue
		}
		if err := st.src.f.SetReadDeadline(time.Now()); err != nil {
			p.detaching[st] = struct{}{}
			st.src.close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	return p.handedOff, nil
}

func (p *poller) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *poller) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	for st := range p.streams {
		p.detachLocked(st)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
