package cli

import (
	"bufio"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/format"
)

// printStatus renders status as a header line and an aligned table: a
// short state per service, the detail (why it failed, what it waits for) in
// the last column; colour by state when colour is set. It goes out in one
// write: tabwriter writes cell by cell, a system call each on a bare stdout.
func printStatus(out io.Writer, st api.Status, now time.Time, colour bool) {
	w := bufio.NewWriterSize(out, 16<<10)
	defer w.Flush()
	printHeader(w, st.Supervisor, now)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tHEALTH\tCPU\tMEM\tLAST EXIT\tNEXT\tDETAIL")
	for _, s := range st.Services {
		pid, uptime := "-", "-"
		if s.Pid != 0 {
			pid = fmt.Sprint(s.Pid)
			if s.StartedAt != nil {
				uptime = format.Duration(now.Sub(*s.StartedAt))
			}
		}
		// tabwriter counts the escape codes as text: the same codes on
		// every row keep the columns aligned.
		state := s.State
		if colour {
			state = "\x1b[" + stateColour(s.State) + "m" + s.State + "\x1b[0m"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.Name, state, pid, uptime, s.Restarts, format.Health(s.Health), format.CPU(s.CPUPercent), format.Memory(s.MemoryBytes),
			format.LastExit(s), format.NextRetry(s, now), format.Detail(s))
	}
	tw.Flush()
	if g := containmentNote[st.Supervisor.Containment]; g != "" {
		fmt.Fprintf(w, "containment: %s (%s)\n", st.Supervisor.Containment, g)
	}
	if st.Supervisor.Platform == "posix" {
		fmt.Fprintln(w, "platform: posix (no cgroups, pidfds or parent-death signals: a dead keeper's services are killed by its core, or by the next up)")
	}
}

// printHeader says which supervisor answered: its config, pid, uptime and
// how often its core was restarted.
func printHeader(w io.Writer, sup api.Supervisor, now time.Time) {
	up := "-"
	if !sup.StartedAt.IsZero() {
		up = format.Duration(now.Sub(sup.StartedAt))
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

// containmentNote says in a line what each containment guarantees
// (docs/config.md, Containment, says it in full).
var containmentNote = map[string]string{
	"cgroup":        "every process a service starts is in its cgroup and stopped with it",
	"process-group": "a service's process group, and the descendants that left it once a scan found them, are stopped with it",
}
