package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/bench/internal/runargs"
)

// service is one program a scenario asks a supervisor to run.
type service struct {
	name    string
	argv    []string
	restart bool // respawn whenever it exits; false means run once
	// bigLog asks for a stdout log that neither rotates nor truncates, at a
	// path logPath can name.
	bigLog bool
}

// peer is one supervisor under test.
type peer interface {
	name() string
	// launch writes a configuration for svcs into dir and starts the
	// supervisor in the foreground.
	launch(dir string, svcs []service) (*instance, error)
	// logPath is where the captured stdout of svc ends up, or "" when the
	// peer does not capture output as (d) needs (then why).
	logPath(dir, svc string) (path, why string)
	// prefixed reports whether each captured line carries a
	// "<time> <stream> " prefix ahead of the text.
	prefixed() bool
	// own lists the supervisor's own processes below and including root,
	// the process the bench started: not the services.
	own(root int) ([]int, error)
	// status returns the command lines a person runs to see the status of
	// the named services of the configuration in dir, or of all of them;
	// the bench runs them one after the other and times the whole.
	status(dir string, names []string, all bool) [][]string
	// pause is the delay the supervisor itself puts between a crash and the
	// restart (or between two starts) that no setting removes; the crash
	// storm subtracts it from a service's life so that every peer restarts
	// about once a second per service.
	pause() time.Duration
}

// instance is one running supervisor.
type instance struct {
	cmd      *exec.Cmd
	launched time.Time
	stderr   string // file holding the supervisor's stderr
	done     chan struct{}
	waitErr  error
	// halt, when set, replaces SIGTERM for a supervisor that does not stop
	// its services on a signal (daemontools' svscan).
	halt func(in *instance, grace time.Duration) error
}

// errTimeout marks a wait that ran out of time.
var errTimeout = errors.New("timed out")

// errExited marks a supervisor that ended before the scenario was over.
var errExited = errors.New("supervisor exited early")

// start runs argv in its own process group with stdout and stderr in a
// file of dir, and starts the clock.
func start(dir, label string, argv []string) (*instance, error) {
	errPath := filepath.Join(dir, label+".stderr")
	out, err := os.Create(errPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", errPath, err)
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	// Its own session, as a supervisor started at boot or by `up -d` has:
	// a terminal's Ctrl-C cannot reach it behind the bench's back, and the
	// scheduler weighs it and what it starts apart from the bench and the
	// status commands the bench runs, as it weighs a daemon's tree apart
	// from an operator's shell (with autogroup scheduling, one group per
	// session; sharing the bench's made every status command in the crash
	// storm wait its turn among the storm's processes: 160 ms instead of 35
	// for respawn's). Pdeathsig asks it to stop its services if the bench
	// itself is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	in := &instance{cmd: cmd, stderr: errPath, done: make(chan struct{})}
	in.launched = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() {
		in.waitErr = cmd.Wait()
		close(in.done)
	}()
	return in, nil
}

func (in *instance) pid() int { return in.cmd.Process.Pid }

// exited returns errExited with the tail of the supervisor's stderr if it
// has ended, and nil while it runs.
func (in *instance) exited() error {
	select {
	case <-in.done:
		return fmt.Errorf("%w (%v): %s", errExited, in.waitErr, in.stderrTail())
	default:
		return nil
	}
}

func (in *instance) stderrTail() string {
	b, err := os.ReadFile(in.stderr)
	if err != nil {
		return "(no stderr: " + err.Error() + ")"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// stop asks the supervisor to stop with SIGTERM and waits up to grace for
// it to exit; after that it kills the process group. It then kills and
// reaps anything left below the bench and reports how long the clean stop
// took and how many processes it had to kill.
func (in *instance) stop(grace time.Duration) (took time.Duration, leftovers int, err error) {
	t0 := time.Now()
	if in.halt != nil {
		if err = in.halt(in, grace); err == nil {
			took = time.Since(t0)
		}
	} else {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-in.done:
			took = time.Since(t0)
		case <-t.C:
			_ = syscall.Kill(-in.pid(), syscall.SIGKILL)
			<-in.done
			err = fmt.Errorf("did not stop within %v of SIGTERM; killed", grace)
		}
	}
	leftovers, serr := sweep()
	return took, leftovers, errors.Join(err, serr)
}

// waitFor polls cond every interval until it reports true, the supervisor
// exits, ctx ends or limit passes.
func (in *instance) waitFor(ctx context.Context, interval, limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if err := in.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v", errTimeout, limit)
		}
		if err := sleepCtx(ctx, interval); err != nil {
			return err
		}
	}
}

// runOnce runs argv and returns its combined output, for the control
// tools of the peers.
func runOnce(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLines(string(out), 5))
	}
	return string(out), nil
}

// serviceDirs writes one service directory per service below scan, for s6
// and daemontools: `run` is a symlink to the helper itself, which then reads
// its arguments from run.args (bench/internal/runargs), so no shell runs
// between the supervisor and the service.
func serviceDirs(scan string, svcs []service, extra func(dir string, s service) error) error {
	for _, s := range svcs {
		d := filepath.Join(scan, s.name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create service dir: %w", err)
		}
		if err := os.WriteFile(filepath.Join(d, runargs.File), []byte(strings.Join(s.argv[1:], "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("write run.args: %w", err)
		}
		if err := os.Symlink(s.argv[0], filepath.Join(d, "run")); err != nil {
			return fmt.Errorf("link run: %w", err)
		}
		if extra != nil {
			if err := extra(d, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// processesRunning is root plus every descendant whose executable has one
// of the base names, and that its parent does not run or that ran it a
// second or more: a supervisor made of several programs.
func processesRunning(root int, names ...string) ([]int, error) {
	ds, err := descendants(root)
	if err != nil {
		return nil, err
	}
	up, err := uptimeTicks()
	if err != nil {
		return nil, err
	}
	out := []int{root}
	for _, d := range ds {
		exe := exePath(d)
		if !slices.Contains(names, filepath.Base(exe)) {
			continue
		}
		// A child between its fork and its exec runs its parent's executable
		// too: one of those counts only once it ran it a second or more, as in
		// ownProcesses. A program its parent does not run (a supervise that
		// svscan started) counts at once, however young.
		st, err := readStat(d)
		if err != nil {
			continue // gone
		}
		if exePath(st.ppid) != exe || up-st.startTicks >= clockTicks {
			out = append(out, d)
		}
	}
	return out, nil
}

// noteLeftovers records processes that outlived their supervisor's stop.
func noteLeftovers(t *table, p peer, n int) {
	if n > 0 {
		t.note("%s: %d processes were still running after it stopped (killed by the bench)", p.name(), n)
	}
}
