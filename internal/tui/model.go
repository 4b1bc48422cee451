package tui

import (
	"context"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/respawn-sh/respawn/internal/api"
)

// Model is top's state. Every change goes through Update; the streams and
// requests run in commands and come back as messages, so Update never waits
// on the supervisor.
type Model struct {
	ctx     context.Context // ends every stream and request on quit
	stop    context.CancelFunc
	backend Backend
	now     func() time.Time

	width, height int

	status   api.Status
	selected string // by name, so that a refresh that reorders keeps it
	offset   int    // the first visible row of the list

	filter    string // applied: only names containing it are listed
	editing   bool   // the filter is being typed
	filterBuf string

	// A status request is in flight; another was asked for meanwhile.
	refreshing, refreshAgain bool

	events chan struct{} // a signal per batch of events, coalesced

	logs      chan logLine
	logGen    int // the stream the pane shows; lines of older ones are dropped
	logCancel context.CancelFunc
	logAll    bool
	pane      pane

	why     []string // the pane shows these instead of the logs when set
	whyName string

	note    string // the status line: what the last action did
	noteErr bool
}

// logLine is a captured line tagged with the stream that read it.
type logLine struct {
	gen  int
	line api.LogLine
}

// New returns top's model over b. ctx bounds everything it starts.
func New(ctx context.Context, b Backend) *Model {
	ctx, stop := context.WithCancel(ctx)
	return &Model{
		ctx:     ctx,
		stop:    stop,
		backend: b,
		now:     time.Now,
		events:  make(chan struct{}, 1),
		logs:    make(chan logLine, 256),
	}
}

// Close ends the streams and requests the model started.
func (m *Model) Close() { m.stop() }

// Init asks for the status and starts following the events; the slow tick
// refreshes what events do not announce (CPU, memory, uptime).
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.refresh(), followEvents(m.ctx, m.backend, m.events), waitEvent(m.ctx, m.events),
		waitLogs(m.ctx, m.logs), tick())
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.scroll()
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case statusMsg:
		return m, m.gotStatus(msg)
	case eventMsg:
		return m, tea.Batch(m.refresh(), waitEvent(m.ctx, m.events))
	case eventsEndedMsg:
		if m.ctx.Err() != nil {
			return m, nil
		}
		m.setNote("events: "+errText(msg.err), true)
		return m, tea.Tick(retryDelay, func(time.Time) tea.Msg { return eventsRetryMsg{} })
	case eventsRetryMsg:
		return m, tea.Batch(followEvents(m.ctx, m.backend, m.events), m.refresh())
	case tickMsg:
		// Only when nothing is in flight: a slow supervisor gets no queue.
		if m.refreshing {
			return m, tick()
		}
		if len(m.status.Services) <= fewServices {
			return m, tea.Batch(m.refresh(), tick())
		}
		names := m.onScreen()
		if len(names) == 0 {
			return m, tick()
		}
		m.refreshing = true
		return m, tea.Batch(fetchRows(m.ctx, m.backend, names), tick())
	case rowsMsg:
		return m, m.gotRows(msg)
	case logBatchMsg:
		for _, l := range msg {
			if l.gen == m.logGen {
				m.pane.add(l.line)
			}
		}
		return m, waitLogs(m.ctx, m.logs)
	case logsEndedMsg:
		if msg.gen != m.logGen || m.ctx.Err() != nil {
			return m, nil
		}
		m.setNote("logs: "+errText(msg.err), true)
		gen := msg.gen
		return m, tea.Tick(retryDelay, func(time.Time) tea.Msg { return logsRetryMsg{gen} })
	case logsRetryMsg:
		if msg.gen == m.logGen {
			return m, m.followLogs()
		}
	case actionMsg:
		text, failed := msg.text()
		m.setNote(text, failed)
		return m, m.refresh()
	case whyMsg:
		if msg.err != nil {
			m.setNote("why "+msg.name+": "+msg.err.Error(), true)
			return m, nil
		}
		if msg.name == m.selected {
			m.why, m.whyName = msg.lines, msg.name
		}
	}
	return m, nil
}

