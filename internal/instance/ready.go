package instance

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/respawn-sh/respawn/internal/statedir"
)

// ReadyFDEnv names the environment variable through which `up -d` hands the
// detached supervisor the fd of its ready pipe.
const ReadyFDEnv = "RESPAWN_READY_FD"

// Messages on the ready pipe: exactly one, then EOF.
const (
	readyOK      = "ok"
	readyRunning = "running "
	readyFail    = "fail "
	readyUnsafe  = "unsafe " // a refused state dir: `up -d` exits 2 as `up` does
)

// ErrNoReport is why a detached supervisor that closed its ready pipe
// without a word failed.
var ErrNoReport = errors.New("supervisor exited before it was ready")

// unsafeReport is a detached supervisor's refusal of its state dir.
type unsafeReport string

func (e unsafeReport) Error() string        { return string(e) }
func (e unsafeReport) Is(target error) bool { return target == statedir.ErrUnsafe }

// WriteReady reports on a detached supervisor's ready pipe how its start
// ended: nil means ready; an *AlreadyRunningError and a refused state dir
// (statedir.ErrUnsafe) keep their kind across the pipe; any other error
// keeps its text.
func WriteReady(w io.Writer, err error) error {
	var running *AlreadyRunningError
	msg := readyOK
	switch {
	case err == nil:
	case errors.As(err, &running):
		msg = readyRunning + strconv.Itoa(running.Pid)
		if running.Config != "" {
			msg += " " + running.Config
		}
	case errors.Is(err, statedir.ErrUnsafe):
		msg = readyUnsafe + err.Error()
	default:
		msg = readyFail + err.Error()
	}
	_, werr := io.WriteString(w, msg)
	return werr
}

// ParseReady decodes what WriteReady wrote: nil when the supervisor is
// ready, ErrNoReport when nothing was written.
func ParseReady(b []byte) error {
	s := string(b)
	switch {
	case s == readyOK:
		return nil
	case strings.HasPrefix(s, readyRunning):
		p, config, _ := strings.Cut(strings.TrimPrefix(s, readyRunning), " ")
		pid, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("unreadable ready report %q: %w", s, err)
		}
		return &AlreadyRunningError{Pid: pid, Config: config}
	case strings.HasPrefix(s, readyUnsafe):
		return unsafeReport(strings.TrimPrefix(s, readyUnsafe))
	case strings.HasPrefix(s, readyFail):
		return errors.New(strings.TrimPrefix(s, readyFail))
	case s == "":
		return ErrNoReport
	default:
		return fmt.Errorf("unreadable ready report %q", s)
	}
}
