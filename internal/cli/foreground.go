package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/config"
)

// A foreground `up` shows what the services print, each line prefixed with
// its service's name, as foreman and compose do. The lines come from the
// supervisor's own log stream (the API's logs, followed), read by this
// process beside the keeper: the log files are written first and never wait
// for the terminal. A terminal that does not keep up loses lines on the
// terminal only, and is told how many.

// termQueue bounds the lines waiting for a slow terminal.
const termQueue = 4096

// upForeground runs the supervisor in this process; with output, it also
// shows the services' output on stdout. Without verbose, the supervisor's
// own lines on stderr are its warnings and errors only (state changes are in
// `respawn events`), in the short console format.
func (g *globals) upForeground(cfg *config.Config, stdout, stderr io.Writer, output, verbose bool) error {
	if !output {
		return g.env.Up(cfg, stderr)
	}
	if !verbose && (cfg.Supervisor.Log.Level == "info" || cfg.Supervisor.Log.Level == "debug") {
		cfg.Supervisor.Log.Level, cfg.Supervisor.Log.LevelFromCommand = "warn", true
	}
	// Beside the services' lines, the supervisor's are short and marked
	// (JSON, when the file asks for it, stays JSON: a program reads it).
	if cfg.Supervisor.Log.Format == "" || cfg.Supervisor.Log.Format == "text" {
		cfg.Supervisor.Log.Format, cfg.Supervisor.Log.FormatFromCommand = config.FormatConsole, true
	}
	ctx, cancel := context.WithCancel(background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		showOutput(ctx, client.New(socketPath(cfg.Supervisor.StateDir)), stdout, g.colour(stdout))
	}()
	started := time.Now()
	err := g.env.Up(cfg, stderr)
	if err == nil || time.Since(started) > outputDrain {
		// The services are stopped: what they printed last is in the logs
		// by now; give the stream a moment to pass it on.
		time.AfterFunc(outputDrain, cancel)
	} else {
		cancel() // it never ran (already running, a bad state dir): nothing to show
	}
	<-done
	cancel()
	return err
}

// outputDrain bounds how long the last lines may take to show after `up`
// has stopped everything.
const outputDrain = time.Second

// showOutput follows the services' output through the supervisor's API
// until ctx ends, reconnecting across restarts of the core.
func showOutput(ctx context.Context, c *client.Client, w io.Writer, colour bool) {
	t := newTermWriter(w)
	defer t.close()
	// A reconnect resumes from the earliest of the services' last lines
	// shown, and skips, per service, what was shown: each service's lines
	// come in time order, while lines of different services interleave.
	shown := map[string]mark{}
	since := time.Now().UTC().Format(time.RFC3339Nano)
	for ctx.Err() == nil {
		st, err := c.Overview(ctx)
		// Only this process's supervisor: it is the keeper, the pid status
		// names (another one may answer while this one finds it running).
		if err == nil && st.Supervisor.Pid != os.Getpid() {
			err = errNotOurs
		}
		if err != nil {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		names := make([]string, len(st.Services))
		for i, s := range st.Services {
			names[i] = s.Name
		}
		p := newLogPrinter(t, names, colour)
		if resume := earliest(shown); !resume.IsZero() {
			since = resume.Format(time.RFC3339Nano)
		}
		// What this stream replays that was shown already: per service,
		// lines before its last shown time, and as many at that time as
		// were shown (lines may share a time).
		skip := maps.Clone(shown)
		_ = c.Logs(ctx, nil, 0, since, true, func(l api.LogLine) error {
			if k, ok := skip[l.Service]; ok {
				switch {
				case l.Time.Before(k.at):
					return nil
				case l.Time.Equal(k.at) && k.n > 0:
					k.n--
					skip[l.Service] = k
					return nil
				}
				delete(skip, l.Service)
			}
			m := shown[l.Service]
			if l.Time.Equal(m.at) {
				m.n++
			} else {
				m = mark{at: l.Time, n: 1}
			}
			shown[l.Service] = m
			return p.print(l)
		})
		// The stream ended: the core restarted, or `up` is stopping.
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return
		}
	}
}

// mark is where a service's shown lines end: the time of its last, and how
// many were shown with that time.
type mark struct {
	at time.Time
	n  int
}

// earliest is the oldest of the marks' times, zero for none.
func earliest(m map[string]mark) time.Time {
	var out time.Time
	for _, k := range m {
		if out.IsZero() || k.at.Before(out) {
			out = k.at
		}
	}
	return out
}

var errNotOurs = errors.New("another supervisor answers")

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// termWriter passes whole lines to a terminal through a bounded queue: when
// the terminal falls behind, lines are dropped and counted, and the count is
// shown once it catches up. Write never blocks.
type termWriter struct {
	w       io.Writer
	lines   chan []byte
	dropped chan int // lines dropped since the last report, for the writer
	done    chan struct{}
	pending int // dropped, not yet handed to the writer; Write's goroutine only
}

func newTermWriter(w io.Writer) *termWriter {
	t := &termWriter{w: w, lines: make(chan []byte, termQueue), dropped: make(chan int, 1), done: make(chan struct{})}
	go t.run()
	return t
}

// Write queues one line (the printer writes a line per call).
func (t *termWriter) Write(b []byte) (int, error) {
	if t.pending > 0 {
		select {
		case t.dropped <- t.pending:
			t.pending = 0
		default:
		}
	}
	select {
	case t.lines <- append([]byte(nil), b...):
	default:
		t.pending++
	}
	return len(b), nil
}

func (t *termWriter) run() {
	defer close(t.done)
	bw := bufio.NewWriter(t.w)
	defer bw.Flush()
	for {
		select {
		case n := <-t.dropped:
			reportDropped(bw, n)
		case b, ok := <-t.lines:
			if !ok {
				return
			}
			bw.Write(b)
			if len(t.lines) == 0 {
				bw.Flush()
			}
		}
	}
}

func reportDropped(w io.Writer, n int) {
	fmt.Fprintf(w, "respawn: %d lines not shown: the terminal was too slow (the log files have every line)\n", n)
}

// close ends the writer once the queued lines are written, and reports the
// lines dropped last. A terminal that takes nothing more is given up on
// after outputDrain: `up` exits all the same.
func (t *termWriter) close() {
	close(t.lines)
	select {
	case <-t.done:
	case <-time.After(outputDrain):
		return
	}
	select {
	case n := <-t.dropped:
		t.pending += n
	default:
	}
	if t.pending > 0 {
		reportDropped(t.w, t.pending)
	}
}
