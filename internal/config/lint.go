package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// defaultPath is the PATH a service gets when neither its env nor the
// supervisor's environment sets one, as the spawner uses it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Lint checks what a valid config names on this host — each service's
// program (on its PATH, or at its path, and executable), its user and group,
// its working directory — and returns what it did not find as positioned
// problems. They are warnings, not errors: a package may install the
// program, or a deploy create the user or folder, before the service runs.
// At most MaxErrors are listed, the last counting those left out.
// lookupEnv is the supervisor's environment, as for Load.
func Lint(c *Config, lookupEnv func(string) (string, bool)) ErrorList {
	var out ErrorList
	n := 0
	add := func(s *Service, at Pos, format string, args ...any) {
		n++
		if len(out) >= MaxErrors {
			return
		}
		if at.Line == 0 {
			at = Pos{Line: s.Line, Col: 1}
		}
		out = append(out, &Error{File: c.Path, Line: at.Line, Col: at.Col,
			Msg: fmt.Sprintf("services.%s: ", serviceKey(s)) + fmt.Sprintf(format, args...)})
	}
	for _, s := range c.Services {
		if s.ReplicaOf != "" && s.Instance > 1 {
			continue // the first instance speaks for all
		}
		argv := s.Command
		key := "command"
		if s.Kind == KindExternal {
			argv, key = s.Start, "start"
		}
		if len(argv) > 0 {
			if msg := checkProgram(argv[0], s.Cwd, pathOf(s.Env, lookupEnv)); msg != "" {
				add(s, s.At.Command, "%s: %s", key, msg)
			}
		}
		if s.User != "" && !isID(s.User) {
			if _, err := user.Lookup(s.User); err != nil {
				add(s, s.At.User, "user: %s", lookupProblem("user", s.User, err))
			}
		}
		if s.Group != "" && !isID(s.Group) {
			if _, err := user.LookupGroup(s.Group); err != nil {
				add(s, s.At.User, "user: %s", lookupProblem("group", s.Group, err))
			}
		}
		if fi, err := os.Stat(s.Cwd); err != nil {
			add(s, s.At.Cwd, "cwd: %s", statProblem(s.Cwd, err))
		} else if !fi.IsDir() {
			add(s, s.At.Cwd, "cwd: %s is not a directory", s.Cwd)
		}
		if addr := sharedReadyAddr(s); addr != "" {
			add(s, Pos{}, "ready: the probe connects to %s, a socket the running incarnation shares: under start-first the old run may answer it for the new one; use a log, notify or exec probe", addr)
		}
	}
	for _, dst := range c.Alerts.Destinations {
		if e := dst.Exec; e != nil {
			// Run by the core with the supervisor's environment, from the
			// config's directory.
			if msg := checkProgram(e.Command[0], c.Dir, pathOf(nil, lookupEnv)); msg != "" {
				n++
				if len(out) < MaxErrors {
					out = append(out, &Error{File: c.Path, Line: e.At.Line, Col: e.At.Col,
						Msg: fmt.Sprintf("alerts.destinations.%s.exec.command: %s", dst.Name, msg)})
				}
			}
		}
	}
	out = out.sorted()
	if more := n - len(out); more > 0 {
		last := out[len(out)-1]
		out = append(out, &Error{File: c.Path, Line: last.Line, Col: last.Col,
			Msg: fmt.Sprintf("and %d more (only the first %d are listed)", more, MaxErrors)})
	}
	return out
}

// serviceKey is the name a service has in the file: a replica's is the
// replicated service's.
func serviceKey(s *Service) string {
	if s.ReplicaOf != "" {
		return s.ReplicaOf
	}
	return s.Name
}

// checkProgram says what is wrong with prog as the service would run it, or
// "" when nothing is. A name without a slash is looked up on path; a
// relative path is taken from the service's working directory, as the
// spawner does.
func checkProgram(prog, cwd, path string) string {
	if strings.Contains(prog, "/") {
		p := prog
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			return statProblem(p, err)
		case fi.IsDir():
			return fmt.Sprintf("%s is a directory, not a program", p)
		case fi.Mode().Perm()&0o111 == 0:
			return fmt.Sprintf("%s is not executable", p)
		}
		return ""
	}
	sawNoExec := ""
	for dir := range strings.SplitSeq(path, ":") {
		if !filepath.IsAbs(dir) {
			continue // the spawner skips relative entries too
		}
		fi, err := os.Stat(filepath.Join(dir, prog))
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			sawNoExec = filepath.Join(dir, prog)
			continue
		}
		return ""
	}
	if sawNoExec != "" {
		return fmt.Sprintf("%q is on PATH as %s, which is not executable", prog, sawNoExec)
	}
	return fmt.Sprintf("%q is not found on PATH (%s)", prog, shortenPath(path))
}

// pathOf is the PATH a service runs with: its own env's, else the
// supervisor's, else the default.
func pathOf(env []string, lookupEnv func(string) (string, bool)) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	if v, _ := lookupEnv("PATH"); v != "" {
		return v
	}
	return defaultPath
}

func isID(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func lookupProblem(kind, name string, err error) string {
	var unknownUser user.UnknownUserError
	var unknownGroup user.UnknownGroupError
	if errors.As(err, &unknownUser) || errors.As(err, &unknownGroup) {
		return fmt.Sprintf("%s %q does not exist", kind, name)
	}
	return fmt.Sprintf("%s %q cannot be looked up: %v", kind, name, err)
}

func statProblem(path string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("%s does not exist", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("%s: %v", path, err)
}

// shortenPath keeps a long PATH readable in one message.
func shortenPath(p string) string {
	const max = 120
	if len(p) <= max {
		return p
	}
	return p[:max] + "…"
}

// sharedReadyAddr returns the listen address a start-first service's tcp or
// http readiness probe connects to, "" when it connects to none.
func sharedReadyAddr(s *Service) string {
	if s.Restart.Strategy != StartFirst || s.Ready == nil || len(s.Listen) == 0 {
		return ""
	}
	target := s.Ready.TCP
	if u, err := url.Parse(s.Ready.HTTP); s.Ready.HTTP != "" && err == nil {
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		target = net.JoinHostPort(u.Hostname(), port)
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	for _, l := range s.Listen {
		lh, lp, err := net.SplitHostPort(strings.TrimPrefix(l.Addr, "tcp://"))
		if err != nil || !strings.HasPrefix(l.Addr, "tcp://") || lp != port {
			continue
		}
		if lh == "" || lh == host || host == "localhost" && (lh == "127.0.0.1" || lh == "::1") {
			return l.Addr
		}
	}
	return ""
}
