package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/respawn-sh/respawn/internal/api"
)

// screen is the view as a terminal shows it, without colours.
func screen(m *Model) string { return ansi.Strip(m.View().Content) }

// followed waits for the logs the model follows next.
func followed(t *testing.T, f *fake) []string {
	t.Helper()
	select {
	case names := <-f.logNames:
		return names
	case <-time.After(5 * time.Second):
		t.Fatal("the model followed no logs")
		return nil
	}
}

func TestTopViewListsTheServices(t *testing.T) {
	f := newFake("db", "web", "worker")
	f.status.Services[2].State, f.status.Services[2].Pid = "backoff", 0
	f.status.Services[1].CPUPercent = new(12.4)
	f.status.Services[1].MemoryBytes = new(uint64(47_395_635))
	m := model(t, f)
	s := screen(m)
	for _, want := range []string{"/srv/respawn.yaml", "supervisor pid 7", "> db ", "running", "web", "12%", "45.2M",
		"worker", "backoff", "1m00s", "logs: db", "q quit"} {
		if !strings.Contains(s, want) {
			t.Errorf("the view lacks %q:\n%s", want, s)
		}
	}
	if got := followed(t, f); !slices.Equal(got, []string{"db"}) {
		t.Errorf("follows the logs of %q, want db", got)
	}
}

func TestTopViewFitsTheTerminal(t *testing.T) {
	f := newFake()
	for i := range 40 {
		f.status.Services = append(f.status.Services, api.Service{Name: fmt.Sprintf("service-%02d", i), State: "running", Error: strings.Repeat("x", 300)})
	}
	m := model(t, f)
	for _, size := range []tea.WindowSizeMsg{{Width: 100, Height: 30}, {Width: 40, Height: 10}, {Width: 200, Height: 60}} {
		update(t, m, size)
		// Walk to the last service: the list scrolls to keep it shown.
		for range 45 {
			run(update(t, m, key("j")))
		}
		lines := strings.Split(screen(m), "\n")
		if len(lines) != size.Height {
			t.Errorf("%dx%d: %d lines", size.Width, size.Height, len(lines))
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); w > size.Width {
				t.Errorf("%dx%d: a line %d wide: %q", size.Width, size.Height, w, l)
			}
		}
		if !strings.Contains(screen(m), "> service-39") {
			t.Errorf("%dx%d: the selection is not shown:\n%s", size.Width, size.Height, screen(m))
		}
	}
}

func TestTopSelectionMovesTheLogs(t *testing.T) {
	f := newFake("db", "web")
	m := model(t, f)
	followed(t, f)
	old := m.logGen
	run(update(t, m, key("down")))
	if m.selected != "web" {
		t.Fatalf("selected %q after down, want web", m.selected)
	}
	if got := followed(t, f); !slices.Equal(got, []string{"web"}) {
		t.Errorf("follows %q, want web", got)
	}
	// A line the old stream read before it ended is not web's.
	update(t, m, logBatchMsg{{gen: old, line: api.LogLine{Service: "db", Line: "from db"}},
		{gen: m.logGen, line: api.LogLine{Service: "web", Stream: "stderr", Line: "from web\x1b[31m red"}}})
	s := screen(m)
	if strings.Contains(s, "from db") || !strings.Contains(s, "! from web red") {
		t.Errorf("pane:\n%s", s)
	}
	run(update(t, m, key("a")))
	if got := followed(t, f); got != nil {
		t.Errorf("a follows %q, want all services", got)
	}
	update(t, m, logBatchMsg{{gen: m.logGen, line: api.LogLine{Service: "db", Line: "db again"}}})
	if s := screen(m); !strings.Contains(s, "logs: all services") || !strings.Contains(s, "db | db again") {
		t.Errorf("all logs:\n%s", s)
	}
	// With all logs shown, moving keeps the stream.
	if cmd := update(t, m, key("up")); cmd != nil || m.selected != "db" {
		t.Errorf("up with all logs: selected %q, command %v", m.selected, cmd != nil)
	}
}

func TestTopPaneKeepsTheLastLines(t *testing.T) {
	var p pane
	for i := range 1200 {
		p.add(api.LogLine{Line: fmt.Sprint(i)})
	}
	if len(p.lines) != paneLines || p.lines[0].Line != "700" || p.lines[paneLines-1].Line != "1199" {
		t.Errorf("kept %d lines, %s to %s", len(p.lines), p.lines[0].Line, p.lines[len(p.lines)-1].Line)
	}
	if got := p.last(2); len(got) != 2 || got[1].Line != "1199" {
		t.Errorf("last(2) = %v", got)
	}
}

