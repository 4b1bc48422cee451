// Package format renders what the supervisor reports for people: the cells of status and the text of why, shared by the CLI and top.
package format

import (
	"fmt"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// CPU shows a CPU percentage, "-" when not measured.
func CPU(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *p)
}

// Memory shows a size in binary units: 812K, 45.2M, 1.3G; "-" when not
// measured.
func Memory(b *uint64) string {
	if b == nil {
		return "-"
	}
	v := float64(*b)
	for _, unit := range []string{"B", "K", "M", "G"} {
		if v < 1024 || unit == "G" {
			if unit == "B" || unit == "K" || v >= 100 {
				return fmt.Sprintf("%.0f%s", v, unit)
			}
			return fmt.Sprintf("%.1f%s", v, unit)
		}
		v /= 1024
	}
	return ""
}

// Health shows a health verdict; "unknown" (no liveness check, or none
// reported yet) is "-".
func Health(h string) string {
	if h == "" || h == "unknown" {
		return "-"
	}
	return h
}

// Detail is what a state alone does not say: why it failed or backs off,
// what it waits for.
func Detail(s api.Service) string {
	switch {
	case s.WaitingOn != "":
		return OneLine(s.WaitingOn, 80)
	case s.Error != "" && (s.State == "failed" || s.State == "backoff"):
		return OneLine(s.Error, 80)
	}
	return ""
}

// LastExit shows how the last run ended: its signal or exit code, "-" if
// none.
func LastExit(s api.Service) string {
	switch {
	case s.ExitSignal != "":
		return s.ExitSignal
	case s.ExitCode != nil:
		return fmt.Sprintf("exit %d", *s.ExitCode)
	}
	return "-"
}

// NextRetry shows when a service runs next: its pending retry, or a
// scheduled oneshot's next run; "-" if neither.
func NextRetry(s api.Service, now time.Time) string {
	if s.NextRetryAt == nil {
		if s.NextRunAt != nil {
			return "run in " + Duration(max(s.NextRunAt.Sub(now), 0))
		}
		return "-"
	}
	d := s.NextRetryAt.Sub(now)
	if d < 0 {
		d = 0
	}
	return "in " + Duration(d)
}

// Duration renders a duration compactly: 850ms, 12s, 3m12s, 2h05m, 3d4h.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// OneLine puts s on one line of at most max bytes, marking a cut with "…".
func OneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}
