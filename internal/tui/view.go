package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/format"
)

// The size assumed until the terminal reports its own.
const (
	defaultWidth  = 80
	defaultHeight = 24
	// chrome counts the lines that are not list rows or pane lines: the
	// header, the list's column names, the pane's title, the status line
	// and the help line.
	chrome = 5
)

var (
	titleStyle    = lipgloss.NewStyle().Bold(true)
	columnStyle   = lipgloss.NewStyle().Bold(true).Faint(true)
	selectedStyle = lipgloss.NewStyle().Reverse(true)
	errStyle      = lipgloss.NewStyle().Foreground(lipgloss.Red)
	helpStyle     = lipgloss.NewStyle().Faint(true)
	stderrStyle   = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
)

// stateStyle colours a state as status does: green running, yellow on its
// way or waiting, red failed, plain at rest.
func stateStyle(state string) lipgloss.Style {
	switch state {
	case "running":
		return lipgloss.NewStyle().Foreground(lipgloss.Green)
	case "starting", "stopping", "backoff", "waiting":
		return lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	case "failed":
		return lipgloss.NewStyle().Foreground(lipgloss.Red)
	}
	return lipgloss.NewStyle()
}

func (m *Model) size() (w, h int) {
	w, h = m.width, m.height
	if w <= 0 || h <= 0 {
		return defaultWidth, defaultHeight
	}
	return w, h
}

// listRows is how many rows the service list gets: all services when they
// fit in half the space, else half, the pane the rest.
func (m *Model) listRows(n int) int {
	_, h := m.size()
	room := max(h-chrome, 2)
	return max(min(n, room/2), 1)
}

// scroll keeps the selected row within the rows shown.
func (m *Model) scroll() {
	vis := m.visible()
	rows := m.listRows(len(vis))
	i := m.index(vis)
	switch {
	case i < 0:
		m.offset = 0
	case i < m.offset:
		m.offset = i
	case i >= m.offset+rows:
		m.offset = i - rows + 1
	}
	m.offset = max(min(m.offset, len(vis)-rows), 0)
}

// View draws the screen: header, service list, pane, status and help.
func (m *Model) View() tea.View {
	w, h := m.size()
	vis := m.visible()
	rows := m.listRows(len(vis))
	lines := make([]string, 0, h)
	lines = append(lines, titleStyle.Render(m.header(len(vis))))
	lines = append(lines, m.list(vis, rows)...)
	paneRows := max(h-chrome-rows, 0)
	lines = append(lines, titleStyle.Render(m.paneTitle()))
	lines = append(lines, m.paneLines(paneRows)...)
	lines = append(lines, m.statusLine(), helpStyle.Render(helpLine))
	clip := lipgloss.NewStyle().MaxWidth(w)
	for i, l := range lines {
		lines[i] = clip.Render(l)
	}
	v := tea.NewView(strings.Join(lines, "\n"))
	v.AltScreen = true
	v.WindowTitle = "respawn top"
	return v
}

// header names the supervisor and, when filtered, how many services pass.
func (m *Model) header(shown int) string {
	sup := m.status.Supervisor
	if sup.Pid == 0 {
		return "respawn top: waiting for the supervisor"
	}
	up := "-"
	if !sup.StartedAt.IsZero() {
		up = format.Duration(m.now().Sub(sup.StartedAt))
	}
	h := fmt.Sprintf("respawn top: %s  supervisor pid %d, up %s, %d services", sup.Config, sup.Pid, up, len(m.status.Services))
	if m.filter != "" {
		h += fmt.Sprintf("  filter %q: %d shown", m.filter, shown)
	}
	return h
}

// list renders the column names and rows rows of the services from offset.
func (m *Model) list(vis []api.Service, rows int) []string {
	head := []string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM", "HEALTH", "DETAIL"}
	cells := make([][]string, len(vis))
	now := m.now()
	for i, s := range vis {
		pid, uptime := "-", "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
			if s.StartedAt != nil {
				uptime = format.Duration(now.Sub(*s.StartedAt))
			}
		}
		cells[i] = []string{s.Name, s.State, pid, uptime, fmt.Sprint(s.Restarts),
			format.CPU(s.CPUPercent), format.Memory(s.MemoryBytes), format.Health(s.Health), format.Detail(s)}
	}
	widths := make([]int, len(head))
	for _, row := range append([][]string{head}, cells...) {
		for c, v := range row {
			widths[c] = max(widths[c], lipgloss.Width(v))
		}
	}
	pad := func(row []string, c int) string {
		return row[c] + strings.Repeat(" ", widths[c]-lipgloss.Width(row[c]))
	}
	line := func(row []string, state func(string) string) string {
		parts := make([]string, len(row))
		for c := range row {
			parts[c] = pad(row, c)
			if c == 1 {
				parts[c] = state(parts[c])
			}
		}
		return strings.TrimRight(strings.Join(parts, "  "), " ")
	}
	plain := func(s string) string { return s }
	out := []string{columnStyle.Render("  " + line(head, plain))}
	if len(vis) == 0 {
		what := "no services"
		if m.filter != "" {
			what = fmt.Sprintf("no service matches %q", m.filter)
		}
		return append(out, "  "+what)
	}
	for i := m.offset; i < min(m.offset+rows, len(vis)); i++ {
		if vis[i].Name == m.selected {
			// The marker shows the selection where attributes do not
			// (a plain capture of the screen).
			out = append(out, selectedStyle.Render("> "+line(cells[i], plain)))
			continue
		}
		st := stateStyle(vis[i].State)
		out = append(out, "  "+line(cells[i], func(s string) string { return st.Render(s) }))
	}
	return out
}

func (m *Model) paneTitle() string {
	switch {
	case m.why != nil:
		return "why " + m.whyName + " (esc: back to the logs)"
	case m.logAll:
		return "logs: all services"
	case m.selected == "":
		return "logs"
	}
	return "logs: " + m.selected
}

// paneLines fills n lines of the pane: why's text from the top, or the
// newest log lines, the last at the bottom.
func (m *Model) paneLines(n int) []string {
	out := make([]string, 0, n)
	if m.why != nil {
		for _, l := range m.why[:min(n, len(m.why))] {
			out = append(out, printable(l))
		}
	} else {
		for _, l := range m.pane.last(n) {
			out = append(out, m.logText(l))
		}
	}
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

// logText renders a line as `respawn logs` does: the time, the service when
// all are shown, and "!" for stderr.
func (m *Model) logText(l api.LogLine) string {
	mark := "|"
	if l.Stream == "stderr" {
		mark = stderrStyle.Render("!")
	}
	who := ""
	if m.logAll {
		who = l.Service + " "
	}
	return fmt.Sprintf("%s %s%s %s", l.Time.Local().Format("15:04:05"), who, mark, printable(l.Line))
}

func (m *Model) statusLine() string {
	if m.editing {
		return "filter: " + m.filterBuf + "_  (enter applies, esc clears)"
	}
	if m.noteErr {
		return errStyle.Render(printable(m.note))
	}
	return printable(m.note)
}
