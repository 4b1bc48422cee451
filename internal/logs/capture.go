package logs

import (
	"log/slog"
	"sync"
	"time"
)

// Capture reads the output streams of many services and writes them to their sinks.
// On Linux one goroutine serves every stream and, idle, sleeps in epoll_wait: no timers,
// no wakeups. Elsewhere each stream has a goroutine of its own.
type Capture struct {
	logger *slog.Logger
	now    func() time.Time // the clock for line times and warning limits; replaced in tests
	p      *poller

	mu       sync.Mutex         // guards sinks and detached
	sinks    map[*Sink]struct{} // sinks not yet closed, which Detach closes
	detached bool
	// handedOff is closed once Detach has stopped the capture: the streams it handed
	// off never finish, so a Sink.Close waiting for them waits for this instead.
	handedOff chan struct{}
}

// attachment is one output stream being captured.
type attachment struct {
	sink  *Sink
	kind  Stream
	src   source
	carry []byte // pending partial line; nil when none, so idle streams hold no buffer
	tail  *Tail  // the run's tail, also fed every line; nil when none
	busy  bool   // its pipe was grown (Linux poller); owned by the loop
	// inherited marks a stream handed over by another capture, whose pipe may be grown.
	inherited bool
	done      chan struct{}
}

// NewCapture starts the capture machinery. A nil logger discards warnings.
func NewCapture(logger *slog.Logger) (*Capture, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Capture{
		logger:    logger,
		now:       time.Now,
		sinks:     make(map[*Sink]struct{}),
		handedOff: make(chan struct{}),
	}
	p, err := newPoller(c)
	if err != nil {
		return nil, err
	}
	c.p = p
	return c, nil
}

// Close stops the capture. Each attached stream is drained of what its pipe already
// holds (at most 2 MiB, so a writer that never stops cannot hold Close), its last partial
// line written, its file closed and its channel closed. Sinks stay open for the caller
// to close. A second Close, or a Close after Detach, returns ErrClosed.
func (c *Capture) Close() error {
	return c.p.close()
}

func (c *Capture) isClosed() bool {
	return c.p.isClosed()
}

// register records a new sink so that Detach can close it; it fails once Detach ran.
func (c *Capture) register(s *Sink) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detached {
		return ErrClosed
	}
	c.sinks[s] = struct{}{}
	return nil
}

func (c *Capture) unregister(s *Sink) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sinks, s)
}
