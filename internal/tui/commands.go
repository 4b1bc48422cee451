package tui

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/format"
)

const (
	// refreshEvery is the slow refresh for what no event announces: CPU,
	// memory, uptime. Measuring costs the supervisor (a thousand services,
	// tens of milliseconds), so it is seldom, and with many services it
	// asks for the rows on screen only (fewServices).
	refreshEvery = 10 * time.Second
	fewServices  = 40
	// retryDelay spaces the attempts to follow a stream that ended (the
	// supervisor's core restarting, say).
	retryDelay = 2 * time.Second
	// requestTimeout bounds a status or why request; actionTimeout a start,
	// stop or restart, which waits for the service to get there.
	requestTimeout = 10 * time.Second
	actionTimeout  = 2 * time.Minute
	// logBatch bounds the lines one message carries, so that a flood still
	// lets keys through between batches.
	logBatch = 256
)

type (
	statusMsg struct {
		status api.Status
		err    error
	}
	eventMsg       struct{}
	eventsEndedMsg struct{ err error }
	eventsRetryMsg struct{}
	tickMsg        struct{}
	// rowsMsg is the status of the rows on screen, merged into the list.
	rowsMsg struct {
		status api.Status
		err    error
	}
	logBatchMsg  []logLine
	logsEndedMsg struct {
		gen int
		err error
	}
	logsRetryMsg struct{ gen int }
	actionMsg    struct {
		verb, name string
		results    []api.Result
		err        error
	}
	whyMsg struct {
		name  string
		lines []string
		err   error
	}
)

func tick() tea.Cmd {
	return tea.Tick(refreshEvery, func(time.Time) tea.Msg { return tickMsg{} })
}

func fetchStatus(ctx context.Context, b Backend) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		st, err := b.Status(ctx)
		return statusMsg{st, err}
	}
}

// fetchRows asks for the status of the services named.
func fetchRows(ctx context.Context, b Backend, names []string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		st, err := b.Status(ctx, names...)
		return rowsMsg{st, err}
	}
}

// followEvents follows the event journal from now on; each event only
// signals that the status changed, and signals that find one pending are
// dropped: the refresh they ask for is already asked for.
func followEvents(ctx context.Context, b Backend, ch chan<- struct{}) tea.Cmd {
	return func() tea.Msg {
		err := b.Events(ctx, "", 1, true, func(api.Event) error {
			select {
			case ch <- struct{}{}:
			default:
			}
			return nil
		})
		return eventsEndedMsg{err}
	}
}

func waitEvent(ctx context.Context, ch <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		select {
		case <-ch:
			return eventMsg{}
		case <-ctx.Done():
			return nil
		}
	}
}

// followLogs follows the named services' output (all with no names), from
// the last screenfuls on.
func followLogs(ctx context.Context, b Backend, names []string, gen int, ch chan<- logLine) tea.Cmd {
	return func() tea.Msg {
		err := b.Logs(ctx, names, paneLines, "", true, func(l api.LogLine) error {
			select {
			case ch <- logLine{gen, l}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if ctx.Err() != nil {
			// Ended on purpose: the selection moved, or top quits.
			return nil
		}
		return logsEndedMsg{gen, err}
	}
}

// waitLogs takes the next line and whatever else is already there.
func waitLogs(ctx context.Context, ch <-chan logLine) tea.Cmd {
	return func() tea.Msg {
		var batch logBatchMsg
		select {
		case l := <-ch:
			batch = append(batch, l)
		case <-ctx.Done():
			return nil
		}
		for len(batch) < logBatch {
			select {
			case l := <-ch:
				batch = append(batch, l)
			default:
				return batch
			}
		}
		return batch
	}
}

// act runs start, stop or restart on one service.
func act(ctx context.Context, verb, name string, do func(context.Context, ...string) ([]api.Result, error)) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		res, err := do(ctx, name)
		return actionMsg{verb: verb, name: name, results: res, err: err}
	}
}

// text says what an action did, as `respawn restart` would, and whether
// that is a failure.
func (a actionMsg) text() (string, bool) {
	if a.err != nil {
		return fmt.Sprintf("%s %s: %v", a.verb, a.name, a.err), true
	}
	var parts []string
	failed := false
	for _, r := range a.results {
		switch {
		case r.Error != "":
			failed = true
			parts = append(parts, fmt.Sprintf("%s: %s: %s", r.Name, r.State, r.Error))
		case r.Pid != 0:
			parts = append(parts, fmt.Sprintf("%s: %s (pid %d)", r.Name, r.State, r.Pid))
		default:
			parts = append(parts, r.Name+": "+r.State)
		}
	}
	if len(parts) == 0 {
		return a.verb + " " + a.name + ": done", false
	}
	return a.verb + ": " + strings.Join(parts, ", "), failed
}

// explain asks why a service is as it is, in the words of `respawn why`.
func explain(ctx context.Context, b Backend, name string, now time.Time) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		y, err := b.Why(ctx, name)
		if err != nil {
			return whyMsg{name: name, err: err}
		}
		var buf bytes.Buffer
		format.Why(&buf, y, now)
		return whyMsg{name: name, lines: strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")}
	}
}
