package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/version"
)

func (g *globals) downCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "stop every service, then the supervisor",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.Shutdown(background()); err != nil {
				return apiErr(err)
			}
			// The supervisor replies once services are stopped and exits right
			// after; wait for its socket to go so `down && up` is safe.
			if err := waitGone(c.Socket(), 30*time.Second); err != nil {
				return exitErr(ExitFailed, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "stopped")
			return nil
		},
	}
}

// waitGone waits until nothing answers on the socket any more.
func waitGone(socket string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := client.New(socket)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if errors.Is(err, client.ErrNotRunning) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("supervisor still answering on %s after %s", socket, limit)
}

func (g *globals) statusCmd() *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status [NAME...]",
		Short: "show one row per service",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(g.output)
			if err != nil {
				return err
			}
			if !watch {
				st, err := c.Status(background(), args...)
				if err != nil {
					return apiErr(err)
				}
				if g.output == "json" {
					return writeJSON(cmd.OutOrStdout(), st)
				}
				printStatus(cmd.OutOrStdout(), st, time.Now())
				return nil
			}
			ctx, stop := signal.NotifyContext(background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			clear := isTerminal(cmd.OutOrStdout()) && g.output == "table"
			for {
				st, err := c.Status(ctx, args...)
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					return apiErr(err)
				}
				if err := g.printStatusOnce(cmd.OutOrStdout(), st, clear); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "print status again every second until interrupted")
	return cmd
}

func (g *globals) actionCmd(name, short string, do func(*client.Client, context.Context, ...string) ([]api.Result, error)) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   name + " NAME...|all",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect(output)
			if err != nil {
				return err
			}
			results, err := do(c, background(), args...)
			if err != nil {
				return apiErr(err)
			}
			if output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), api.Results{Results: results}); err != nil {
					return err
				}
			}
			var failed []string
			for _, r := range results {
				if r.Error != "" {
					failed = append(failed, r.Name)
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s: %s\n", r.Name, r.State, r.Error)
					continue
				}
				if output != "json" {
					note := ""
					if r.Note != "" {
						note = " (" + r.Note + ")"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s%s%s\n", r.Name, r.State, pidSuffix(r.Pid), note)
				}
			}
			if len(failed) > 0 {
				return exitErr(ExitFailed, fmt.Errorf("%s did not reach its target: %s", name, strings.Join(failed, ", ")))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// printStatusOnce prints one status; in watch mode on a terminal the screen
// is cleared first, elsewhere tables follow each other (JSON: one per line).
func (g *globals) printStatusOnce(w io.Writer, st api.Status, clear bool) error {
	if g.output == "json" {
		enc := json.NewEncoder(w)
		if err := enc.Encode(st); err != nil {
			return exitErr(ExitFailed, err)
		}
		return nil
	}
	if clear {
		fmt.Fprint(w, "\033[H\033[2J")
	}
	printStatus(w, st, time.Now())
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func pidSuffix(pid int) string {
	if pid == 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

func (g *globals) checkCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "validate the config and print the start order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			order := cfg.Order()
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					Config   string   `json:"config"`
					Services int      `json:"services"`
					Order    []string `json:"order"`
				}{cfg.Path, len(cfg.Services), order})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d services\nstart order: %s\n", cfg.Path, len(cfg.Services), strings.Join(order, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func (g *globals) versionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "print version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			v := version.Get()
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "respawn %s (commit %s, %s)\n", v.Version, v.Commit, v.Go)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return exitErr(ExitUsage, fmt.Errorf("unknown output format %q (want table or json)", o))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitErr(ExitFailed, err)
	}
	return nil
}

// Stdio is the Env of a real process.
func Stdio(up UpFunc) Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, LookupEnv: os.LookupEnv, Up: up}
}
