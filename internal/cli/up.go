package cli

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/instance"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// logName is the supervisor's own log in the state dir, where `up -d` sends
// its output.
const logName = "respawn.log"

// readyTimeout bounds how long `up -d` waits for the detached supervisor:
// starting never blocks on services, so this only trips on a wedged start.
const readyTimeout = 2 * time.Minute

func (g *globals) upCmd() *cobra.Command {
	var detach, ensure, wait, noOutput, verbose bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "run the supervisor (in the foreground unless -d) and start every autostart service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if wait && !detach {
				return exitErr(ExitUsage, errors.New("--wait goes with -d: a foreground up runs until it is stopped"))
			}
			if detach {
				err = g.upDetached(cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
				if err == nil && wait {
					err = waitReady(cmd.OutOrStdout(), cfg.Supervisor.StateDir, waitTimeout)
				}
			} else {
				err = g.upForeground(cfg, cmd.OutOrStdout(), cmd.ErrOrStderr(), !noOutput, verbose)
			}
			var running *instance.AlreadyRunningError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &running) && running.OtherConfig(cfg.Path):
				// Not this config's supervisor: --ensure must not take it for one.
				return exitErr(ExitUsage, fmt.Errorf("state dir %s is in use by the supervisor of %s (pid %d): give %s its own supervisor.state_dir",
					cmp.Or(running.StateDir, cfg.Supervisor.StateDir), running.Config, running.Pid, cfg.Path))
			case errors.Is(err, statedir.ErrUnsafe):
				return exitErr(ExitUsage, err)
			case errors.As(err, &running) && ensure:
				return nil
			case errors.As(err, &running):
				return exitErr(ExitNotRunning, err)
			default:
				var ee *ExitError
				if errors.As(err, &ee) {
					return err
				}
				return exitErr(ExitFailed, err)
			}
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the supervisor in the background and return once it is ready")
	cmd.Flags().BoolVar(&ensure, "ensure", false, "exit 0 quietly when a supervisor already runs for this state dir")
	cmd.Flags().BoolVar(&noOutput, "no-output", false, "in the foreground: do not show the services' output (the supervisor's log only)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "in the foreground: show the supervisor's info lines (state changes) beside the services' output")
	cmd.Flags().BoolVar(&wait, "wait", false, "with -d: return once every service started is ready, or exit 1 naming those that failed")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "with --wait: how long services may take to be ready")
	return cmd
}

// waitPoll is how often --wait reads the status while services start.
const waitPoll = 100 * time.Millisecond

// waitReady waits until every service wanted up is ready — running (its
// readiness probe passed), or a oneshot that exited successfully — and
// fails naming those that failed, back off after an exit, are blocked, or
// are not ready within limit, each with the last lines it printed.
func waitReady(stdout io.Writer, stateDir string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(background(), limit)
	defer cancel()
	c := client.New(socketPath(stateDir))
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	for {
		st, err := c.Overview(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("wait for the services: %w", err)
		}
		var failed, pending []api.Service
		now := time.Now()
		for _, svc := range st.Services {
			switch readiness(svc, now) {
			case notReady:
				pending = append(pending, svc)
			case failedReady:
				failed = append(failed, svc)
			}
		}
		if len(failed) > 0 {
			return exitErr(ExitFailed, errors.New(describeFailures(ctx, c, "failed to start", failed)))
		}
		if len(pending) == 0 {
			fmt.Fprintf(stdout, "%d services ready\n", countWanted(st))
			return nil
		}
		select {
		case <-ctx.Done():
			ctx2, cancel2 := context.WithTimeout(background(), 5*time.Second)
			defer cancel2()
			return exitErr(ExitFailed, errors.New(describeFailures(ctx2, c, fmt.Sprintf("not ready within %s", limit), pending)))
		case <-tick.C:
		}
	}
	return exitErr(ExitFailed, fmt.Errorf("services not ready within %s", limit))
}

// linesWait bounds the wait for a run's last lines: they are filed with its
// exit once its output is drained, a moment after the exit.
const linesWait = 3 * time.Second

