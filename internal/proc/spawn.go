package proc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/respawn-sh/respawn/internal/platform"
	"golang.org/x/sys/unix"
)

// launch is a Spec checked and resolved before anything is forked.
type launch struct {
	path       string // what to exec: Args[0] resolved through PATH
	env        []string
	creds      creds
	trampoline bool // umask or rlimits: start through Self
}

// devNull is every child's stdin, opened once.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// Spawn starts spec as a new instance of service spec.Name, in its own process
// group (and cgroup in cgroup mode), with stdin on /dev/null and stdout and
// stderr on fresh pipes. What is left of an earlier instance of the same
// service is killed first, so two instances never run at once. Errors before
// the child runs are *SpawnError.
func (m *Manager) Spawn(spec Spec) (*Process, error) {
	l, err := m.prepare(spec)
	if err != nil {
		return nil, err
	}
	for {
		s, err := m.service(spec.Name)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.forgotten {
			// Forget won the race for this entry; a fresh one serves the new instance.
			s.mu.Unlock()
			continue
		}
		p, err := m.spawnLocked(s, spec, l)
		s.mu.Unlock()
		return p, err
	}
}

// prepare validates spec and resolves what can fail before forking, so those
// failures come back as clear *SpawnErrors rather than a child's errno.
func (m *Manager) prepare(spec Spec) (launch, error) {
	var l launch
	if !validServiceName(spec.Name) {
		return l, &SpawnError{Op: "name", Path: spec.Name, Err: ErrInvalidName}
	}
	if len(spec.Args) == 0 {
		return l, &SpawnError{Op: "exec", Path: spec.Name, Err: ErrNoCommand}
	}
	if spec.Dir != "" {
		fi, err := os.Stat(spec.Dir)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return l, &SpawnError{Op: "chdir", Path: spec.Dir, Err: err}
		}
		if !fi.IsDir() {
			return l, &SpawnError{Op: "chdir", Path: spec.Dir, Err: syscall.ENOTDIR}
		}
	}
	env := overlayEnv(spec.BaseEnv, spec.Env)
	var err error
	if l.creds, err = resolveCreds(spec.User, spec.Group, m.id); err != nil {
		return l, err
	}
	// Searched as the child will run: root's PATH may hold directories the
	// service's user cannot enter.
	if l.path, err = lookPath(spec.Args[0], env, accountOf(l.creds)); err != nil {
		return l, &SpawnError{Op: "exec", Path: spec.Args[0], Err: err}
	}
	if err := checkRlimits(spec.Rlimits); err != nil {
		return l, err
	}
	if spec.Umask != nil && *spec.Umask > 0o777 {
		return l, &SpawnError{Op: "umask", Path: fmt.Sprintf("%#o", *spec.Umask), Err: syscall.EINVAL}
	}
	if err := checkListen(spec.Listen); err != nil {
		return l, err
	}
	env = listenEnv(env, spec.Listen)
	// LISTEN_PID must be the service's own pid, which only the child
	// knows: the trampoline sets it, then execs in the same process.
	l.trampoline = spec.Umask != nil || len(spec.Rlimits) > 0 || len(spec.Listen) > 0
	l.env = slices.Clip(env)
	for _, kv := range l.creds.env {
		key, _, _ := strings.Cut(kv, "=")
		if _, ok := lookupEnv(env, key); !ok {
			l.env = append(l.env, kv)
		}
	}
	return l, nil
}

// validServiceName accepts names that can be a cgroup directory and never
// collide with a cgroup control file.
func validServiceName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\x00\n") && !strings.HasPrefix(name, "cgroup.")
}

