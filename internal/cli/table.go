package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// printStatus renders status as an aligned table.
func printStatus(w io.Writer, st api.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tLAST EXIT\tNEXT RETRY")
	for _, s := range st.Services {
		pid, uptime := "-", "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
			if s.StartedAt != nil {
				uptime = human(now.Sub(*s.StartedAt))
			}
		}
		state := s.State
		if s.Error != "" && (s.State == "failed" || s.State == "backoff") {
			state += " (" + oneLine(s.Error, 60) + ")"
		}
		if s.WaitingOn != "" {
			state += " (" + oneLine(s.WaitingOn, 60) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			s.Name, state, pid, uptime, s.Restarts, s.Health, lastExit(s), nextRetry(s, now))
	}
	tw.Flush()
	if g := containmentNote[st.Supervisor.Containment]; g != "" {
		fmt.Fprintf(w, "containment: %s (%s)\n", st.Supervisor.Containment, g)
	}
}

// containmentNote says in a line what each containment guarantees
// (docs/config.md, Containment, says it in full).
var containmentNote = map[string]string{
	"cgroup":        "every process a service starts is in its cgroup and stopped with it",
	"process-group": "a service's process group, and the descendants that left it once a scan found them, are stopped with it",
}

func lastExit(s api.Service) string {
	switch {
	case s.ExitSignal != "":
		return s.ExitSignal
	case s.ExitCode != nil:
		return fmt.Sprintf("exit %d", *s.ExitCode)
	}
	return "-"
}

func nextRetry(s api.Service, now time.Time) string {
	if s.NextRetryAt == nil {
		if s.NextRunAt != nil {
			return "run in " + human(max(s.NextRunAt.Sub(now), 0))
		}
		return "-"
	}
	d := s.NextRetryAt.Sub(now)
	if d < 0 {
		d = 0
	}
	return "in " + human(d)
}

// human renders a duration compactly: 850ms, 12s, 3m12s, 2h05m, 3d4h.
func human(d time.Duration) string {
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

func oneLine(s string, max int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > max {
		return s[:max-1] + "…"
	}
	return s
}
