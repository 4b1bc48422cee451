package logs

import (
	"log/slog"
	"time"
)

// Capture reads the output streams of many services and writes them to their sinks.
// On Linux one goroutine serves every stream and, idle, sleeps in epoll_wait: no timers,
// no wakeups. Elsewhere each stream has a goroutine of its own.
type Capture struct {
	logger *slog.Logger
	now    func() time.Time // the clock for line times and warning limits; replaced in tests
	p      *poller
}

// attachment is one output stream being captured.
type attachment struct {
	sink  *Sink
	kind  Stream
	src   source
	carry []byte // pending partial line; nil when none, so idle streams hold no buffer
	tail  *Tail  // the run's tail, also fed every line; nil when none
	done  chan struct{}
}

// NewCapture starts the capture machinery. A nil logger discards warnings.
func NewCapture(logger *slog.Logger) (*Capture, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Capture{logger: logger, now: time.Now}
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
// to close. A second Close returns ErrClosed.
func (c *Capture) Close() error {
	return c.p.close()
}

func (c *Capture) isClosed() bool {
	return c.p.isClosed()
}
