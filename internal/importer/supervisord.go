package importer

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/lazy"
)

// supervisordSection is a section and the file it was read from, whose
// directory is its %(here)s.
type supervisordSection struct {
	*iniSection
	file string
}

// supervisordProgramKeys are the keys of a [program:x] section that
// supervisord knows; any other key is noted as unknown.
var supervisordProgramKeys = []string{"command", "process_name", "numprocs", "numprocs_start", "priority",
	"autostart", "startsecs", "startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs",
	"stopasgroup", "killasgroup", "user", "redirect_stderr", "stdout_logfile", "stdout_logfile_maxbytes",
	"stdout_logfile_backups", "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
	"stderr_events_enabled", "stderr_syslog", "environment", "directory", "umask", "serverurl"}

// supervisordUnmapped says why each program key respawn has no counterpart
// for is not carried over.
var supervisordUnmapped = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{
		"stdout_capture_maxbytes": "respawn has no process communication event capture",
		"stderr_capture_maxbytes": "respawn has no process communication event capture",
		"stdout_events_enabled":   "respawn has no event listeners; `respawn events` and `respawn logs -f` show output and state changes",
		"stderr_events_enabled":   "respawn has no event listeners; `respawn events` and `respawn logs -f` show output and state changes",
		"stdout_syslog":           "respawn does not send output to syslog",
		"stderr_syslog":           "respawn does not send output to syslog",
		"serverurl":               "respawn's services do not talk to a supervisorctl server URL",
	}
}}

// Supervisord converts a supervisord.conf, with the files its [include]
// names, into a respawn config.
func Supervisord(path string) (*Result, error) {
	// %(here)s is a directory that must not depend on where respawn runs.
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c := newConf("supervisord")
	sections, err := supervisordSections(c, path)
	if err != nil {
		return nil, err
	}
	groups := map[string]*supervisordSection{}
	var programs []*supervisordSection
	for _, s := range sections {
		kind, name, _ := strings.Cut(s.name, ":")
		switch kind {
		case "program":
			programs = append(programs, s)
		case "group":
			groups[name] = s
		case "supervisord":
			if err := supervisordGlobal(c, s); err != nil {
				return nil, err
			}
		case "include":
			// Read by supervisordSections.
		case "eventlistener":
			c.droppedTop("["+s.name+"]", "respawn has no event listeners; `respawn events -f` streams state changes")
		case "fcgi-program":
			c.droppedTop("["+s.name+"]", "respawn does not open sockets for FastCGI programs")
		default:
			c.droppedTop("["+s.name+"]", "supervisord's own server, client and plugins are not respawn's: its control socket and HTTP API are set under supervisor:")
		}
	}
	ps, err := supervisordPrograms(programs, groups)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, p := range ps {
		if err := supervisordProgram(c, p, seen); err != nil {
			return nil, err
		}
	}
	if len(c.services) > 1 {
		c.header = append(c.header, "services are listed in supervisord's start order: by group priority, then program priority")
	}
	return c.result(path), nil
}

