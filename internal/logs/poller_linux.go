//go:build linux && !portable_poller

package logs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// readsPerRound bounds the reads given to one stream per epoll round, so a flooding
	// service cannot starve the others.
	readsPerRound = 4
	// drainReads bounds the reads of one stream when it is detached or the capture
	// closes, so a writer that never stops cannot hold Close.
	drainReads = 32

	// busyPipe is the size a stream's pipe grows to once a read finds it full: the
	// default 64 KiB makes a writer of big chunks wait for every round of the loop,
	// as it writes while the loop writes the file. Only the stream's slot table is
	// allocated up front (about 2.5 KiB); pages come and go with the data.
	busyPipe = 256 << 10
	// maxBusyPipes bounds the pipes grown at once. The kernel charges a pipe's size to
	// its owner whether or not it holds data, and an unprivileged user past its soft
	// limit (fs.pipe-user-pages-soft, 64 MiB by default) gets two-page pipes from then
	// on: 64 grown pipes stay at 16 MiB of that.
	maxBusyPipes = 64

	// A stream written in small pieces wakes the loop for each of them, and the
	// writer pays for each wake-up too. When a round read little (smallRound) and
	// followed the previous round that read anything within busyGap, the loop waits
	// coalesce before it looks again, so the next round finds a batch: a line's time
	// is then at most that much later than its write. A quiet stream never waits.
	smallRound = 16 << 10
	busyGap    = time.Millisecond
	coalesce   = 250 * time.Microsecond
	// busyWait is how long, in milliseconds, the loop waits in epoll_wait after a
	// round that read something, before it parks on the runtime's poller.
	busyWait = 1
)

// source is the non-blocking read end of a stream, owned by the capture loop.
type source struct{ fd int }

// newSource duplicates r's descriptor and closes r. The runtime's own poller would
// otherwise be woken for every event on r; the duplicate is watched by our loop alone.
func newSource(r *os.File) (source, error) {
	fd, err := dupNonblocking(r)
	if err != nil {
		return source{}, err
	}
	return source{fd: fd}, nil
}

func (s source) close() { unix.Close(s.fd) }

// file hands the descriptor over to an *os.File, for Detach.
func (s source) file(name string) *os.File { return os.NewFile(uintptr(s.fd), name) }

// poller is the Linux capture loop: one goroutine, one level-triggered epoll set over all
// attached streams, one read buffer and one output buffer. Other goroutines talk to it
// through a request queue and an eventfd.
type poller struct {
	c    *Capture
	epfd int
	// park is a second epoll set, non-blocking and on the runtime's poller, that
	// watches epfd one-shot: an idle loop arms it and parks the goroutine there rather
	// than in epoll_wait, so that an idle keeper has no thread in a system call (which
	// keeps the runtime's monitor thread waking every 20 µs). Being one-shot, it tells
	// the runtime of the first ready stream only, not of every write to a busy one.
	park    *os.File
	parkfd  int
	parkRaw syscall.RawConn
	evfd    int
	exited  chan struct{}
	err     error // why the loop stopped on its own; read after exited is closed

	mu          sync.Mutex // guards queue, closed, closeCalled and handingOff: requests to the loop
	queue       []request
	closed      bool // no more requests are taken
	closeCalled bool
	handingOff  bool          // the loop stops without draining: see handoff
	handedOff   []*attachment // the streams released by handoff; read after exited is closed

	// Owned by the loop goroutine.
	streams map[int32]*attachment
	rbuf    []byte
	w       *lineWriter
	spare   []request
	busy    int // streams whose pipe grew to busyPipe and are still attached
}

type request struct {
	st     *attachment
	detach bool
}

func newPoller(c *Capture) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("logs: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: watch eventfd: %w", err)
	}
	parkfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: epoll_create1: %w", err)
	}
	ev = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(epfd)}
	if err := unix.EpollCtl(parkfd, unix.EPOLL_CTL_ADD, epfd, &ev); err != nil {
		unix.Close(parkfd)
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: watch epoll set: %w", err)
	}
	// os.NewFile puts a descriptor on the runtime's poller only if it is non-blocking.
	unix.SetNonblock(parkfd, true)
	park := os.NewFile(uintptr(parkfd), "capture-park")
	parkRaw, err := park.SyscallConn()
	if err != nil { // never: an *os.File has one
		park.Close()
		unix.Close(evfd)
		unix.Close(epfd)
		return nil, fmt.Errorf("logs: epoll: %w", err)
	}
	p := &poller{
		c:       c,
		epfd:    epfd,
		park:    park,
		parkfd:  parkfd,
		parkRaw: parkRaw,
		evfd:    evfd,
		exited:  make(chan struct{}),
		streams: make(map[int32]*attachment),
		rbuf:    make([]byte, readSize),
		w:       newLineWriter(),
	}
	go p.run()
	return p, nil
}

