package policy

import "fmt"

// String gives the policy's config spelling: "always", "on-failure", "never".
func (m Mode) String() string {
	switch m {
	case Always:
		return "always"
	case OnFailure:
		return "on-failure"
	case Never:
		return "never"
	default:
		return fmt.Sprintf("mode(%d)", int(m))
	}
}

// String gives "restart", "done" or "fail".
func (a Action) String() string {
	switch a {
	case Restart:
		return "restart"
	case Done:
		return "done"
	case Fail:
		return "fail"
	default:
		return fmt.Sprintf("action(%d)", int(a))
	}
}

// String gives "exit status 1" or "signal 9".
func (e Exit) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("signal %d", e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// String gives the action followed by the reason, e.g. "restart: exit status 1, restart 3 in 400ms".
func (d Decision) String() string {
	if d.Reason == "" {
		return d.Action.String()
	}
	return d.Action.String() + ": " + d.Reason
}
