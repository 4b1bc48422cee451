package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/respawn-sh/respawn/internal/lazy"
)

// ProcfileOptions are foreman's and honcho's command-line settings that a
// Procfile needs to mean something.
type ProcfileOptions struct {
	// PortBase is the first process type's PORT; 0 takes .env's PORT, else 5000.
	PortBase int
	// Formation is foreman's -m: "web=2,worker=1", "all=2"; "" runs one of each.
	Formation string
	// OutDir is the directory the config will be written to; paths in it are
	// written relative to it, or absolute when OutDir is "" (stdout).
	OutDir string
}

// procfileLine is foreman's and honcho's: a name, a colon, a command.
var procfileLine = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`) }}

// Procfile converts a Procfile, with the .env beside it, as foreman and
// honcho run them.
func Procfile(path string, opts ProcfileOptions) (*Result, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	data, err := readSource(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	c := newConf("Procfile")
	type proc struct{ name, command string }
	var procs []proc
	for i, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		m := procfileLine.Get().FindStringSubmatch(t)
		if m == nil {
			// foreman skips such a line without a word; say so.
			c.droppedTop(fmt.Sprintf("Procfile line %d %q", i+1, t), "not NAME: COMMAND, so foreman and honcho skip it")
			continue
		}
		for _, p := range procs {
			if p.name == m[1] {
				return nil, fmt.Errorf("%s:%d: process type %q is listed twice", path, i+1, m[1])
			}
		}
		procs = append(procs, proc{m[1], m[2]})
	}
	if len(procs) == 0 {
		return nil, fmt.Errorf("%s: no NAME: COMMAND line", path)
	}
	env, err := procfileEnv(c, filepath.Join(dir, ".env"), opts.OutDir)
	if err != nil {
		return nil, err
	}
	base := opts.PortBase
	if base == 0 {
		base = 5000
		if p, ok := env.vars["PORT"]; ok {
			if base, err = strconv.Atoi(p); err != nil {
				return nil, fmt.Errorf("%s: PORT=%q is not a port number", env.path, p)
			}
		}
	}
	if last := base + (len(procs)-1)*100 + 99; base < 1 || last > 65535 {
		return nil, fmt.Errorf("port base %d: the ports from it to %d are not all ports (1 to 65535)", base, last)
	}
	names := make([]string, len(procs))
	for i, p := range procs {
		names[i] = p.name
	}
	counts, err := procfileFormation(opts.Formation, names)
	if err != nil {
		return nil, err
	}
	c.header = append(c.header,
		"foreman and honcho stop every process when one exits; respawn restarts the one that exited (restart.policy: always)")
	c.note("Procfile: foreman and honcho stop every process when one exits; respawn restarts the one that exited (restart.policy: always)")
	c.defaults = &service{origin: "Procfile"}
	// foreman's -t: 5 s from SIGTERM to SIGKILL.
	c.defaults.set("stop.timeout", "5s")
	for i, p := range procs {
		name := serviceName(p.name)
		s := c.add(name, p.name)
		if name != p.name {
			c.changed(s, nil, "name", fmt.Sprintf("%q is not a valid service name: named %s", p.name, name))
		}
		n := counts[p.name]
		port := base + i*100
		// Both run the line with sh -c, where $PORT and the rest are the
		// shell's to expand.
		cmd := s.set("command", list([]string{"sh", "-c", literal(p.command)}))
		s.set("cwd", str(relTo(opts.OutDir, dir)))
		if env.file != "" {
			s.set("env_file", str(env.file))
		}
		for _, k := range env.inline {
			s.set("env."+k, str(literal(env.vars[k])))
		}
		switch {
		case n > 1:
			// PORT is base + the instance's number - 1, which only the
			// shell can add up: respawn's instances count from 1.
			s.set("command", list([]string{"sh", "-c", fmt.Sprintf("PORT=$((%d + RESPAWN_INSTANCE - 1)); export PORT; %s", port, literal(p.command))}))
			cmd.comments = append(cmd.comments, fmt.Sprintf("PORT is %d for %s.1, %d for %s.2 …, as foreman gives", port, name, port+1, name))
			s.set("env.PS", str(name+".${RESPAWN_INSTANCE}"))
			s.set("replicas", strconv.Itoa(n))
		default:
			s.set("env.PORT", str(strconv.Itoa(port)))
			s.set("env.PS", str(name+".1"))
		}
		if n == 0 {
			a := s.set("autostart", "false")
			c.changed(s, a, fmt.Sprintf("formation %s=0", p.name), "foreman would not run it; respawn has it, stopped, for `respawn start "+name+"`")
		}
	}
	return c.result(path), nil
}

// procfileFormation reads foreman's -m: NAME=N pairs, where all=N sets the
// count of every type not named.
func procfileFormation(spec string, names []string) (map[string]int, error) {
	counts := map[string]int{}
	all := 1
	given := map[string]int{}
	for _, pair := range strings.Split(spec, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > 1000 {
			return nil, fmt.Errorf("formation %q: expected NAME=N with N from 0 to 1000", pair)
		}
		if k == "all" {
			all = n
			continue
		}
		given[k] = n
	}
	for k := range given {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("formation names %q, which the Procfile does not list", k)
		}
	}
	for _, n := range names {
		counts[n] = all
	}
	maps.Copy(counts, given)
	return counts, nil
}

// procfileEnvFile is what the .env beside the Procfile gives: the path to
// write as env_file when respawn reads it as foreman does, else the
// variables (foreman's reading) to write as env.
type procfileEnvFile struct {
	path   string
	file   string
	vars   map[string]string
	inline []string // names to write in env, in file order
}

var (
	foremanEnvLine = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`^([A-Za-z_0-9]+)=(.*)$`) }}
	backslashed    = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`\\(.)`) }}
)

// procfileEnv reads .env as foreman does (KEY=value lines, other lines
// skipped; '…' taken literally, "…" with \n a newline and a backslash
// taking the next character literally) and checks that
// respawn's env_file reading gives the same.
func procfileEnv(c *conf, path, outDir string) (procfileEnvFile, error) {
	f := procfileEnvFile{path: path, vars: map[string]string{}}
	data, err := readSource(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read %s: %w", path, err)
	}
	var order []string
	same := true
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		m := foremanEnvLine.Get().FindStringSubmatch(line)
		if m == nil {
			// foreman skips it; respawn skips only blank lines and comments.
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				same = false
			}
			continue
		}
		v := m[2]
		switch {
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = backslashed.Get().ReplaceAllString(strings.ReplaceAll(v[1:len(v)-1], `\n`, "\n"), "$1")
			same = same && !strings.Contains(m[2], `\`)
		}
		// respawn trims spaces around the value; foreman keeps them.
		same = same && strings.TrimSpace(m[2]) == m[2]
		if _, seen := f.vars[m[1]]; !seen {
			order = append(order, m[1])
		}
		f.vars[m[1]] = v
	}
	if same {
		f.file = relTo(outDir, path)
		return f, nil
	}
	f.inline = order
	c.droppedTop(".env as a file", "respawn's env_file would read it otherwise than foreman does (escapes, spaces, or lines foreman skips): its variables, as foreman reads them, are written into each service's env")
	return f, nil
}

// relTo writes path relative to dir, or absolute when dir is "".
func relTo(dir, path string) string {
	if dir == "" {
		return path
	}
	if rel, err := filepath.Rel(dir, path); err == nil {
		return rel
	}
	return path
}