// lastLines returns what the service's last run printed last, once filed.
func lastLines(ctx context.Context, c *client.Client, name string) []api.LogLine {
	ctx, cancel := context.WithTimeout(ctx, linesWait)
	defer cancel()
	for {
		w, err := c.Why(ctx, name)
		if err != nil || len(w.Exits) == 0 {
			return nil
		}
		if lines := w.Exits[len(w.Exits)-1].LastLines; len(lines) > 0 {
			return lines
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(waitPoll):
		}
	}
}

type readyState uint8

const (
	isReady readyState = iota
	notReady
	failedReady
)

// waitSettle is how long a run must have lasted for --wait to count it
// ready: a service without a readiness probe is running from its spawn,
// and one that exits at once, on a loaded machine, may take this long to
// do so.
const waitSettle = 500 * time.Millisecond

// readiness sorts a service for --wait at now. One not wanted up
// (autostart: false) is not waited for.
func readiness(s api.Service, now time.Time) readyState {
	switch {
	case s.Wanted != "up":
		return isReady
	case s.State == "running" && s.StartedAt != nil && now.Sub(*s.StartedAt) >= waitSettle:
		return isReady
	case s.State == "running":
		return notReady
	case s.State == "exited" && s.ExitCode != nil && *s.ExitCode == 0:
		return isReady // a oneshot that did its job
	case s.State == "failed", s.State == "backoff", s.State == "exited", s.State == "waiting" && s.Blocked:
		return failedReady
	}
	return notReady
}

func countWanted(st api.Status) int {
	n := 0
	for _, s := range st.Services {
		if s.Wanted == "up" {
			n++
		}
	}
	return n
}

// describeFailures names each service, with why and the last lines its
// last run printed.
func describeFailures(ctx context.Context, c *client.Client, what string, list []api.Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s:", len(list), what)
	for i, svc := range list {
		if i == maxNamedFailures {
			fmt.Fprintf(&b, "\nand %d more", len(list)-i)
			break
		}
		reason := cmp.Or(svc.Error, svc.WaitingOn, svc.State)
		fmt.Fprintf(&b, "\n%s: %s", svc.Name, reason)
		for _, l := range lastLines(ctx, c, svc.Name) {
			fmt.Fprintf(&b, "\n  %s | %s", svc.Name, l.Line)
		}
	}
	return b.String()
}

