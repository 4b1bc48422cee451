package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// printStatus renders status as a header line and an aligned table: a
// short state per service, the detail (why it failed, what it waits for) in
// the last column; colour by state when colour is set.
func printStatus(w io.Writer, st api.Status, now time.Time, colour bool) {
	printHeader(w, st.Supervisor, now)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tCPU\tMEM\tLAST EXIT\tNEXT\tDETAIL")
	for _, s := range st.Services {
		pid, uptime := "-", "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
			if s.StartedAt != nil {
				uptime = human(now.Sub(*s.StartedAt))
			}
		}
		// tabwriter counts the escape codes as text: the same codes on
		// every row keep the columns aligned.
		state := s.State
		if colour {
			state = "\x1b[" + stateColour(s.State) + "m" + s.State + "\x1b[0m"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Name, state, pid, uptime, s.Restarts, healthCell(s.Health), cpuCell(s.CPUPercent), memCell(s.MemoryBytes),
			lastExit(s), nextRetry(s, now), detail(s))
	}
	tw.Flush()
	if g := containmentNote[st.Supervisor.Containment]; g != "" {
		fmt.Fprintf(w, "containment: %s (%s)\n", st.Supervisor.Containment, g)
	}
}

// printHeader says which supervisor answered: its config, pid, uptime and
// how often its core was restarted.
func printHeader(w io.Writer, sup api.Supervisor, now time.Time) {
	up := "-"
	if !sup.StartedAt.IsZero() {
		up = human(now.Sub(sup.StartedAt))
	}
	fmt.Fprintf(w, "%s: supervisor pid %d, up %s, core restarts %d\n", sup.Config, sup.Pid, up, sup.CoreRestarts)
}

// stateColour is the ANSI colour of a state: green running, yellow on its
// way or waiting, red failed, plain at rest.
func stateColour(state string) string {
	switch state {
	case "running":
		return "32"
	case "starting", "stopping", "backoff", "waiting":
		return "33"
	case "failed":
		return "31"
	}
	return "0"
}

// cpuCell shows a CPU percentage, "-" when not measured.
func cpuCell(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *p)
}

// memCell shows a size in binary units: 812K, 45.2M, 1.3G; "-" when not
// measured.
func memCell(b *uint64) string {
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

// healthCell shows a health verdict; "unknown" (no liveness check, or none
// reported yet) is "-".
func healthCell(h string) string {
	if h == "" || h == "unknown" {
		return "-"
	}
	return h
}

// detail is what a state alone does not say: why it failed or backs off,
// what it waits for.
func detail(s api.Service) string {
	switch {
	case s.WaitingOn != "":
		return oneLine(s.WaitingOn, 80)
	case s.Error != "" && (s.State == "failed" || s.State == "backoff"):
		return oneLine(s.Error, 80)
	}
	return ""
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