func TestTopActionsOnTheSelection(t *testing.T) {
	f := newFake("db", "web")
	m := model(t, f)
	run(update(t, m, key("j")))
	for _, c := range []struct{ key, want string }{{"r", "restart web"}, {"s", "start web"}, {"S", "stop web"}, {"x", "stop web"}} {
		cmd := update(t, m, key(c.key))
		if !strings.Contains(screen(m), c.want+"…") {
			t.Errorf("%s: the status line does not say it is under way:\n%s", c.key, screen(m))
		}
		msg := cmd()
		if got := f.actions[len(f.actions)-1]; got != c.want {
			t.Errorf("%s did %q, want %q", c.key, got, c.want)
		}
		update(t, m, msg)
		if s := screen(m); !strings.Contains(s, "web: running (pid 999)") {
			t.Errorf("%s: the status line:\n%s", c.key, s)
		}
	}
	f.fail = errors.New("the supervisor is not running")
	update(t, m, update(t, m, key("r"))())
	if s := screen(m); !strings.Contains(s, "restart web: the supervisor is not running") {
		t.Errorf("a failed action:\n%s", s)
	}
	update(t, m, actionMsg{verb: "start", name: "web", results: []api.Result{{Name: "web", State: "failed", Error: "exit 1"}}})
	if !m.noteErr || !strings.Contains(screen(m), "web: failed: exit 1") {
		t.Errorf("a result with an error: %q", m.note)
	}
}

func TestTopWhy(t *testing.T) {
	f := newFake("db", "ghost")
	m := model(t, f)
	update(t, m, update(t, m, key("w"))())
	if s := screen(m); !strings.Contains(s, "why db") || !strings.Contains(s, "db: running, nothing to explain") {
		t.Errorf("why:\n%s", s)
	}
	update(t, m, key("esc"))
	if s := screen(m); !strings.Contains(s, "logs: db") {
		t.Errorf("esc does not go back to the logs:\n%s", s)
	}
	run(update(t, m, key("j")))
	update(t, m, update(t, m, key("w"))())
	if s := screen(m); !strings.Contains(s, "why ghost: unknown service ghost") {
		t.Errorf("a failed why:\n%s", s)
	}
}

func TestTopFilter(t *testing.T) {
	f := newFake("db", "web", "webhook")
	m := model(t, f)
	for _, k := range []string{"/", "w", "x", "backspace", "e"} {
		update(t, m, key(k))
	}
	if s := screen(m); !strings.Contains(s, "filter: we_") || !strings.Contains(s, "> db") {
		t.Errorf("while typing:\n%s", s)
	}
	run(update(t, m, key("enter")))
	s := screen(m)
	if strings.Contains(s, " db ") || !strings.Contains(s, "> web ") || !strings.Contains(s, "webhook") || !strings.Contains(s, `filter "we": 2 shown`) {
		t.Errorf("filtered:\n%s", s)
	}
	run(update(t, m, key("esc")))
	if s := screen(m); !strings.Contains(s, " db ") || m.filter != "" {
		t.Errorf("esc does not clear the filter:\n%s", s)
	}
	for _, k := range []string{"/", "z", "enter"} {
		run(update(t, m, key(k)))
	}
	if s := screen(m); !strings.Contains(s, `no service matches "z"`) || m.selected != "" {
		t.Errorf("nothing matches:\n%s", s)
	}
	if update(t, m, key("r")) != nil || !strings.Contains(screen(m), "no service selected") {
		t.Errorf("r with nothing selected:\n%s", screen(m))
	}
	// Esc while typing clears too.
	for _, k := range []string{"/", "w", "esc"} {
		run(update(t, m, key(k)))
	}
	if m.filter != "" || m.editing {
		t.Errorf("esc while typing: filter %q, editing %v", m.filter, m.editing)
	}
}