// supervisordSections reads path and, as supervisord does, the files its
// [include] section names (globs relative to path's directory); an
// [include] in an included file is not read, by supervisord either.
func supervisordSections(c *conf, path string) ([]*supervisordSection, error) {
	main, err := readINI(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []*supervisordSection
	for _, s := range main.sections {
		out = append(out, &supervisordSection{s, path})
		if s.name != "include" {
			continue
		}
		files, _ := s.get("files")
		dir := filepath.Dir(path)
		globs, err := expand(files, map[string]any{"here": dir, "host_node_name": hostname()})
		if err != nil || hasEnv(globs) {
			return nil, fmt.Errorf("%s: [include] files: cannot expand %q: %w", path, files, cmp.Or(err, errors.New("environment variables are not known at import")))
		}
		for _, g := range strings.Fields(globs) {
			if !filepath.IsAbs(g) {
				g = filepath.Join(dir, g)
			}
			matches, err := filepath.Glob(g)
			if err != nil {
				return nil, fmt.Errorf("%s: [include] files: %w", path, err)
			}
			slices.Sort(matches)
			for _, m := range matches {
				inc, err := readINI(m)
				if err != nil {
					return nil, fmt.Errorf("read %s (included by %s): %w", m, path, err)
				}
				for _, is := range inc.sections {
					if is.name == "include" {
						c.droppedTop("[include] in "+m, "supervisord reads [include] only in its main file")
						continue
					}
					if slices.ContainsFunc(out, func(o *supervisordSection) bool { return o.name == is.name }) {
						return nil, fmt.Errorf("%s: [%s] is also in another file", m, is.name)
					}
					out = append(out, &supervisordSection{is, m})
				}
			}
		}
	}
	return out, nil
}

// supervisordGlobal carries over the [supervisord] section's environment,
// which every program inherits, and names every other key as lost.
func supervisordGlobal(c *conf, s *supervisordSection) error {
	for _, k := range s.keys {
		if k != "environment" {
			c.droppedTop("[supervisord] "+k, "a setting of supervisord itself; respawn's own settings are under supervisor:")
			continue
		}
		env, err := supervisordEnv(s, map[string]any{"here": filepath.Dir(s.file), "host_node_name": hostname()})
		if err != nil {
			return err
		}
		c.defaults = &service{origin: "[supervisord]"}
		for _, kv := range env {
			c.defaults.set("env."+kv[0], str(kv[1]))
		}
	}
	return nil
}

// supervisordProc is one process of a program, in start order.
type supervisordProc struct {
	sec          *supervisordSection
	program      string
	group        string // the [group:x] that lists it, else ""
	groupPrio    int
	prio         int
	num, numproc int
	index        int // in the file, to keep file order among equals
}

func supervisordPrograms(programs []*supervisordSection, groups map[string]*supervisordSection) ([]supervisordProc, error) {
	inGroup := map[string]*supervisordSection{}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		list, _ := groups[g].get("programs")
		for _, p := range strings.Split(list, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !slices.ContainsFunc(programs, func(s *supervisordSection) bool { return s.name == "program:"+p }) {
				return nil, fmt.Errorf("%s: [group:%s] names program %q, which has no [program:%s] section", groups[g].file, g, p, p)
			}
			if other, dup := inGroup[p]; dup {
				return nil, fmt.Errorf("%s: program %q is in [%s] and [group:%s]; respawn puts a service in one group", groups[g].file, p, other.name, g)
			}
			inGroup[p] = groups[g]
		}
	}
	var procs []supervisordProc
	for i, s := range programs {
		name := strings.TrimPrefix(s.name, "program:")
		prio, err := supervisordInt(s, "priority", 999)
		if err != nil {
			return nil, err
		}
		n, err := supervisordInt(s, "numprocs", 1)
		if err != nil {
			return nil, err
		}
		start, err := supervisordInt(s, "numprocs_start", 0)
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, fmt.Errorf("%s: [%s] numprocs: %d is less than 1", s.file, s.name, n)
		}
		p := supervisordProc{sec: s, program: name, prio: prio, groupPrio: prio, numproc: n, index: i}
		if g, ok := inGroup[name]; ok {
			p.group = strings.TrimPrefix(g.name, "group:")
			if p.groupPrio, err = supervisordInt(g, "priority", 999); err != nil {
				return nil, err
			}
		}
		for k := range n {
			p.num = start + k
			procs = append(procs, p)
		}
	}
	slices.SortStableFunc(procs, func(a, b supervisordProc) int {
		return cmp.Or(cmp.Compare(a.groupPrio, b.groupPrio), cmp.Compare(a.prio, b.prio), cmp.Compare(a.index, b.index))
	})
	return procs, nil
}