// gotStatus takes a status in, keeps the selection on its service (or
// moves it to the first listed), and follows the logs of a new selection.
func (m *Model) gotStatus(msg statusMsg) tea.Cmd {
	m.refreshing = false
	var cmds []tea.Cmd
	if msg.err != nil {
		m.setNote("status: "+msg.err.Error(), true)
	} else {
		m.status = msg.status
		if m.noteErr && strings.HasPrefix(m.note, "status: ") {
			m.note, m.noteErr = "", false
		}
		cmds = append(cmds, m.keepSelection())
	}
	if m.refreshAgain {
		m.refreshAgain = false
		cmds = append(cmds, m.refresh())
	}
	return tea.Batch(cmds...)
}

// gotRows merges the status of the rows on screen into the list.
func (m *Model) gotRows(msg rowsMsg) tea.Cmd {
	m.refreshing = false
	if msg.err != nil {
		m.setNote("status: "+msg.err.Error(), true)
	} else {
		fresh := make(map[string]api.Service, len(msg.status.Services))
		for _, s := range msg.status.Services {
			fresh[s.Name] = s
		}
		for i, s := range m.status.Services {
			if f, ok := fresh[s.Name]; ok {
				m.status.Services[i] = f
			}
		}
		m.status.Supervisor = msg.status.Supervisor
	}
	if m.refreshAgain {
		m.refreshAgain = false
		return m.refresh()
	}
	return nil
}

// onScreen names the services of the rows on screen.
func (m *Model) onScreen() []string {
	vis := m.visible()
	rows := m.listRows(len(vis))
	var names []string
	for i := m.offset; i < len(vis) && i < m.offset+rows; i++ {
		names = append(names, vis[i].Name)
	}
	return names
}

// refresh asks for the status unless a request is in flight; then one more
// is asked for when it returns, so that any number of events meanwhile cost
// one request.
func (m *Model) refresh() tea.Cmd {
	if m.refreshing {
		m.refreshAgain = true
		return nil
	}
	m.refreshing = true
	return fetchStatus(m.ctx, m.backend)
}

// visible lists the services that pass the filter, in the supervisor's order.
func (m *Model) visible() []api.Service {
	var out []api.Service
	for _, s := range m.status.Services {
		if strings.Contains(s.Name, m.filter) {
			out = append(out, s)
		}
	}
	return out
}

// index is the selected service's row in visible, -1 if none.
func (m *Model) index(vis []api.Service) int {
	for i, s := range vis {
		if s.Name == m.selected {
			return i
		}
	}
	return -1
}

// keepSelection moves the selection to the first listed service when its
// own is gone or filtered out.
func (m *Model) keepSelection() tea.Cmd {
	vis := m.visible()
	if m.index(vis) >= 0 {
		m.scroll()
		return nil
	}
	name := ""
	if len(vis) > 0 {
		name = vis[0].Name
	}
	return m.selectName(name)
}

// move moves the selection by delta rows.
func (m *Model) move(delta int) tea.Cmd {
	vis := m.visible()
	if len(vis) == 0 {
		return nil
	}
	i := min(max(m.index(vis)+delta, 0), len(vis)-1)
	return m.selectName(vis[i].Name)
}

// selectName selects a service: the pane goes back to the logs, which
// follow it unless all services' are shown.
func (m *Model) selectName(name string) tea.Cmd {
	if name == m.selected {
		return nil
	}
	m.selected = name
	m.why, m.whyName = nil, ""
	m.scroll()
	if m.logAll {
		return nil
	}
	return m.followLogs()
}

// followLogs ends the pane's stream and starts the one it should show.
func (m *Model) followLogs() tea.Cmd {
	if m.logCancel != nil {
		m.logCancel()
		m.logCancel = nil
	}
	m.logGen++
	m.pane.reset()
	var names []string
	if !m.logAll {
		if m.selected == "" {
			return nil
		}
		names = []string{m.selected}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.logCancel = cancel
	return followLogs(ctx, m.backend, names, m.logGen, m.logs)
}

func (m *Model) setNote(text string, isErr bool) {
	m.note = text
	m.noteErr = isErr
}

func errText(err error) string {
	if err == nil {
		return "the stream ended"
	}
	return err.Error()
}