// upDetached starts the supervisor as a new session of this same binary and
// returns once it reports ready or failed. The child is released, not waited
// for, once ready: this process exits right after, so the child is adopted.
func (g *globals) upDetached(cfg *config.Config, stdout, stderr io.Writer) error {
	stateDir := cfg.Supervisor.StateDir
	// A supervisor that answers is reported without spawning anything; one
	// that is starting right now is caught by the child's lock instead.
	ctx, cancel := context.WithTimeout(background(), 5*time.Second)
	defer cancel()
	// Checked first: a socket or log planted in a dir another user controls
	// is neither asked nor written.
	dir, err := statedir.Open(stateDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	st, err := client.New(socketPath(stateDir)).Overview(ctx)
	cancel()
	if err == nil {
		return &instance.AlreadyRunningError{Pid: st.Supervisor.Pid, Config: st.Supervisor.Config, StateDir: stateDir}
	}

	logPath := dir.Join(logName)
	logFile, err := dir.OpenAppend(logName, 0o600)
	if err != nil {
		return fmt.Errorf("open supervisor log: %w", err)
	}
	defer logFile.Close()
	logStart, _ := logFile.Seek(0, io.SeekEnd)

	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("ready pipe: %w", err)
	}
	defer readyR.Close()

	exe, err := os.Executable()
	if err != nil {
		readyW.Close()
		return fmt.Errorf("find own binary: %w", err)
	}
	cfgPath, err := filepath.Abs(g.configPath())
	if err != nil {
		readyW.Close()
		return fmt.Errorf("config path: %w", err)
	}
	// Only the listed files reach the child (Go opens everything else
	// close-on-exec): stdin, stdout, stderr and the ready pipe as fd 3. The
	// child is a foreground up whose stdout is the log: --no-output keeps
	// the services' lines out of it (they have their own logs) and its own
	// lines at the configured level.
	p, err := os.StartProcess(exe, []string{exe, "up", "--no-output", "-c", cfgPath}, &os.ProcAttr{
		Env:   append(os.Environ(), instance.ReadyFDEnv+"=3"),
		Files: []*os.File{devNull, logFile, logFile, readyW},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	// The child holds its own copy; keeping ours would hide its EOF.
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}

	report, rerr := readReady(readyR)
	if rerr == nil {
		rerr = instance.ParseReady(report)
	}
	pid := p.Pid // Release forgets it
	if rerr == nil {
		_ = p.Release()
		fmt.Fprintf(stdout, "respawn up (pid %d), log: %s\n", pid, logPath)
		return failedAtStart(stateDir, stderr)
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		// Still starting after all this time: leave it be, but say so.
		_ = p.Release()
		return fmt.Errorf("supervisor (pid %d) not ready after %s; see %s: %w", pid, readyTimeout, logPath, rerr)
	}
	// The child exits right after its report; reap it rather than leave a zombie.
	state, werr := p.Wait()
	if !errors.Is(rerr, instance.ErrNoReport) {
		// The child said why: that is the whole story.
		return rerr
	}
	if werr != nil {
		return fmt.Errorf("%w: %w", rerr, werr)
	}
	// Reaped, so all it wrote is in the log.
	if tail := logTail(dir, logStart); tail != "" {
		return fmt.Errorf("%w (%v); log %s:\n%s", rerr, state, logPath, tail)
	}
	return fmt.Errorf("%w (%v)", rerr, state)
}

// maxNamedFailures bounds the services a failed start names one by one.
const maxNamedFailures = 20

// failedAtStart asks a supervisor that just reported ready which services
// could not be started (a spawn error: command missing, out of file
// descriptors, and so on) and makes them the error: the supervisor runs,
// but not everything it was asked to run does. Services that exited at once
// and back off are named on stderr.
func failedAtStart(stateDir string, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(background(), 10*time.Second)
	defer cancel()
	st, err := client.New(socketPath(stateDir)).Overview(ctx)
	if err != nil {
		return fmt.Errorf("supervisor started, but its status cannot be read: %w", err)
	}
	var named []string
	n := 0
	for _, svc := range st.Services {
		if svc.State == "backoff" {
			// Exited already; it may yet come up, so no failure: said.
			fmt.Fprintf(stderr, "respawn: %s exited at once (%s); up -d --wait waits until every service is ready\n", svc.Name, svc.Error)
			continue
		}
		if svc.State != "failed" {
			continue
		}
		if n++; n <= maxNamedFailures {
			named = append(named, fmt.Sprintf("%s (%s)", svc.Name, svc.Error))
		}
	}
	if n == 0 {
		return nil
	}
	list := strings.Join(named, ", ")
	if n > maxNamedFailures {
		list += fmt.Sprintf(" and %d more", n-maxNamedFailures)
	}
	return fmt.Errorf("supervisor started, but %d of %d services failed to start: %s", n, len(st.Services), list)
}

// readReady reads the one report a detached supervisor writes, up to EOF.
func readReady(r *os.File) ([]byte, error) {
	_ = r.SetReadDeadline(time.Now().Add(readyTimeout))
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read ready pipe: %w", err)
	}
	return b, nil
}

// logTail returns the last lines written to the log since offset, to show why a start failed.
func logTail(dir *statedir.Dir, offset int64) string {
	const maxTail = 4 << 10
	f, err := dir.Open(logName)
	if err != nil {
		return ""
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	from := max(offset, end-maxTail)
	b := make([]byte, end-from)
	n, _ := f.ReadAt(b, from)
	b = b[:n]
	if from > offset {
		// Cut to a whole line.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}
