package cli

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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
	rows := make([][statusColumns]string, 0, len(st.Services)+1)
	rows = append(rows, statusTitles)
	for _, s := range st.Services {
		pid, uptime := "-", "-"
		if s.Pid != 0 {
			pid = strconv.Itoa(s.Pid)
			if s.StartedAt != nil {
				uptime = format.Duration(now.Sub(*s.StartedAt))
			}
		}
		// The table counts the escape codes as text: the same codes on
		// every row keep the columns aligned.
		state := s.State
		if colour {
			state = "\x1b[" + stateColour(s.State) + "m" + s.State + "\x1b[0m"
		}
		rows = append(rows, [statusColumns]string{s.Name, state, pid, uptime, strconv.Itoa(s.Restarts), format.Health(s.Health),
			format.CPU(s.CPUPercent), format.Memory(s.MemoryBytes), format.LastExit(s), format.NextRetry(s, now), format.Detail(s)})
	}
	writeTable(w, rows)
	if g := containmentNote(st.Supervisor.Containment); g != "" {
		fmt.Fprintf(w, "containment: %s (%s)\n", st.Supervisor.Containment, g)
	}
	if st.Supervisor.Platform == "posix" {
		fmt.Fprintln(w, "platform: posix (no cgroups, pidfds or parent-death signals: a dead keeper's services are killed by its core, or by the next up)")
	}
}

const statusColumns = 11

var statusTitles = [statusColumns]string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "CPU", "MEM", "LAST EXIT", "NEXT", "DETAIL"}

// tablePadding is the space after the widest cell of a column.
const tablePadding = 2

// writeTable writes rows as text/tabwriter does with
// NewWriter(w, 0, 4, tablePadding, ' ', 0) and a tab after every cell
// but the last (TestWriteTableMatchesTabwriter), without its cell-by-cell
// bookkeeping; a cell holding a character tabwriter reads as a control
// (a tab, a line break, its escape) goes through tabwriter itself.
func writeTable(w io.Writer, rows [][statusColumns]string) {
	var width [statusColumns - 1]int
	for _, r := range rows {
		for j, c := range r {
			if strings.ContainsAny(c, "\t\n\v\f\r\xff") {
				writeTabwriter(w, rows)
				return
			}
			if j < len(width) {
				width[j] = max(width[j], utf8.RuneCountInString(c))
			}
		}
	}
	var line []byte
	for _, r := range rows {
		line = line[:0]
		for j, c := range r {
			line = append(line, c...)
			if j < len(width) {
				for range width[j] + tablePadding - utf8.RuneCountInString(c) {
					line = append(line, ' ')
				}
			}
		}
		line = append(line, '\n')
		_, _ = w.Write(line)
	}
}

func writeTabwriter(w io.Writer, rows [][statusColumns]string) {
	tw := tabwriter.NewWriter(w, 0, 4, tablePadding, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r[:], "\t"))
	}
	tw.Flush()
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
func containmentNote(containment string) string {
	switch containment {
	case "cgroup":
		return "every process a service starts is in its cgroup and stopped with it"
	case "process-group":
		return "a service's process group, and the descendants that left it once a scan found them, are stopped with it"
	}
	return ""
}
