package bootinstall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrUnknownMethod is returned for a Method install does not know.
var ErrUnknownMethod = errors.New("bootinstall: unknown method")

// Runner runs an external tool (systemctl, launchctl, sysrc, service, crontab) with stdin and
// returns its standard output. Tests replace it.
type Runner func(ctx context.Context, stdin, name string, args ...string) (string, error)

// ToolError is a tool that ran and failed; Stderr is what it said.
type ToolError struct {
	Cmd    string
	Code   int
	Stderr string
	Err    error
}

func (e *ToolError) Error() string {
	if e.Stderr != "" {
		return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, e.Stderr)
	}
	return fmt.Sprintf("%s: %v", e.Cmd, e.Err)
}
func (e *ToolError) Unwrap() error { return e.Err }

// ExecRunner runs the tool with os/exec.
func ExecRunner(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = stringReader(stdin)
	}
	// stdout is kept whole (a crontab read must not be cut short); stderr
	// only feeds error messages, so it is bounded.
	var out bytes.Buffer
	var errb limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		te := &ToolError{Cmd: cmd.String(), Code: -1, Stderr: errb.trimmed(), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			te.Code = ee.ExitCode()
		}
		return out.String(), te
	}
	return out.String(), nil
}

// Installer installs and uninstalls targets.
type Installer struct {
	Run Runner
	// Home and XDGConfigHome locate per-user files.
	Home, XDGConfigHome string
	// RCDDir is where rc.d scripts go; empty means RCDDir (the constant).
	RCDDir string
}

// rcdPath is where t's rc.d script goes.
func (in *Installer) rcdPath(t Target) string {
	dir := in.RCDDir
	if dir == "" {
		dir = RCDDir
	}
	return filepath.Join(dir, t.RCDName())
}

// Install writes the target's unit, plist, rc.d script or crontab lines and
// enables it.
// It returns where it wrote (a file path, or "crontab").
func (in *Installer) Install(ctx context.Context, t Target, m Method) (string, error) {
	switch m {
	case Systemd:
		path := filepath.Join(t.SystemdDir(in.Home, in.XDGConfigHome), t.SystemdUnitName())
		if err := writeFile(path, t.SystemdUnit()); err != nil {
			return "", err
		}
		if _, err := in.Run(ctx, "", "systemctl", systemctlArgs(t, "daemon-reload")...); err != nil {
			return path, err
		}
		_, err := in.Run(ctx, "", "systemctl", systemctlArgs(t, "enable", "--now", t.SystemdUnitName())...)
		return path, err
	case Launchd:
		path := t.LaunchdPath(in.Home)
		if err := writeFile(path, t.LaunchdPlist()); err != nil {
			return "", err
		}
		_, err := in.Run(ctx, "", "launchctl", "load", "-w", path)
		return path, err
	case RCD:
		if t.User {
			return "", ErrRCDUser
		}
		path := in.rcdPath(t)
		if err := writeFileMode(path, t.RCDScript(), 0o755); err != nil {
			return "", err
		}
		if _, err := in.Run(ctx, "", "sysrc", t.RCDName()+"_enable=YES"); err != nil {
			return path, err
		}
		_, err := in.Run(ctx, "", "service", t.RCDName(), "start")
		return path, err
	case Cron:
		cur, err := in.crontab(ctx)
		if err != nil {
			return "", err
		}
		_, err = in.Run(ctx, t.AddCron(cur), "crontab", "-")
		return "crontab", err
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownMethod, m)
	}
}

// Uninstall disables the target and removes what Install wrote. Removing
// something already gone is not an error, so uninstall can be repeated.
func (in *Installer) Uninstall(ctx context.Context, t Target, m Method) (string, error) {
	switch m {
	case Systemd:
		path := filepath.Join(t.SystemdDir(in.Home, in.XDGConfigHome), t.SystemdUnitName())
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if _, err := in.Run(ctx, "", "systemctl", systemctlArgs(t, "disable", "--now", t.SystemdUnitName())...); err != nil {
			return path, err
		}
		if err := removeFile(path); err != nil {
			return path, err
		}
		_, err := in.Run(ctx, "", "systemctl", systemctlArgs(t, "daemon-reload")...)
		return path, err
	case Launchd:
		path := t.LaunchdPath(in.Home)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if _, err := in.Run(ctx, "", "launchctl", "unload", "-w", path); err != nil {
			return path, err
		}
		return path, removeFile(path)
	case RCD:
		if t.User {
			return "", ErrRCDUser
		}
		path := in.rcdPath(t)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		// onestop stops it whether enabled or not; it exits 1 when the
		// supervisor is not running, which is no reason to keep the script.
		var te *ToolError
		if _, err := in.Run(ctx, "", "service", t.RCDName(), "onestop"); err != nil && !(errors.As(err, &te) && te.Code == 1) {
			return path, err
		}
		if err := removeFile(path); err != nil {
			return path, err
		}
		_, err := in.Run(ctx, "", "sysrc", "-x", t.RCDName()+"_enable")
		return path, err
	case Cron:
		cur, err := in.crontab(ctx)
		if err != nil {
			return "", err
		}
		next := t.RemoveCron(cur)
		if next == cur {
			return "crontab", nil
		}
		_, err = in.Run(ctx, next, "crontab", "-")
		return "crontab", err
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownMethod, m)
	}
}

// crontab reads the user's crontab. `crontab -l` exits 1 with nothing on
// stdout when the user has none yet: that is an empty crontab, not a failure.
func (in *Installer) crontab(ctx context.Context) (string, error) {
	out, err := in.Run(ctx, "", "crontab", "-l")
	var te *ToolError
	if err != nil && errors.As(err, &te) && te.Code == 1 && out == "" {
		return "", nil
	}
	return out, err
}

func systemctlArgs(t Target, args ...string) []string {
	if t.User {
		return append([]string{"--user"}, args...)
	}
	return args
}