func (m *Manager) spawnLocked(s *service, spec Spec, l launch) (p *Process, err error) {
	if err := m.clearLeftovers(s, spec.Name); err != nil {
		return nil, &SpawnError{Op: "cgroup", Path: spec.Name, Err: err}
	}
	reused := s.cg != nil
	if m.base != nil && s.cg == nil {
		cg, cgErr := m.base.child(spec.Name)
		if cgErr != nil {
			return nil, &SpawnError{Op: "cgroup", Path: spec.Name, Err: cgErr}
		}
		s.cg = cg
		// A spawn that fails leaves no empty cgroup behind.
		defer func() {
			if err != nil && s.cg == cg {
				if rerr := cg.removeIfEmpty(); rerr != nil {
					// Kept: the next spawn uses it, or Close removes it.
					m.logger.Warn("remove the cgroup of a failed spawn", "service", spec.Name, "err", rerr)
					return
				}
				s.cg = nil
			}
		}()
	}

	devnull, err := devNull()
	if err != nil {
		return nil, &SpawnError{Op: "pipe", Path: os.DevNull, Err: err}
	}
	stdoutR, stdoutW, err := childPipe()
	if err != nil {
		return nil, &SpawnError{Op: "pipe", Path: "stdout", Err: err}
	}
	stderrR, stderrW, err := childPipe()
	if err != nil {
		stdoutR.Close()
		unix.Close(stdoutW)
		return nil, &SpawnError{Op: "pipe", Path: "stderr", Err: err}
	}
	files := []uintptr{devnull.Fd(), uintptr(stdoutW), uintptr(stderrW)}
	childEnds := []int{stdoutW, stderrW}

	argv0, argv, errPath := l.path, spec.Args, spec.Args[0]
	sys := sysProcAttr(l.creds, s.cg, spec.DeathSignal)
	var statusR *os.File
	if l.trampoline {
		var statusW int
		statusR, statusW, err = childPipe()
		if err != nil {
			closeAll(stdoutR, stderrR)
			closeFDs(childEnds)
			return nil, &SpawnError{Op: "pipe", Path: "trampoline status", Err: err}
		}
		// The sockets take fds 3, 4, …; the status pipe follows them.
		for _, ln := range spec.Listen {
			files = append(files, ln.File.Fd())
		}
		files = append(files, uintptr(statusW))
		childEnds = append(childEnds, statusW)
		settings := trampolineSettings{umask: spec.Umask, rlimits: spec.Rlimits, creds: l.creds, ppid: os.Getpid(), death: platform.Current().Pdeathsig, listen: len(spec.Listen)}
		argv0, argv, errPath = m.self, trampolineArgv(m.self, settings, l.path, spec.Args), m.self
		// The trampoline switches credentials itself, after the rlimits.
		sys = sysProcAttr(creds{}, s.cg, spec.DeathSignal)
	}

	p = &Process{name: spec.Name, stdout: stdoutR, stderr: stderrR, done: make(chan struct{}), cg: s.cg, uid: os.Geteuid()}
	if l.creds.set {
		p.uid = int(l.creds.uid)
	}
	if s.cg == nil {
		p.track = m.newTracking()
	}
	p.oomBase, p.oomKnown = p.oomKills()
	if reused {
		// Not retired by clearLeftovers: it emptied by itself and was
		// never killed, so it still counts the CPU of the runs before.
		p.cpuBase = s.cg.cpuTime()
	}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: l.env, Files: files, Sys: sys}
	_, err = forkExec(argv0, argv, attr, p)
	closeFDs(childEnds)
	if err != nil {
		closeAll(stdoutR, stderrR, statusR)
		return nil, &SpawnError{Op: "exec", Path: errPath, Err: err}
	}
	if statusR != nil {
		err := readTrampolineStatus(statusR, m.self)
		statusR.Close()
		if err != nil {
			m.abandon(p)
			closeAll(stdoutR, stderrR)
			return nil, err
		}
	}
	s.last = p
	// Armed only now: a child whose trampoline failed is no Process of the caller's.
	armOnExit(p, m.onExit)
	m.kickTracking()
	m.logger.Debug("spawned", "service", spec.Name, "pid", p.pid)
	return p, nil
}

// clearLeftovers enforces "never two instances": anything still running from
// an earlier instance of the service is killed before a new one starts.
// In cgroup mode it also retires a cgroup that was ever killed, since children
// cloned into it would be killed on arrival (see cgroupDir.killed).
func (m *Manager) clearLeftovers(s *service, name string) error {
	if s.cg != nil {
		pop, err := s.cg.populated()
		if err != nil {
			return err
		}
		if pop {
			m.logger.Warn("killing leftover processes before spawn", "service", name)
			if err := s.cg.killAndWait(leftoverTimeout); err != nil {
				return err
			}
		}
		if s.cg.wasKilled() {
			if err := s.cg.remove(); err != nil {
				return err
			}
			s.cg = nil
		}
		return nil
	}
	if s.last == nil || s.last.treeGoneNow() {
		return nil
	}
	m.logger.Warn("killing leftover processes before spawn", "service", name, "pid", s.last.pid)
	return killLeftovers(s.last)
}

// abandon kills a child whose trampoline failed and waits, bounded, until it
// is reaped, so a failed Spawn leaves nothing behind.
func (m *Manager) abandon(p *Process) {
	if err := p.KillTree(); err != nil {
		m.logger.Warn("kill failed trampoline", "service", p.name, "pid", p.pid, "err", err)
	}
	select {
	case <-p.Done():
	case <-time.After(trampolineTimeout):
		m.logger.Warn("failed trampoline not reaped", "service", p.name, "pid", p.pid)
	}
}

// childPipe makes a pipe whose write end goes to a child: the read end an
// *os.File in non-blocking mode, on the runtime's poller (as os.Pipe makes
// it), the write end a bare close-on-exec descriptor in blocking mode, as
// programs expect of their output. os.Pipe would put the write end on the
// poller too, and making it blocking again for the child (Fd) and closing it
// after the fork cost seven system calls an end on every spawn.
func childPipe() (r *os.File, w int, err error) {
	var fds [2]int
	if err := pipeCloexec(&fds); err != nil {
		return nil, -1, os.NewSyscallError("pipe", err)
	}
	// A new pipe's read end has no other status flag to keep.
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(fds[0]), "|0"), fds[1], nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// overlayEnv returns base with the entries of overlay on top: an overlay entry
// replaces the base entry with the same key in place; new keys come last.
func overlayEnv(base, overlay []string) []string {
	if len(base) == 0 {
		return overlay
	}
	idx := make(map[string]int, len(base)+len(overlay))
	out := make([]string, 0, len(base)+len(overlay))
	for _, list := range [][]string{base, overlay} {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// lookupEnv finds key in a KEY=VALUE list; the first entry wins, as with the
// child's getenv.
func lookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
