package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/respawn-sh/respawn/internal/api"
)

// paneLines bounds the log pane's buffer: top shows a screenful, and a
// service that floods its output must not grow top's memory.
const paneLines = 500

// pane holds the last paneLines log lines, oldest first.
type pane struct {
	lines []api.LogLine
}

func (p *pane) add(ls ...api.LogLine) {
	p.lines = append(p.lines, ls...)
	if over := len(p.lines) - paneLines; over > 0 {
		// Copy down rather than reslice so that the array does not keep
		// growing behind the window.
		p.lines = append(p.lines[:0], p.lines[over:]...)
	}
}

func (p *pane) reset() { p.lines = nil }

// last returns up to n of the newest lines.
func (p *pane) last(n int) []api.LogLine {
	if n <= 0 {
		return nil
	}
	return p.lines[max(len(p.lines)-n, 0):]
}

// printable drops what a terminal would act on rather than show (escape
// sequences, carriage returns) from a service's output, so a line cannot
// move the cursor or repaint top's screen; a tab becomes spaces.
func printable(s string) string {
	s = strings.ReplaceAll(ansi.Strip(s), "\t", "    ")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
