package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Go cannot set umask or rlimits in a child between fork and exec. A Spec that
// needs them is therefore started as Self re-executed as a trampoline:
//
//	[Self, trampolineArg, <settings>, "--", path, argv...]
//
// which applies the settings, switches credentials (after the rlimits, so a root
// supervisor can raise hard limits for an unprivileged service) and execs path
// with the original argv. The cost is one extra exec plus a Go runtime start,
// about a millisecond; Specs without umask or rlimits take the direct path.
//
// The trampoline reports on fd 3 (close-on-exec): one ack byte when it starts,
// then, only on failure, an error record. EOF after the ack means the exec
// succeeded. A process given N listening sockets has them on fds 3 … 3+N-1
// and the status pipe on 3+N; the trampoline sets LISTEN_PID to its own pid,
// which the exec keeps.
const (
	trampolineArg    = "__respawn_exec"
	trampolineStatus = 3
	trampolineAck    = 'T'
	// trampolineExit is the trampoline's exit code when it could not exec.
	trampolineExit = 127
	// trampolineTimeout bounds how long Spawn waits for the trampoline's verdict.
	trampolineTimeout = 10 * time.Second
)

// trampolineSettings are what the trampoline applies before exec.
type trampolineSettings struct {
	umask   *uint32
	rlimits []Rlimit
	creds   creds
	ppid    int  // the supervisor; pid the trampoline's parent must still be
	death   bool // restore the parent-death signal after a credentials change
	listen  int  // listening sockets on fds 3, 4, …: set LISTEN_PID
}

// encode writes the settings as ";"-separated key=value fields.
func (s trampolineSettings) encode() string {
	var b strings.Builder
	fmt.Fprintf(&b, "p=%d", s.ppid)
	if s.death {
		b.WriteString(";d=1")
	}
	if s.umask != nil {
		fmt.Fprintf(&b, ";m=%o", *s.umask)
	}
	if s.listen > 0 {
		fmt.Fprintf(&b, ";l=%d", s.listen)
	}
	for _, r := range s.rlimits {
		fmt.Fprintf(&b, ";r=%s:%d:%d", r.Resource, r.Soft, r.Hard)
	}
	if s.creds.set {
		fmt.Fprintf(&b, ";u=%d;g=%d;G=", s.creds.uid, s.creds.gid)
		for i, g := range s.creds.groups {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(uint64(g), 10))
		}
	}
	return b.String()
}

func decodeSettings(enc string) (trampolineSettings, error) {
	var s trampolineSettings
	for field := range strings.SplitSeq(enc, ";") {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return s, fmt.Errorf("bad trampoline field %q", field)
		}
		var err error
		switch key {
		case "p":
			s.ppid, err = strconv.Atoi(val)
		case "d":
			s.death = val == "1"
		case "l":
			s.listen, err = strconv.Atoi(val)
			if err == nil && (s.listen < 0 || s.listen > MaxListen) {
				err = errors.New("out of range")
			}
		case "m":
			var m uint64
			m, err = strconv.ParseUint(val, 8, 32)
			mask := uint32(m)
			s.umask = &mask
		case "r":
			var r Rlimit
			r, err = decodeRlimit(val)
			s.rlimits = append(s.rlimits, r)
		case "u":
			s.creds.set = true
			s.creds.uid, err = parseID(val)
		case "g":
			s.creds.gid, err = parseID(val)
		case "G":
			for g := range strings.SplitSeq(val, ",") {
				if g == "" {
					continue
				}
				var id uint32
				if id, err = parseID(g); err != nil {
					break
				}
				s.creds.groups = append(s.creds.groups, id)
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return s, fmt.Errorf("bad trampoline field %q: %w", field, err)
		}
	}
	return s, nil
}

func decodeRlimit(val string) (Rlimit, error) {
	parts := strings.Split(val, ":")
	if len(parts) != 3 {
		return Rlimit{}, errors.New("want resource:soft:hard")
	}
	soft, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Rlimit{}, err
	}
	hard, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return Rlimit{}, err
	}
	return Rlimit{Resource: parts[0], Soft: soft, Hard: hard}, nil
}

// trampolineArgv builds the trampoline's argv for the target path and argv.
func trampolineArgv(self string, s trampolineSettings, path string, argv []string) []string {
	out := make([]string, 0, len(argv)+5)
	out = append(out, self, trampolineArg, s.encode(), "--", path)
	return append(out, argv...)
}

// The kernel keeps the parent-death signal per thread and new threads start
// without it, so the trampoline must apply its settings and exec on the main
// thread, which inherited the signal from the fork. Locking the OS thread in
// an init function keeps main, and so RunTrampoline, on the main thread.
func init() {
	if isTrampoline() {
		runtime.LockOSThread()
	}
}

func isTrampoline() bool { return len(os.Args) >= 2 && os.Args[1] == trampolineArg }

