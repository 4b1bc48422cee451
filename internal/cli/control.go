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
	"github.com/respawn-sh/respawn/internal/format"
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
			format.Why(cmd.OutOrStdout(), w, time.Now())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
