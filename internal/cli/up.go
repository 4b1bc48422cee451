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
	var detach, ensure bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "run the supervisor (in the foreground unless -d) and start every autostart service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if detach {
				err = g.upDetached(cfg, cmd.OutOrStdout())
			} else {
				err = g.env.Up(cfg, cmd.ErrOrStderr())
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
	return cmd
}

// upDetached starts the supervisor as a new session of this same binary and
// returns once it reports ready or failed. The child is released, not waited
// for, once ready: this process exits right after, so the child is adopted.
func (g *globals) upDetached(cfg *config.Config, stdout io.Writer) error {
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
	st, err := client.New(socketPath(stateDir)).Status(ctx)
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
	// close-on-exec): stdin, stdout, stderr and the ready pipe as fd 3.
	p, err := os.StartProcess(exe, []string{exe, "up", "-c", cfgPath}, &os.ProcAttr{
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
		return failedAtStart(stateDir)
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
// but not everything it was asked to run does.
func failedAtStart(stateDir string) error {
	ctx, cancel := context.WithTimeout(background(), 10*time.Second)
	defer cancel()
	st, err := client.New(socketPath(stateDir)).Status(ctx)
	if err != nil {
		return fmt.Errorf("supervisor started, but its status cannot be read: %w", err)
	}
	var named []string
	n := 0
	for _, svc := range st.Services {
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