// supervisordProgram adds one process of a [program:x] as a service.
func supervisordProgram(c *conf, p supervisordProc, seen map[string]string) error {
	sec := p.sec
	group := cmp.Or(p.group, p.program)
	vars := map[string]any{
		"here": filepath.Dir(sec.file), "program_name": p.program, "group_name": group,
		"process_num": p.num, "numprocs": p.numproc, "host_node_name": hostname(),
	}
	pname := p.program
	if raw, ok := sec.get("process_name"); ok {
		var err error
		if pname, err = expand(raw, vars); err != nil {
			return fmt.Errorf("%s: [%s] process_name: %w", sec.file, sec.name, err)
		}
	}
	if raw, _ := sec.get("process_name"); p.numproc > 1 && !strings.Contains(raw, "%(process_num)") {
		return fmt.Errorf("%s: [%s] numprocs is %d but process_name does not hold %%(process_num)s", sec.file, sec.name, p.numproc)
	}
	name := serviceName(pname)
	if name == "" || hasEnv(pname) {
		return fmt.Errorf("%s: [%s] process name %q cannot be a respawn service name", sec.file, sec.name, pname)
	}
	if other, dup := seen[name]; dup {
		return fmt.Errorf("%s: [%s] gives service name %q, as [%s] does", sec.file, sec.name, name, other)
	}
	seen[name] = sec.name
	s := c.add(name, sec.name)
	if name != pname {
		c.changed(s, nil, "process_name", fmt.Sprintf("%q is not a valid service name: named %s", pname, name))
	}
	get := func(k string) (string, bool, error) {
		v, ok := sec.get(k)
		if !ok {
			return "", false, nil
		}
		if strings.Contains(v, "%(host_node_name)") {
			c.changed(s, nil, k, "%(host_node_name)s is written as this host's name, "+hostname()+", where the import ran")
		}
		x, err := expand(v, vars)
		if err != nil {
			return "", true, fmt.Errorf("%s: [%s] %s: %w", sec.file, sec.name, k, err)
		}
		return x, true, nil
	}

	// Keys mapped one to one.
	command, ok, err := get("command")
	if err != nil {
		return err
	}
	if !ok || strings.TrimSpace(command) == "" {
		return fmt.Errorf("%s: [%s] has no command", sec.file, sec.name)
	}
	words, err := splitWords(command)
	if err != nil {
		return fmt.Errorf("%s: [%s] command: %w", sec.file, sec.name, err)
	}
	for i := range words {
		words[i] = render(words[i])
	}
	s.set("command", list(words))
	if v, ok, err := get("directory"); err != nil {
		return err
	} else if ok {
		s.set("cwd", str(render(v)))
	}
	if v, ok, err := get("user"); err != nil {
		return err
	} else if ok {
		s.set("user", str(render(v)))
	}
	if v, ok, err := get("umask"); err != nil {
		return err
	} else if ok {
		s.set("umask", str(render(v)))
	}
	if _, ok := sec.get("environment"); ok {
		env, err := supervisordEnv(sec, vars)
		if err != nil {
			return err
		}
		for _, kv := range env {
			if !envName.Get().MatchString(kv[0]) {
				c.dropped(s, "environment "+kv[0], "not a valid environment variable name for respawn")
				continue
			}
			s.set("env."+kv[0], str(kv[1]))
		}
	}
	if p.group != "" || p.numproc > 1 {
		// supervisord's homogeneous group of a numprocs program is the
		// program's name: supervisorctl restart worker:* is respawn restart @worker.
		if g := serviceName(group); g != "" {
			s.set("group", g)
		}
	}
	if v, ok, err := get("autostart"); err != nil {
		return err
	} else if ok {
		b, err := supervisordBool(v)
		if err != nil {
			return fmt.Errorf("%s: [%s] autostart: %w", sec.file, sec.name, err)
		}
		s.set("autostart", strconv.FormatBool(b))
	}
	if err := supervisordRestart(c, s, sec, get); err != nil {
		return err
	}
	if err := supervisordStop(c, s, sec, get); err != nil {
		return err
	}
	if err := supervisordLogs(c, s, sec, get); err != nil {
		return err
	}
	for _, k := range sec.keys {
		if why, ok := supervisordUnmapped.Get()[k]; ok {
			c.dropped(s, k, why)
		} else if !slices.Contains(supervisordProgramKeys, k) {
			c.dropped(s, k, "not a key supervisord knows")
		}
	}
	return nil
}

type getter func(string) (string, bool, error)

