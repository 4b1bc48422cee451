package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
)

func (g *globals) signalCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "signal SIG NAME...|all",
		Short: "send a signal to services' process groups",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(output)
			if err != nil {
				return err
			}
			results, err := c.Signal(background(), args[0], args[1:]...)
			if err != nil {
				return signalErr(err)
			}
			return printResults(cmd, output, results, resultPrinter{
				failed:  func(r api.Result) string { return fmt.Sprintf("%s: %s", r.Name, r.Error) },
				done:    func(r api.Result) string { return fmt.Sprintf("%s: signalled%s", r.Name, pidSuffix(r.Pid)) },
				summary: "not signalled",
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// signalErr treats a bad signal name like any other usage error.
func signalErr(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == 400 {
		return exitErr(ExitUsage, err)
	}
	return apiErr(err)
}

func (g *globals) reloadCmd() *cobra.Command {
	var (
		output string
		dry    bool
	)
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "re-read the config and apply only what changed",
		Long: "reload re-reads and validates the config. With errors, nothing changes and they are printed.\n" +
			"Otherwise services added are started, removed ones stopped, changed ones restarted, and\n" +
			"settings that need no restart (restart policy, stop settings, autostart) updated in place.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect(output)
			if err != nil {
				return err
			}
			plan, err := c.Reload(background(), dry)
			if err != nil {
				var ae *client.APIError
				// A 422 is the config's fault even when its body could not be read.
				if errors.As(err, &ae) && (ae.Code == api.CodeConfig || ae.Status == http.StatusUnprocessableEntity) {
					return exitErr(ExitUsage, fmt.Errorf("nothing changed:\n%s", ae.Msg))
				}
				return apiErr(err)
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), plan)
			}
			printPlan(cmd.OutOrStdout(), plan)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printPlan(w io.Writer, p api.Plan) {
	if !p.Applied {
		fmt.Fprintln(w, "dry run: nothing changed")
	}
	for _, row := range []struct {
		what  string
		names []string
	}{
		{"add", p.Add}, {"remove", p.Remove}, {"restart", p.Restart}, {"update", p.Update}, {"unchanged", p.Unchanged},
	} {
		if len(row.names) > 0 {
			fmt.Fprintf(w, "%-10s %s\n", row.what+":", strings.Join(row.names, ", "))
		}
	}
	if len(p.Changes) > 0 {
		fmt.Fprintln(w, "changes:")
		for _, c := range p.Changes {
			fmt.Fprintf(w, "  %s.%s: %s -> %s\n", c.Service, c.Key, c.Old, c.New)
		}
	}
}

func (g *globals) whyCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "why NAME",
		Short: "explain a service: recent exits, what it printed, backoff and limits",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(output)
			if err != nil {
				return err
			}
			w, err := c.Why(background(), args[0])
			if err != nil {
				return apiErr(err)
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), w)
			}
			printWhy(cmd.OutOrStdout(), w, time.Now())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printWhy(w io.Writer, y api.Why, now time.Time) {
	s := y.Service
	fmt.Fprintf(w, "%s: %s\n", s.Name, y.Summary)
	fmt.Fprintf(w, "  state      %s since %s (%s ago), wanted %s\n", s.State, s.Since.Local().Format("15:04:05"), human(now.Sub(s.Since)), s.Wanted)
	if s.Pid != 0 {
		fmt.Fprintf(w, "  pid        %d\n", s.Pid)
	}
	fmt.Fprintf(w, "  restarts   %d (consecutive failures: %d)\n", s.Restarts, y.Attempts)
	if y.Burst > 0 {
		fmt.Fprintf(w, "  limit      %d of %d starts used within %s\n", y.StartsInWindow, y.Burst, y.Window)
	}
	if s.NextRetryAt != nil {
		fmt.Fprintf(w, "  next retry %s\n", nextRetry(s, now))
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
		fmt.Fprintf(w, "  %s  pid %-7d %-12s ran %-8s %s\n", e.ExitedAt.Local().Format("15:04:05.000"), e.Pid, how, human(e.ExitedAt.Sub(e.StartedAt)), e.Decision)
		for _, l := range e.LastLines {
			mark := "|"
			if l.Stream == "stderr" {
				mark = "!"
			}
			fmt.Fprintf(w, "      %s %s\n", mark, l.Line)
		}
	}
}
