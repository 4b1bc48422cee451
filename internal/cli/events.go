package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
)

func (g *globals) eventsCmd() *cobra.Command {
	var (
		output string
		follow bool
		since  string
		n      int
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "show the event journal: state changes, exits, respawns, control commands",
		Long: "events prints the supervisor's event journal, oldest first: every state change with its\n" +
			"reason, every exit, every respawn decision, every control command with the caller's uid\n" +
			"and pid, and every refused connection. -f keeps printing new events as they happen.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkStreamFlags(output, since, n); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := bufio.NewWriter(cmd.OutOrStdout())
			enc := json.NewEncoder(w)
			emit := func(e api.Event) error {
				if output == "json" {
					if err := enc.Encode(e); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(w, formatEvent(e, time.Local))
				}
				return flushIf(follow, w)
			}
			err = c.Events(ctx, since, n, follow, emit)
			if notRunning(err) {
				// The journal the last supervisor left, read from its file.
				if follow {
					return exitErr(ExitNotRunning, errors.New("no supervisor is running, so there is nothing to follow; without -f, events shows the journal it left"))
				}
				cfg, cerr := g.loadConfig()
				if cerr != nil {
					return cerr
				}
				err := offlineEvents(ctx, cfg, cmd.ErrOrStderr(), sinceTime(since, time.Now()), n, emit)
				if ferr := w.Flush(); err == nil && ferr != nil {
					return exitErr(ExitFailed, ferr)
				}
				return err
			}
			return endStream(ctx, w, follow, err)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json (one object per line)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	cmd.Flags().StringVar(&since, "since", "", "only events from this long ago (10m, 2h) or since this RFC 3339 time")
	cmd.Flags().IntVarP(&n, "lines", "n", 0, "only the last N stored events (0: all)")
	return cmd
}

// flushIf flushes after each item while following, so it shows at once.
func flushIf(follow bool, w *bufio.Writer) error {
	if follow {
		return w.Flush()
	}
	return nil
}

// endStream finishes a streaming command (events, logs): what is buffered is
// written, and an interrupted follow is how -f ends, not an error.
func endStream(ctx context.Context, w *bufio.Writer, follow bool, err error) error {
	if ferr := w.Flush(); err == nil && ferr != nil {
		return exitErr(ExitFailed, ferr)
	}
	if err == nil || (follow && ctx.Err() != nil) {
		return nil
	}
	return eventsErr(err)
}

// checkSince accepts what the API accepts, so a typo is a usage error here
// rather than a failure from the supervisor.
func checkSince(v string) error {
	if v == "" {
		return nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return fmt.Errorf("--since %s: a duration must not be negative", v)
		}
		return nil
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		return fmt.Errorf("--since %q: want a duration like 10m or an RFC 3339 time like 2024-05-01T12:00:00Z", v)
	}
	return nil
}

// eventsErr maps a failed read of the journal to an exit code.
func eventsErr(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == 400 {
		return exitErr(ExitUsage, err)
	}
	return apiErr(err)
}

// formatEvent renders one event as a line: time, type, service, what happened.
func formatEvent(e api.Event, loc *time.Location) string {
	svc := e.Service
	if svc == "" {
		svc = "-"
	}
	return fmt.Sprintf("%s  %-10s  %-12s  %s", e.Time.In(loc).Format("2006-01-02 15:04:05.000"), e.Type, svc, describeEvent(e))
}

// describeEvent says in words what an event records.
func describeEvent(e api.Event) string {
	var s string
	switch e.Type {
	case api.EventState:
		s = e.From + " → " + e.To
		if e.From == "" {
			s = "→ " + e.To
		}
		return withReason(s, e.Reason)
	case api.EventExit:
		switch {
		case e.Signal != "":
			s = "killed by " + e.Signal
		case e.ExitCode != nil:
			s = fmt.Sprintf("exited with code %d", *e.ExitCode)
		default:
			s = "exited"
		}
		if e.Pid != 0 {
			s = fmt.Sprintf("pid %d %s", e.Pid, s)
		}
		if e.OOM {
			s += " (out of memory)"
		}
		return withReason(s, e.Reason)
	case api.EventRespawn:
		s = fmt.Sprintf("attempt %d, retry in %s", e.Attempt, time.Duration(e.DelayMS)*time.Millisecond)
		return withReason(s, e.Reason)
	case api.EventCommand:
		s = strings.TrimSpace(e.Command + " " + strings.Join(e.Args, " "))
		return s + " " + caller(e)
	case api.EventRefused:
		s = "refused " + strings.TrimPrefix(caller(e), "by ")
		return withReason(s, e.Message)
	case api.EventAlert:
		// "alert failed: rule crashes, crash_loop to hook (webhook), 4 tries in 20s: ..."
		return withReason(e.Reason, e.Message)
	}
	// Supervisor events and any type this version does not know. A core's
	// crash output runs to many lines: the table shows its first.
	if first, rest, ok := strings.Cut(e.Message, "\n"); ok {
		// "core crashed: exit status 2: panic: ... (+40 lines: ...)"
		return withReason(e.Reason, fmt.Sprintf("%s (+%d lines: -o json shows all)", first, strings.Count(rest, "\n")+1))
	}
	return withReason(e.Message, e.Reason)
}

func caller(e api.Event) string {
	who := "by unknown caller"
	if e.UID != nil {
		who = fmt.Sprintf("by uid %d", *e.UID)
	}
	if e.CallerPid != 0 {
		who += fmt.Sprintf(" (pid %d)", e.CallerPid)
	}
	return who
}

func withReason(s, reason string) string {
	switch {
	case reason == "":
		return s
	case s == "":
		return reason
	}
	return s + ": " + reason
}