// supervisordRestart maps autorestart, exitcodes, startsecs and startretries.
func supervisordRestart(c *conf, s *service, sec *supervisordSection, get getter) error {
	mode, _, err := get("autorestart")
	if err != nil {
		return err
	}
	codes := []int{0}
	if v, ok, err := get("exitcodes"); err != nil {
		return err
	} else if ok {
		codes = codes[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 || n > 255 {
				return fmt.Errorf("%s: [%s] exitcodes: %q is not an exit code", sec.file, sec.name, f)
			}
			codes = append(codes, n)
		}
	}
	switch strings.ToLower(cmp.Or(mode, "unexpected")) {
	case "unexpected":
		s.set("restart.policy", "on-failure")
		s.set("restart.success_codes", ints(codes))
	case "true", "yes", "on", "1":
		s.set("restart.policy", "always")
		if _, ok := sec.get("exitcodes"); ok {
			c.dropped(s, "exitcodes", "with autorestart=true the exit code does not decide a restart, and respawn does not mark exits expected or not")
		}
	case "false", "no", "off", "0":
		n := s.set("restart.policy", "never")
		if _, ok := sec.get("exitcodes"); ok {
			c.dropped(s, "exitcodes", "with autorestart=false the exit code does not decide a restart, and respawn does not mark exits expected or not")
		}
		c.changed(s, n, "autorestart=false", "supervisord still retries a start that ends within startsecs (startretries times); respawn never restarts it")
		return nil
	default:
		return fmt.Errorf("%s: [%s] autorestart: %q is not true, false or unexpected", sec.file, sec.name, mode)
	}
	startsecs, err := supervisordInt(sec, "startsecs", 1)
	if err != nil {
		return err
	}
	retries, err := supervisordInt(sec, "startretries", 3)
	if err != nil {
		return err
	}
	if startsecs == 0 {
		// Every start counts as a success: supervisord never gives up.
		n := s.set("restart.limit.burst", "0")
		c.changed(s, n, "startsecs=0", "supervisord restarts at once and forever; respawn never gives up either, but waits its backoff (100ms doubling to 30s) between restarts")
		return nil
	}
	// supervisord waits 1 s, 2 s, 3 s … after each start that ended within
	// startsecs, and gives up (FATAL, until a person acts) after
	// startretries of them in a row.
	maxDelay := time.Duration(max(retries, 1)) * time.Second
	n := s.set("restart.backoff.initial", "1s")
	s.set("restart.backoff.max", dur(maxDelay))
	c.changed(s, n, "restart delay", "supervisord waits 1s, 2s, 3s … between failed starts and restarts at once after a run longer than startsecs; respawn doubles from 1s and starts again from 1s")
	s.set("restart.reset_after", dur(time.Duration(startsecs)*time.Second))
	window := time.Duration(startsecs*(retries+1)) * time.Second
	for i, d := 0, time.Second; i < retries; i, d = i+1, min(d*2, maxDelay) {
		window += d
	}
	n = s.set("restart.limit.burst", strconv.Itoa(retries+1))
	s.set("restart.limit.window", dur(window))
	c.changed(s, n, fmt.Sprintf("startretries=%d startsecs=%d", retries, startsecs),
		"supervisord retries a start that ends within startsecs whatever its exit code, and gives up after startretries such starts in a row; respawn restarts by its policy, and gives up after more starts than burst within window, however long each ran")
	s.set("restart.cooldown", "0")
	return nil
}

// supervisordStop maps stopsignal, stopwaitsecs, stopasgroup and killasgroup.
func supervisordStop(c *conf, s *service, sec *supervisordSection, get getter) error {
	if v, ok, err := get("stopsignal"); err != nil {
		return err
	} else if ok {
		s.set("stop.signal", strings.ToUpper(strings.TrimPrefix(strings.ToUpper(v), "SIG")))
	}
	if _, ok := sec.get("stopwaitsecs"); ok {
		n, err := supervisordInt(sec, "stopwaitsecs", 10)
		if err != nil {
			return err
		}
		s.set("stop.timeout", dur(time.Duration(n)*time.Second))
	}
	for _, k := range []string{"stopasgroup", "killasgroup"} {
		v, _, err := get(k)
		if err != nil {
			return err
		}
		b, err := supervisordBool(cmp.Or(v, "false"))
		if err != nil {
			return fmt.Errorf("%s: [%s] %s: %w", sec.file, sec.name, k, err)
		}
		if !b {
			c.changed(s, nil, k+"=false", "respawn sends the stop signal and the final KILL to the whole process group (or cgroup), not to the main process only")
		}
	}
	return nil
}