// TestTopRefreshCoalesces checks that events during a status request cost
// one more request, not one each, and that the tick adds none.
func TestTopRefreshCoalesces(t *testing.T) {
	f := newFake("db")
	m := model(t, f)
	first := update(t, m, eventMsg{})
	if first == nil || !m.refreshing {
		t.Fatal("an event asked for no status")
	}
	for range 5 {
		update(t, m, eventMsg{})
	}
	update(t, m, tickMsg{})
	if !m.refreshAgain {
		t.Fatal("events during a request asked for none after it")
	}
	st, _ := f.Status(t.Context())
	again := update(t, m, statusMsg{status: st})
	if again == nil || !m.refreshing || m.refreshAgain {
		t.Fatalf("after the status: refreshing %v, again %v", m.refreshing, m.refreshAgain)
	}
	update(t, m, statusMsg{status: st})
	if m.refreshing || m.refreshAgain {
		t.Errorf("idle: refreshing %v, again %v", m.refreshing, m.refreshAgain)
	}
	update(t, m, statusMsg{err: errors.New("connection refused")})
	if s := screen(m); !strings.Contains(s, "status: connection refused") || !strings.Contains(s, "> db") {
		t.Errorf("a failed status:\n%s", s)
	}
}

func TestTopQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := model(t, newFake("db"))
		cmd := update(t, m, key(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
		if m.ctx.Err() == nil {
			t.Errorf("%s leaves the streams running", k)
		}
	}
}

// TestTopStreamsThatEnd: a stream that ends says so and is followed again
// later; the end of a stream the pane no longer shows is no news.
func TestTopStreamsThatEnd(t *testing.T) {
	f := newFake("db")
	m := model(t, f)
	if cmd := update(t, m, eventsEndedMsg{errors.New("the supervisor is not running")}); cmd == nil {
		t.Error("an ended events stream is not followed again")
	}
	if s := screen(m); !strings.Contains(s, "events: the supervisor is not running") {
		t.Errorf("an ended events stream:\n%s", s)
	}
	if cmd := update(t, m, logsEndedMsg{gen: m.logGen - 1, err: errors.New("old")}); cmd != nil || strings.Contains(screen(m), "old") {
		t.Error("the end of an old log stream is reported")
	}
	if cmd := update(t, m, logsEndedMsg{gen: m.logGen, err: errors.New("unknown service db")}); cmd == nil {
		t.Error("an ended log stream is not followed again")
	}
	if s := screen(m); !strings.Contains(s, "logs: unknown service db") {
		t.Errorf("an ended log stream:\n%s", s)
	}
	gen := m.logGen
	run(update(t, m, logsRetryMsg{gen: gen}))
	if m.logGen == gen {
		t.Error("the retry did not follow the logs again")
	}
}

// answer runs the commands of cmd (a batch, or one) and returns the first
// status answer among their messages; the tick is left to time out.
func answer(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	got := make(chan tea.Msg, 8)
	var start func(tea.Cmd)
	start = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, c := range b {
					start(c)
				}
				return
			}
			got <- msg
		}()
	}
	start(cmd)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case msg := <-got:
			switch msg.(type) {
			case statusMsg, rowsMsg:
				return msg
			}
		case <-deadline:
			t.Fatal("no status was asked for")
			return nil
		}
	}
}

// With many services the slow refresh asks for the rows on screen only,
// and merges them in; with few, for everything.
func TestTopSlowRefreshAsksForTheRowsOnScreen(t *testing.T) {
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprintf("svc%03d", i))
	}
	f := newFake(names...)
	m := model(t, f)
	shown := m.onScreen()
	if len(shown) == 0 || len(shown) >= len(names) || shown[0] != "svc000" {
		t.Fatalf("on screen: %v", shown)
	}
	f.mu.Lock()
	f.status.Services[0].CPUPercent = new(55.0)
	f.mu.Unlock()
	msg := answer(t, update(t, m, tickMsg{}))
	f.mu.Lock()
	asked := f.asked[len(f.asked)-1]
	f.mu.Unlock()
	if !slices.Equal(asked, shown) {
		t.Fatalf("the tick asked for %v, want the rows on screen %v", asked, shown)
	}
	update(t, m, msg)
	if m.refreshing || m.status.Services[0].CPUPercent == nil || *m.status.Services[0].CPUPercent != 55 || len(m.status.Services) != len(names) {
		t.Errorf("after the rows came: refreshing %v, first %+v, %d services", m.refreshing, m.status.Services[0], len(m.status.Services))
	}
	if s := screen(m); !strings.Contains(s, "55%") {
		t.Errorf("the new CPU figure is not shown:\n%s", s)
	}

	few := newFake("db", "web")
	m2 := model(t, few)
	if _, ok := answer(t, update(t, m2, tickMsg{})).(statusMsg); !ok {
		t.Error("with few services the tick did not ask for the whole status")
	}
}
