package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/gcpace"
	"github.com/respawn-sh/respawn/internal/instance"
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
		_, err := c.Overview(ctx)
		cancel()
		if errors.Is(err, client.ErrNotRunning) {
			return instance.WaitUnlocked(filepath.Join(filepath.Dir(socket), instance.LockName), deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("supervisor still answering on %s after %s", socket, limit)
}

func (g *globals) upgradeCmd() *cobra.Command {
	var binary string
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "replace the running supervisor's binary in place; services keep running",
		Long: `upgrade makes the keeper re-exec itself with a new binary (default: the path it
was started from, so replacing that file first and running upgrade is enough). The
keeper keeps its pid, every service stays its child and keeps its pid, and no line
of output is lost. A binary that fails its check is refused before anything
changes; one whose core does not come up is rolled back to the old one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if binary != "" {
				abs, err := filepath.Abs(binary)
				if err != nil {
					return exitErr(ExitUsage, err)
				}
				binary = abs
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			before, err := c.Overview(background())
			if err != nil {
				return apiErr(err)
			}
			if err := c.Upgrade(background(), binary); err != nil {
				return apiErr(err)
			}
			st, err := waitNewCore(c, before.Supervisor.CorePid, 2*time.Minute)
			if errors.Is(err, client.ErrNotRunning) {
				return exitErr(ExitNotRunning, fmt.Errorf("the supervisor died during the upgrade (keeper pid %d): %w", before.Supervisor.Pid, err))
			}
			if err != nil {
				return exitErr(ExitFailed, err)
			}
			u := st.Supervisor.LastUpgrade
			switch {
			case u == nil:
				return exitErr(ExitFailed, errors.New("the supervisor came back without an upgrade record"))
			case u.Error != "":
				return exitErr(ExitFailed, fmt.Errorf("upgrade to %s failed and was rolled back to %s: %s", u.To, u.Active, u.Error))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "upgraded: keeper pid %d now runs %s (%s)\n", st.Supervisor.Pid, u.Active, st.Supervisor.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&binary, "binary", "", "the new respawn binary (default: the keeper's own path)")
	return cmd
}

// waitNewCore waits until a core other than old answers.
func waitNewCore(c *client.Client, old int, limit time.Duration) (api.Status, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(background(), time.Second)
		st, err := c.Overview(ctx)
		cancel()
		if err == nil && st.Supervisor.CorePid != old {
			return st, nil
		}
		if errors.Is(err, client.ErrNotRunning) {
			// Its keeper is gone: no core will come.
			return api.Status{}, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return api.Status{}, fmt.Errorf("no new supervisor core answered within %s", limit)
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
					// What writeJSON writes, without reflection.
					if _, err := cmd.OutOrStdout().Write(api.AppendStatusJSON(nil, &st)); err != nil {
						return exitErr(ExitFailed, err)
					}
				} else {
					printStatus(cmd.OutOrStdout(), st, time.Now(), g.colour(cmd.OutOrStdout()))
				}
				return notRunningNamed(args, st)
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
			return printResults(cmd, output, results, resultPrinter{
				failed: func(r api.Result) string { return fmt.Sprintf("%s: %s: %s", r.Name, r.State, r.Error) },
				done: func(r api.Result) string {
					note := ""
					if r.Note != "" {
						note = " (" + r.Note + ")"
					}
					return fmt.Sprintf("%s: %s%s%s", r.Name, r.State, pidSuffix(r.Pid), note)
				},
				summary: name + " did not reach its target",
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// resultPrinter says how a command that acts on services words each result.
type resultPrinter struct {
	failed  func(api.Result) string // to stderr, for a result with an error
	done    func(api.Result) string // to stdout, for the others (not with -o json)
	summary string                  // the error's text before the failed names
}

// printResults prints what a command did to each service (all of it as one
// JSON object with -o json; failures always on stderr) and exits 1 naming
// the services that failed.
func printResults(cmd *cobra.Command, output string, results []api.Result, p resultPrinter) error {
	if output == "json" {
		if err := writeJSON(cmd.OutOrStdout(), api.Results{Results: results}); err != nil {
			return err
		}
	}
	var failed []string
	for _, r := range results {
		switch {
		case r.Error != "":
			failed = append(failed, r.Name)
			fmt.Fprintln(cmd.ErrOrStderr(), p.failed(r))
		case output != "json":
			fmt.Fprintln(cmd.OutOrStdout(), p.done(r))
		}
	}
	if len(failed) > 0 {
		return exitErr(ExitFailed, fmt.Errorf("%s: %s", p.summary, strings.Join(failed, ", ")))
	}
	return nil
}

// checkStreamFlags checks the flags that events and logs share.
func checkStreamFlags(output, since string, n int) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	if err := checkSince(since); err != nil {
		return exitErr(ExitUsage, err)
	}
	if n < 0 {
		return exitErr(ExitUsage, fmt.Errorf("-n %d: want 0 (all) or more", n))
	}
	return nil
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
	printStatus(w, st, time.Now(), g.colour(w))
	return nil
}

// colour reports whether output to w may be coloured: a terminal, and no
// NO_COLOR.
func (g *globals) colour(w io.Writer) bool {
	return isTerminal(w) && g.env.Getenv("NO_COLOR") == ""
}

// notRunningNamed makes `status NAME...` answer like systemctl is-active:
// exit 1 when a named service is not running, naming it.
func notRunningNamed(names []string, st api.Status) error {
	if len(names) == 0 {
		return nil
	}
	var down []string
	for _, s := range st.Services {
		if s.State != "running" {
			down = append(down, s.Name+" is "+s.State)
		}
	}
	if len(down) == 0 {
		return nil
	}
	return exitErr(ExitFailed, errors.New(strings.Join(down, ", ")))
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
	var strict bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "validate the config, look for what it names on this host, and print the start order",
		Long: `check validates the config (errors as FILE:LINE:COL: message, exit 2) and
then looks on this host for what it names: each service's program (on its PATH,
or at its path, and executable), its user and group, its working directory.
What is missing is a warning, since it may exist by the time the service runs;
--strict makes warnings errors (exit 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			warnings := config.Lint(cfg, g.env.LookupEnv)
			order := cfg.Order()
			if output == "json" {
				list := make([]string, len(warnings))
				for i, w := range warnings {
					list[i] = w.Error()
				}
				if err := writeJSON(cmd.OutOrStdout(), struct {
					Config   string   `json:"config"`
					Services int      `json:"services"`
					Order    []string `json:"order"`
					Warnings []string `json:"warnings"`
				}{cfg.Path, len(cfg.Services), order, list}); err != nil {
					return err
				}
			}
			if len(warnings) > 0 && strict {
				return exitErr(ExitUsage, warnings)
			}
			if output == "json" {
				return nil
			}
			for _, w := range warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d:%d: warning: %s\n", w.File, w.Line, w.Col, w.Msg)
			}
			status := "ok"
			if len(warnings) > 0 {
				status = fmt.Sprintf("valid, %d %s", len(warnings), plural(len(warnings), "warning", "warnings"))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %d services\nstart order: %s\n", cfg.Path, status, len(cfg.Services), strings.Join(order, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat what is missing on this host (program, user, group, cwd) as errors")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
			fmt.Fprintln(cmd.OutOrStdout(), v)
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

// internalCmds are the commands respawn runs itself: the core a keeper
// starts, the keeper's next image after an upgrade, and the check an upgrade
// runs on a new binary. They are hidden from help.
func (g *globals) internalCmds() []*cobra.Command {
	var coreLevel, coreFormat, corePlatform string
	core := &cobra.Command{
		Use:    "__core",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.env.Core == nil {
				return exitErr(ExitUsage, errors.New("no core in this build"))
			}
			// Before the config is loaded: its garbage is most of the start's.
			gcpace.Start()
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if coreLevel != "" {
				cfg.Supervisor.Log.Level, cfg.Supervisor.Log.LevelFromCommand = coreLevel, true
			}
			if coreFormat != "" {
				cfg.Supervisor.Log.Format, cfg.Supervisor.Log.FormatFromCommand = coreFormat, true
			}
			if corePlatform != "" {
				cfg.Supervisor.Platform = corePlatform
			}
			if err := g.env.Core(cfg, cmd.ErrOrStderr()); err != nil {
				return exitErr(ExitFailed, err)
			}
			return nil
		},
	}
	core.Flags().StringVar(&coreLevel, "log-level", "", "the supervisor's log level, as up was told")
	core.Flags().StringVar(&coreFormat, "log-format", "", "the supervisor's log format, as up chose it")
	core.Flags().StringVar(&corePlatform, "platform", "", "the keeper's platform (linux or posix)")
	resume := &cobra.Command{
		Use:    "__keeper-resume HANDOVER",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.env.Resume == nil {
				return exitErr(ExitUsage, errors.New("no keeper in this build"))
			}
			if code := g.env.Resume(args[0], cmd.ErrOrStderr()); code != 0 {
				return exitErr(code, fmt.Errorf("keeper exited with status %d", code))
			}
			return nil
		},
	}
	check := &cobra.Command{
		Use:    "__keeper-check [SAMPLE]",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.env.KeeperCheck == nil {
				return exitErr(ExitFailed, errors.New("no keeper in this build"))
			}
			sample := ""
			if len(args) == 1 {
				sample = args[0]
			}
			line, err := g.env.KeeperCheck(sample)
			if err != nil {
				return exitErr(ExitFailed, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		},
	}
	return []*cobra.Command{core, resume, check}
}