// attach queues st for the loop and adds its descriptor to the epoll set. The add
// happens here, not in the loop, so that a descriptor epoll refuses (a regular file)
// is reported to the caller. Both happen under mu: when the loop sees an event for a
// descriptor it does not know, the stream is already in the queue.
func (p *poller) attach(st *attachment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(st.src.fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, st.src.fd, &ev); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: %w", ErrNotPollable, err)
		}
		return fmt.Errorf("logs: attach: epoll_ctl: %w", err)
	}
	p.pushLocked(request{st: st})
	return nil
}

// detach asks the loop to drain and close the given streams. Once the loop is stopping
// it does that for every stream anyway.
func (p *poller) detach(sts []*attachment) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, st := range sts {
		p.pushLocked(request{st: st, detach: true})
	}
}

func (p *poller) pushLocked(r request) {
	if len(p.queue) == 0 {
		p.wakeLocked()
	}
	p.queue = append(p.queue, r)
}

func (p *poller) wakeLocked() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// Only EAGAIN can fail here, when the counter is already far from zero: awake anyway.
	unix.Write(p.evfd, one[:])
}

func (p *poller) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *poller) close() error {
	p.mu.Lock()
	if p.closeCalled {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closeCalled = true
	if !p.closed {
		p.closed = true
		p.wakeLocked()
	}
	p.mu.Unlock()
	<-p.exited
	return p.err
}

// handoff stops the loop as close does, except that the streams still attached are
// neither read again nor closed: they are removed from the epoll set and returned, each
// with its partial line in its carry. Streams a Sink.Close already asked to detach are
// drained and finished first, as usual. It returns ErrClosed after close or handoff,
// and the loop's own error if it had stopped by itself.
func (p *poller) handoff() ([]*attachment, error) {
	p.mu.Lock()
	if p.closeCalled {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	p.closeCalled = true
	if p.closed {
		p.mu.Unlock()
		<-p.exited
		return nil, p.err
	}
	p.closed = true
	p.handingOff = true
	p.wakeLocked()
	p.mu.Unlock()
	<-p.exited
	return p.handedOff, nil
}

func (p *poller) run() {
	defer close(p.exited)
	events := make([]unix.EpollEvent, 128)
	var lastRead time.Time // when the last round that read anything ended
	busy := false          // the last round read something
	for {
		n, err := p.wait(events, busy)
		if err != nil {
			p.err = fmt.Errorf("logs: epoll_wait: %w", err)
			p.c.logger.Error("log capture stopped", "err", err)
			p.mu.Lock()
			p.closed = true
			p.mu.Unlock()
			p.handleRequests()
			return
		}
		requests, read := false, 0
		for i := range events[:n] {
			st := p.streams[events[i].Fd]
			if st == nil {
				// The eventfd, or a stream attached since the last look at the queue.
				requests = true
				continue
			}
			read += p.service(st, events[i].Events)
		}
		if requests && p.handleRequests() {
			return
		}
		busy = read > 0
		if busy {
			now := time.Now()
			if shouldCoalesce(read, now.Sub(lastRead)) {
				ts := unix.NsecToTimespec(coalesce.Nanoseconds())
				unix.Nanosleep(&ts, nil) // EINTR only shortens the wait
			}
			lastRead = now
		}
	}
}

// wait returns the ready streams. After a round that read something it first waits
// in epoll_wait for busyWait: a busy stream's next bytes come soon, and parking costs
// a trip through the runtime's scheduler. Otherwise, or when nothing came by then, it
// arms the one-shot watch of the park set and parks the goroutine on the runtime's
// poller until a stream is ready.
func (p *poller) wait(events []unix.EpollEvent, busy bool) (int, error) {
	timeout := 0
	if busy {
		timeout = busyWait
	}
	for {
		n, err := epollWait(p.epfd, events, timeout)
		if n > 0 || err != nil {
			return n, err
		}
		timeout = 0
		// Armed again, the watch reports a stream that is ready already at once.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(p.epfd)}
		if err := unix.EpollCtl(p.parkfd, unix.EPOLL_CTL_MOD, p.epfd, &ev); err != nil {
			return 0, fmt.Errorf("arm: %w", err)
		}
		var werr error
		rerr := p.parkRaw.Read(func(fd uintptr) bool {
			var one [1]unix.EpollEvent
			n, werr = epollWait(int(fd), one[:], 0)
			return n > 0 || werr != nil
		})
		if err := errors.Join(werr, rerr); err != nil {
			return 0, err
		}
	}
}

// epollWait is epoll_wait retried on EINTR.
func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	for {
		n, err := unix.EpollWait(epfd, events, msec)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// shouldCoalesce reports whether the loop waits coalesce before its next look, after
// a round that read the given bytes, since after the previous round that read any.
func shouldCoalesce(read int, since time.Duration) bool {
	return read > 0 && read < smallRound && since < busyGap
}

// handleRequests applies queued attaches and detaches; when the capture is closing it
// drains every stream, releases the loop's descriptors and reports true.
func (p *poller) handleRequests() (stop bool) {
	var buf [8]byte
	unix.Read(p.evfd, buf[:])
	p.mu.Lock()
	q := p.queue
	p.queue = p.spare[:0]
	closed, handingOff := p.closed, p.handingOff
	p.mu.Unlock()
	for i, r := range q {
		fd := int32(r.st.src.fd)
		switch {
		case !r.detach:
			p.streams[fd] = r.st
			if r.st.inherited {
				p.adopt(r.st)
			}
		case p.streams[fd] == r.st:
			p.drain(r.st)
		}
		q[i] = request{}
	}
	p.spare = q[:0]
	if !closed {
		return false
	}
	for _, st := range p.streams {
		if handingOff {
			p.release(st)
		} else {
			p.drain(st)
		}
	}
	unix.Close(p.evfd)
	p.park.Close()
	unix.Close(p.epfd)
	return true
}

// service reads a ready stream, a few reads at most, and writes their lines in one go.
// It returns the bytes read.
func (p *poller) service(st *attachment, events uint32) (read int) {
	defer p.w.flush()
	hup := events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
	for range readsPerRound {
		n, err := unix.Read(st.src.fd, p.rbuf)
		switch {
		case n > 0:
			read += n
			p.w.feed(st, p.rbuf[:n], p.c.now())
			if n < len(p.rbuf) && !hup {
				return read // the pipe is most likely empty: skip the read that says so
			}
			p.grow(st)
		case err == nil:
			p.finish(st, nil)
			return read
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return read
		default:
			p.finish(st, err)
			return read
		}
	}
	return read
}

// grow enlarges the pipe of a stream a read found full, once, while fewer than
// maxBusyPipes are grown. A refusal (a user past its pipe limits, a descriptor that
// is no pipe) leaves the stream as it was: it is only slower.
func (p *poller) grow(st *attachment) {
	if st.busy || p.busy >= maxBusyPipes {
		return
	}
	if _, err := unix.FcntlInt(uintptr(st.src.fd), unix.F_SETPIPE_SZ, busyPipe); err != nil {
		return
	}
	st.busy = true
	p.busy++
}

// drain reads what st has ready, without waiting, then finishes it.
func (p *poller) drain(st *attachment) {
	var rerr error
	for range drainReads {
		n, err := unix.Read(st.src.fd, p.rbuf)
		if n > 0 {
			p.w.feed(st, p.rbuf[:n], p.c.now())
			continue
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			rerr = err
		}
		break
	}
	p.finish(st, rerr)
}

// release gives st up for handoff without reading it: its descriptor stays open and its
// partial line stays in its carry.
func (p *poller) release(st *attachment) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, st.src.fd, nil)
	delete(p.streams, int32(st.src.fd))
	p.unbusy(st)
	p.handedOff = append(p.handedOff, st)
}

// adopt counts the pipe of a stream handed over by another capture if that capture
// grew it, so that an upgrade does not reset the bound.
func (p *poller) adopt(st *attachment) {
	if n, err := unix.FcntlInt(uintptr(st.src.fd), unix.F_GETPIPE_SZ, 0); err == nil && n >= busyPipe {
		st.busy = true
		p.busy++
	}
}

// unbusy takes a stream that leaves the loop out of the count of grown pipes.
func (p *poller) unbusy(st *attachment) {
	if st.busy {
		st.busy = false
		p.busy--
	}
}

// finish writes st's last partial line, closes its descriptor and signals its end.
func (p *poller) finish(st *attachment, rerr error) {
	if rerr != nil {
		p.c.logger.Warn("log capture read failed", "path", st.sink.path, "stream", st.kind.String(), "err", rerr)
	}
	p.w.finish(st, p.c.now())
	// Removed explicitly: a duplicate of the descriptor in a forked child would
	// otherwise keep the registration alive after close.
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, st.src.fd, nil)
	st.src.close()
	delete(p.streams, int32(st.src.fd))
	p.unbusy(st)
	st.sink.forget(st)
	close(st.done)
}
