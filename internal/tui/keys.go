package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/respawn-sh/respawn/internal/api"
)

// helpLine is always at the bottom: top has no key it does not list.
const helpLine = "↑↓/jk select  s start  S/x stop  r restart  w why  a all logs  / filter  esc back  q quit"

// key handles a key press.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	if m.editing {
		return m.filterKey(k)
	}
	switch k.String() {
	case "q":
		return m.quit()
	case "up", "k":
		return m.move(-1)
	case "down", "j":
		return m.move(1)
	case "s":
		return m.act("start", m.backend.Start)
	case "S", "x":
		return m.act("stop", m.backend.Stop)
	case "r":
		return m.act("restart", m.backend.Restart)
	case "w":
		if m.selected == "" {
			m.setNote("no service selected", true)
			return nil
		}
		return explain(m.ctx, m.backend, m.selected, m.now())
	case "a":
		m.logAll = !m.logAll
		m.why, m.whyName = nil, ""
		return m.followLogs()
	case "/":
		m.editing, m.filterBuf = true, m.filter
	case "esc":
		// Back out one level: from why to the logs, then the filter.
		if m.why != nil {
			m.why, m.whyName = nil, ""
			return nil
		}
		if m.filter != "" {
			return m.setFilter("")
		}
	}
	return nil
}

// filterKey edits the filter: Enter applies it, Esc clears it.
func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		m.editing = false
		return m.setFilter(m.filterBuf)
	case "esc":
		m.editing, m.filterBuf = false, ""
		return m.setFilter("")
	case "backspace":
		if r := []rune(m.filterBuf); len(r) > 0 {
			m.filterBuf = string(r[:len(r)-1])
		}
	default:
		m.filterBuf += k.Text
	}
	return nil
}

func (m *Model) setFilter(f string) tea.Cmd {
	m.filter = f
	m.offset = 0
	return m.keepSelection()
}

// act starts an action on the selected service; its result comes back as
// an actionMsg for the status line.
func (m *Model) act(verb string, do func(context.Context, ...string) ([]api.Result, error)) tea.Cmd {
	if m.selected == "" {
		m.setNote("no service selected", true)
		return nil
	}
	m.setNote(verb+" "+m.selected+"…", false)
	return act(m.ctx, verb, m.selected, do)
}

// quit ends the streams; Bubble Tea then restores the terminal.
func (m *Model) quit() tea.Cmd {
	m.stop()
	return tea.Quit
}
