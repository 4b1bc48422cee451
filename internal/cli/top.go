package cli

import (
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/tui"
)

func (g *globals) topCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top",
		Short: "a full-screen, live view of the services, their logs and what they did",
		Long: `top shows the services as status does, kept current by the supervisor's events
(CPU and memory every 10 s), and below them the log of the selected service.
Keys: up/down or j/k select; s start, S or x stop, r restart; w why; a the logs
of all services or of the selected one; / filter by name (enter applies, esc
clears); esc back; q or ctrl-c quit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !isTerminal(cmd.OutOrStdout()) {
				return exitErr(ExitUsage, errors.New("top needs a terminal on its stdout"))
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			// Checked first so that a supervisor that is not running is an
			// exit code, not a screen that waits for it.
			if _, err := c.Status(background()); err != nil {
				return apiErr(err)
			}
			// Bubble Tea quits on SIGINT and SIGTERM itself; a terminal that
			// goes away (SIGHUP) ends it the same way rather than mid-write.
			ctx, stop := signal.NotifyContext(background(), syscall.SIGHUP)
			defer stop()
			m := tui.New(ctx, c)
			defer m.Close()
			p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(cmd.InOrStdin()), tea.WithOutput(cmd.OutOrStdout()))
			_, err = p.Run()
			switch {
			case err == nil, errors.Is(err, tea.ErrInterrupted):
				return nil
			case errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil && !errors.Is(err, tea.ErrProgramPanic):
				// The terminal went away.
				return nil
			}
			return exitErr(ExitFailed, fmt.Errorf("top: %w", err))
		},
	}
}
