package cli

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
)

func (g *globals) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "work with the alerts the config sets up",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(g.alertsTestCmd())
	return cmd
}

func (g *globals) alertsTestCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "test [RULE]",
		Short: "send a test alert through a rule's destinations (every rule's without one)",
		Long: "test asks the running supervisor to send a test alert (trigger \"test\") through each\n" +
			"destination of RULE, or of every rule, at once, past the rate limit, and prints the\n" +
			"outcome of each attempt. It exits 1 when one failed.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(output)
			if err != nil {
				return err
			}
			rule := ""
			if len(args) == 1 {
				rule = args[0]
			}
			attempts, err := c.TestAlerts(background(), rule)
			if err != nil {
				return apiErr(err)
			}
			if output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), api.AlertAttempts{Attempts: attempts}); err != nil {
					return err
				}
			} else {
				printAttempts(cmd.OutOrStdout(), attempts)
			}
			failed := 0
			for _, a := range attempts {
				if !a.OK {
					failed++
				}
			}
			if failed > 0 {
				return exitErr(ExitFailed, fmt.Errorf("%d of %d test alerts failed", failed, len(attempts)))
			}
			if len(attempts) == 0 {
				return exitErr(ExitFailed, errors.New("no destination to test"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func printAttempts(w io.Writer, attempts []api.AlertAttempt) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tDESTINATION\tKIND\tRESULT\tTRIES\tTIME\tERROR")
	for _, a := range attempts {
		result := "ok"
		if !a.OK {
			result = "failed"
		}
		took := (time.Duration(a.DurationMS) * time.Millisecond).String()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.Rule, a.Destination, a.Kind, result, a.Tries, took, a.Error)
	}
	tw.Flush()
}
