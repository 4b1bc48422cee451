package tui

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/respawn-sh/respawn/internal/api"
)

// fake is a supervisor that answers from memory and records what it is asked.
type fake struct {
	mu       sync.Mutex
	status   api.Status
	statuses int
	actions  []string // "restart web"
	logNames chan []string
	fail     error      // the answer to actions, when set
	asked    [][]string // the names of each status request
}

func newFake(names ...string) *fake {
	f := &fake{logNames: make(chan []string, 16)}
	started := time.Date(2026, 12, 4, 11, 59, 0, 0, time.UTC)
	f.status.Supervisor = api.Supervisor{Pid: 7, Config: "/srv/respawn.yaml", StartedAt: started}
	for i, n := range names {
		f.status.Services = append(f.status.Services, api.Service{Name: n, State: "running", Pid: 100 + i, StartedAt: &started, Health: "unknown"})
	}
	return f
}

func (f *fake) Status(_ context.Context, names ...string) (api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses++
	f.asked = append(f.asked, names)
	if len(names) == 0 {
		return f.status, nil
	}
	st := api.Status{Supervisor: f.status.Supervisor}
	for _, s := range f.status.Services {
		if slices.Contains(names, s.Name) {
			st.Services = append(st.Services, s)
		}
	}
	return st, nil
}

func (f *fake) action(verb string, names []string) ([]api.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []api.Result
	for _, n := range names {
		f.actions = append(f.actions, verb+" "+n)
		out = append(out, api.Result{Name: n, State: "running", Pid: 999})
	}
	return out, nil
}

func (f *fake) Start(_ context.Context, n ...string) ([]api.Result, error) {
	return f.action("start", n)
}
func (f *fake) Stop(_ context.Context, n ...string) ([]api.Result, error) {
	return f.action("stop", n)
}
func (f *fake) Restart(_ context.Context, n ...string) ([]api.Result, error) {
	return f.action("restart", n)
}

func (f *fake) Why(_ context.Context, name string) (api.Why, error) {
	if name == "ghost" {
		return api.Why{}, errors.New("unknown service ghost")
	}
	return api.Why{Service: api.Service{Name: name, State: "running"}, Summary: "running, nothing to explain"}, nil
}

func (f *fake) Events(ctx context.Context, _ string, _ int, _ bool, _ func(api.Event) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// Logs reports which services it follows, then follows until told to stop.
func (f *fake) Logs(ctx context.Context, names []string, _ int, _ string, _ bool, _ func(api.LogLine) error) error {
	select {
	case f.logNames <- names:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ctx.Done()
	return ctx.Err()
}

// model returns a model over f that has had its first status and a
// terminal of 100×30, with the clock at noon.
func model(t *testing.T, f *fake) *Model {
	t.Helper()
	m := New(context.Background(), f)
	t.Cleanup(m.Close)
	m.now = func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) }
	update(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	st, _ := f.Status(context.Background())
	m.refreshing = true
	run(update(t, m, statusMsg{status: st}))
	return m
}

// update applies msg and returns the command it gave.
func update(t *testing.T, m *Model, msg tea.Msg) tea.Cmd {
	t.Helper()
	got, cmd := m.Update(msg)
	if got != m {
		t.Fatalf("Update returned another model")
	}
	return cmd
}

// run starts cmd in the background, as Bubble Tea does, and forgets it: the
// streams it may start end with the model.
func run(cmd tea.Cmd) {
	if cmd != nil {
		go cmd()
	}
}

func key(s string) tea.KeyPressMsg {
	switch s {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}