// supervisordLogs maps the stdout log's rotation and names what respawn's
// single log per service cannot keep.
func supervisordLogs(c *conf, s *service, sec *supervisordSection, get getter) error {
	for _, k := range []string{"stdout_logfile", "stderr_logfile"} {
		v, ok, err := get(k)
		if err != nil {
			return err
		}
		switch {
		case !ok || strings.EqualFold(v, "AUTO"):
		case strings.EqualFold(v, "NONE"):
			c.dropped(s, k+"=NONE", "respawn always keeps a service's output, in <state_dir>/logs/"+s.name+".log")
		default:
			c.dropped(s, k+"="+v, "respawn writes a service's output to <state_dir>/logs/"+s.name+".log")
		}
	}
	redirect, _, err := get("redirect_stderr")
	if err != nil {
		return err
	}
	if b, err := supervisordBool(cmp.Or(redirect, "false")); err != nil {
		return fmt.Errorf("%s: [%s] redirect_stderr: %w", sec.file, sec.name, err)
	} else if !b && sec.has("redirect_stderr") {
		c.changed(s, nil, "redirect_stderr=false", "respawn writes stdout and stderr into one log, each line marked with its stream")
	}
	if v, ok, err := get("stdout_logfile_maxbytes"); err != nil {
		return err
	} else if ok {
		size, err := supervisordBytes(v)
		if err != nil {
			return fmt.Errorf("%s: [%s] stdout_logfile_maxbytes: %w", sec.file, sec.name, err)
		}
		if size == "0" {
			c.dropped(s, "stdout_logfile_maxbytes=0", "respawn always rotates its logs, at 10MB unless logs.max_size says otherwise")
		} else {
			s.set("logs.max_size", size)
		}
	}
	if v, ok, err := get("stdout_logfile_backups"); err != nil {
		return err
	} else if ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: [%s] stdout_logfile_backups: %q is not a count", sec.file, sec.name, v)
		}
		node := s.set("logs.max_files", strconv.Itoa(max(n, 1)))
		if n == 0 {
			c.changed(s, node, "stdout_logfile_backups=0", "respawn keeps at least one rotated file")
		}
	}
	for _, k := range []string{"stderr_logfile_maxbytes", "stderr_logfile_backups"} {
		if v, ok := sec.get(k); ok {
			c.dropped(s, k+"="+v, "respawn keeps stderr in the same log as stdout, rotated by logs.max_size and logs.max_files")
		}
	}
	return nil
}

var envName = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) }}

// supervisordEnv parses an environment value: KEY=value pairs separated by
// commas, a value optionally in '…' or "…" quotes, which may hold commas.
// Values come back rendered for respawn.
func supervisordEnv(sec *supervisordSection, vars map[string]any) ([][2]string, error) {
	raw, _ := sec.get("environment")
	x, err := expand(raw, vars)
	if err != nil {
		return nil, fmt.Errorf("%s: [%s] environment: %w", sec.file, sec.name, err)
	}
	var out [][2]string
	rest := strings.TrimSpace(x)
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%s: [%s] environment: expected KEY=value at %q", sec.file, sec.name, rest)
		}
		k := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t\n")
		var v string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			end := strings.IndexByte(rest[1:], rest[0])
			if end < 0 {
				return nil, fmt.Errorf("%s: [%s] environment: no closing quote in %q", sec.file, sec.name, rest)
			}
			v, rest = rest[1:1+end], rest[end+2:]
			comma := strings.IndexByte(rest, ',')
			if comma < 0 {
				comma = len(rest)
			}
			rest = rest[comma:]
		} else {
			comma := strings.IndexByte(rest, ',')
			if comma < 0 {
				comma = len(rest)
			}
			v, rest = strings.TrimSpace(rest[:comma]), rest[comma:]
		}
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
		out = append(out, [2]string{k, render(v)})
	}
	return out, nil
}

func supervisordInt(s *supervisordSection, k string, def int) (int, error) {
	v, ok := s.get(k)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: [%s] %s: %q is not a whole number", s.file, s.name, k, v)
	}
	return n, nil
}

func supervisordBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

var supervisordSize = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`(?i)^([0-9]+)\s*(KB|MB|GB)?$`) }}

// supervisordBytes reads a supervisord size, whose KB is 1024 bytes, and
// writes it in respawn's units.
func supervisordBytes(v string) (string, error) {
	m := supervisordSize.Get().FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "", fmt.Errorf("%q is not a size such as 50MB", v)
	}
	if m[1] == "0" || m[2] == "" {
		return m[1], nil
	}
	return m[1] + map[string]string{"KB": "KiB", "MB": "MiB", "GB": "GiB"}[strings.ToUpper(m[2])], nil
}

// hostname is %(host_node_name)s, this host's name.
func hostname() string {
	h, _ := os.Hostname()
	return h
}
