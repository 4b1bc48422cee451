package format

import (
	"fmt"
	"io"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// Why writes what `respawn why` prints: the service's state, limits, what
// it depends on and its recent exits with their last lines.
func Why(w io.Writer, y api.Why, now time.Time) {
	s := y.Service
	fmt.Fprintf(w, "%s: %s\n", s.Name, y.Summary)
	fmt.Fprintf(w, "  state      %s since %s (%s ago), wanted %s\n", s.State, s.Since.Local().Format("15:04:05"), Duration(now.Sub(s.Since)), s.Wanted)
	if s.Pid != 0 {
		fmt.Fprintf(w, "  pid        %d\n", s.Pid)
	}
	fmt.Fprintf(w, "  restarts   %d (consecutive failures: %d)\n", s.Restarts, y.Attempts)
	if y.Burst > 0 {
		fmt.Fprintf(w, "  limit      %d of %d starts used within %s\n", y.StartsInWindow, y.Burst, y.Window)
	}
	if s.NextRetryAt != nil {
		fmt.Fprintf(w, "  next retry %s\n", NextRetry(s, now))
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  reason     %s\n", s.Error)
	}
	if y.NotifyDropped > 0 {
		fmt.Fprintf(w, "\nsd_notify messages dropped: %d; the latest:\n", y.NotifyDropped)
		for _, d := range y.NotifyDrops {
			fmt.Fprintf(w, "  %s  %s\n", d.Time.Local().Format("15:04:05.000"), d.Reason)
		}
	}
	if len(y.Dependencies) > 0 {
		fmt.Fprintln(w, "\ndepends on:")
		for _, d := range y.Dependencies {
			ok := "waiting"
			if d.Satisfied {
				ok = "ok"
			}
			restart := ""
			if d.Restart {
				restart = ", restarts this service when it restarts"
			}
			fmt.Fprintf(w, "  %-16s %-9s needs %s%s: %s\n", d.Name, d.State, d.Condition, restart, ok)
		}
	}
	if len(y.Exits) == 0 {
		fmt.Fprintln(w, "\nno exits recorded")
		return
	}
	fmt.Fprintln(w, "\nrecent exits, oldest first:")
	for _, e := range y.Exits {
		how := "signal " + e.Signal
		if e.ExitCode != nil {
			how = fmt.Sprintf("exit %d", *e.ExitCode)
		}
		if e.OOM {
			how = "OOM-killed"
		}
		fmt.Fprintf(w, "  %s  pid %-7d %-12s ran %-8s %s\n", e.ExitedAt.Local().Format("15:04:05.000"), e.Pid, how, Duration(e.ExitedAt.Sub(e.StartedAt)), e.Decision)
		for _, l := range e.LastLines {
			mark := "|"
			if l.Stream == "stderr" {
				mark = "!"
			}
			fmt.Fprintf(w, "      %s %s\n", mark, l.Line)
		}
	}
}