// RunTrampoline must be called first thing in main, and in TestMain of tests
// that spawn with umask or rlimits. When os.Args marks this process as the exec
// trampoline, it applies umask, rlimits and credentials and execs the target,
// never returning; otherwise it returns at once.
func RunTrampoline() {
	if !isTrampoline() {
		return
	}
	os.Exit(runTrampoline(os.Args[2:]))
}

// runTrampoline returns only when it could not exec the target.
func runTrampoline(args []string) int {
	var s trampolineSettings
	var err error
	if len(args) > 0 {
		s, err = decodeSettings(args[0])
	}
	if err == nil {
		statusFd = trampolineStatus + s.listen
	}
	// Close-on-exec, so a successful exec shows the parent EOF; a failed one
	// leaves the fd open to report on.
	if _, err := unix.FcntlInt(uintptr(statusFd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		fmt.Fprintf(os.Stderr, "respawn exec trampoline: status fd: %v\n", err)
		return trampolineExit
	}
	writeStatus([]byte{trampolineAck})
	fail := func(op, path string, err error) int {
		writeStatus(encodeFailure(op, path, err))
		return trampolineExit
	}
	if len(args) < 4 || args[1] != "--" {
		return fail("exec", trampolineArg, errors.New("malformed trampoline arguments"))
	}
	if err != nil {
		return fail("exec", trampolineArg, err)
	}
	path, argv := args[2], args[3:]
	if s.umask != nil {
		syscall.Umask(int(*s.umask))
	}
	for _, r := range s.rlimits {
		res, ok := rlimitResource(r.Resource)
		if !ok {
			return fail("rlimit", r.Resource, ErrUnknownRlimit)
		}
		// unix.Setrlimit goes through syscall.Setrlimit, so setting nofile here
		// stops Exec from restoring the runtime's original nofile limit.
		var lim unix.Rlimit
		setRlimitValue(&lim.Cur, r.Soft)
		setRlimitValue(&lim.Max, r.Hard)
		if err := unix.Setrlimit(res, &lim); err != nil {
			return fail("rlimit", r.Resource, err)
		}
	}
	if s.creds.set {
		if err := switchCreds(s.creds); err != nil {
			return fail("user", strconv.FormatUint(uint64(s.creds.uid), 10), err)
		}
		if err := afterCredsChange(s.ppid, s.death); err != nil {
			return fail("user", strconv.FormatUint(uint64(s.creds.uid), 10), err)
		}
	}
	env := os.Environ()
	if s.listen > 0 {
		env = append(env, "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	}
	err = unix.Exec(path, argv, env)
	return fail("exec", argv[0], err)
}

// statusFd is where this process, as a trampoline, reports: fd 3 after the
// listening sockets.
var statusFd = trampolineStatus

// switchCreds uses the syscall package's versions, which apply to every thread
// of the runtime, so the thread that execs has them whatever it is.
func switchCreds(c creds) error {
	groups := make([]int, len(c.groups))
	for i, g := range c.groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return err
	}
	if err := syscall.Setgid(int(c.gid)); err != nil {
		return err
	}
	return syscall.Setuid(int(c.uid))
}

func writeStatus(b []byte) {
	for len(b) > 0 {
		n, err := unix.Write(statusFd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		b = b[n:]
	}
}

// encodeFailure writes op, path, errno and message NUL-separated; errno is 0
// when err is not an errno.
func encodeFailure(op, path string, err error) []byte {
	var errno syscall.Errno
	errors.As(err, &errno)
	return fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s", op, path, int(errno), err.Error())
}

func decodeFailure(b []byte) *SpawnError {
	parts := bytes.SplitN(b, []byte{0}, 4)
	if len(parts) != 4 {
		return &SpawnError{Op: "exec", Path: trampolineArg, Err: fmt.Errorf("garbled trampoline report %q", b)}
	}
	e := &SpawnError{Op: string(parts[0]), Path: string(parts[1])}
	if n, err := strconv.Atoi(string(parts[2])); err == nil && n != 0 {
		e.Err = syscall.Errno(n)
	} else {
		e.Err = errors.New(string(parts[3]))
	}
	return e
}

// readTrampolineStatus waits for the trampoline's verdict on r: nil once it
// exec'd the target.
func readTrampolineStatus(r *os.File, self string) error {
	// A deadline, because a Self that is not a trampoline may run for ever.
	_ = r.SetReadDeadline(time.Now().Add(trampolineTimeout))
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	if err != nil {
		return &SpawnError{Op: "exec", Path: self, Err: fmt.Errorf("waiting for the exec trampoline: %w", err)}
	}
	b := buf.Bytes()
	if len(b) == 0 || b[0] != trampolineAck {
		return &SpawnError{Op: "exec", Path: self, Err: ErrNoTrampoline}
	}
	if len(b) == 1 {
		return nil
	}
	return decodeFailure(b[1:])
}
