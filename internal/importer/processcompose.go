package importer

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/respawn-sh/respawn/internal/lazy"
)

type pcProcess struct {
	Command      string           `yaml:"command"`
	Entrypoint   []string         `yaml:"entrypoint"`
	WorkingDir   string           `yaml:"working_dir"`
	Environment  []string         `yaml:"environment"`
	DependsOn    map[string]pcDep `yaml:"depends_on"`
	Readiness    *pcProbe         `yaml:"readiness_probe"`
	Liveness     *pcProbe         `yaml:"liveness_probe"`
	Availability pcAvailability   `yaml:"availability"`
	Replicas     int              `yaml:"replicas"`
	IsDaemon     bool             `yaml:"is_daemon"`
	Shutdown     pcShutdown       `yaml:"shutdown"`
	Disabled     bool             `yaml:"disabled"`
	Namespace    string           `yaml:"namespace"`
	ReadyLogLine string           `yaml:"ready_log_line"`
}

type pcDep struct {
	Condition string `yaml:"condition"`
}

type pcAvailability struct {
	Restart     string `yaml:"restart"`
	Backoff     *int   `yaml:"backoff_seconds"`
	MaxRestarts int    `yaml:"max_restarts"`
	ExitOnEnd   bool   `yaml:"exit_on_end"`
}

type pcShutdown struct {
	Command    string `yaml:"command"`
	Signal     int    `yaml:"signal"`
	Timeout    *int   `yaml:"timeout_seconds"`
	ParentOnly bool   `yaml:"parent_only"`
}

type pcProbe struct {
	Exec *struct {
		Command    string `yaml:"command"`
		WorkingDir string `yaml:"working_dir"`
	} `yaml:"exec"`
	HTTPGet *struct {
		Host   string `yaml:"host"`
		Scheme string `yaml:"scheme"`
		Path   string `yaml:"path"`
		Port   string `yaml:"port"`
	} `yaml:"http_get"`
	InitialDelay     int `yaml:"initial_delay_seconds"`
	Period           int `yaml:"period_seconds"`
	Timeout          int `yaml:"timeout_seconds"`
	SuccessThreshold int `yaml:"success_threshold"`
	FailureThreshold int `yaml:"failure_threshold"`
}

// pcKeys are the keys this import reads, at each level; every other key
// of the file is named as not carried over.
var pcKeys = &lazy.Value[map[string][]string]{Build: func() map[string][]string {
	return map[string][]string{
		"":             {"version", "environment", "shell", "processes"},
		"shell":        {"shell_command", "shell_argument"},
		"process":      {"command", "entrypoint", "working_dir", "environment", "depends_on", "readiness_probe", "liveness_probe", "availability", "replicas", "is_daemon", "shutdown", "disabled", "namespace", "ready_log_line"},
		"availability": {"restart", "backoff_seconds", "max_restarts"},
		"shutdown":     {"command", "signal", "timeout_seconds", "parent_only"},
		"probe":        {"exec", "http_get", "period_seconds", "timeout_seconds", "failure_threshold", "initial_delay_seconds", "success_threshold"},
		"exec":         {"command"},
		"http_get":     {"host", "scheme", "path", "port"},
	}
}}

// pcUnmapped says why keys process-compose knows are not carried over.
var pcUnmapped = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{
		"log_location":           "respawn keeps each service's output in <state_dir>/logs/NAME.log",
		"log_configuration":      "respawn keeps each service's output in <state_dir>/logs/NAME.log, rotated by logs.max_size and logs.max_files",
		"log_level":              "respawn's own log level is supervisor.log.level",
		"log_length":             "respawn's logs are files: `respawn logs -n N` shows the last N lines",
		"is_strict":              "respawn always refuses unknown keys",
		"vars":                   "respawn does not expand process-compose's {{.VAR}} templates; the text is kept as written",
		"env_cmds":               "respawn does not run commands to set variables",
		"disable_env_expansion":  "respawn expands ${VAR} in every value; write $${VAR} for a literal",
		"ordered_shutdown":       "respawn always stops dependents before what they depend on",
		"is_tui_disabled":        "respawn's foreground up prints output; `respawn top` is its live view",
		"extends":                "respawn reads one file",
		"description":            "respawn has no description key; keep it as a YAML comment",
		"is_tty":                 "respawn gives services no terminal",
		"is_foreground":          "respawn runs no service in the foreground of its terminal",
		"is_interactive":         "respawn gives services no terminal",
		"is_elevated":            "respawn runs services as its own user, or as user:",
		"launch_timeout_seconds": "only for is_daemon, which respawn does not track",
		"disable_ansi_colors":    "respawn keeps output as the service prints it",
		"exit_on_end":            "respawn keeps running when one service ends",
		"exit_on_skipped":        "respawn keeps running when a service is not started",
		"initial_delay_seconds":  "respawn probes from the start, every interval",
		"success_threshold":      "one passing probe counts for respawn",
		"parent_only":            "respawn sends the stop signal to the whole process group (or cgroup)",
		"working_dir":            "respawn runs a probe's exec in the service's cwd",
		"ready_log_line":         "used only with a process_log_ready dependency",
	}
}}

// ProcessCompose converts a process-compose.yaml.
func ProcessCompose(path string) (*Result, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	data, err := readSource(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a mapping with processes:", path)
	}
	top := root.Content[0]
	c := newConf("process-compose")
	var file struct {
		Environment []string `yaml:"environment"`
		Shell       struct {
			Command  string `yaml:"shell_command"`
			Argument string `yaml:"shell_argument"`
		} `yaml:"shell"`
	}
	if err := top.Decode(&file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range unknownKeys(top, "") {
		c.droppedTop(k, pcWhy(k))
	}
	if sh := mapValue(top, "shell"); sh != nil {
		for _, k := range unknownKeys(sh, "shell") {
			c.droppedTop("shell."+k, pcWhy(k))
		}
	}
	shell := []string{cmp.Or(file.Shell.Command, "bash"), cmp.Or(file.Shell.Argument, "-c")}
	if len(file.Environment) > 0 {
		c.defaults = &service{origin: "environment"}
		if err := pcEnv(c, c.defaults, file.Environment); err != nil {
			return nil, fmt.Errorf("%s: environment: %w", path, err)
		}
	}
	procs := mapValue(top, "processes")
	if procs == nil || procs.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: no processes: mapping", path)
	}
	// A process others wait to complete must be a oneshot for respawn.
	completes := map[string]string{}
	logReady := map[string]bool{}
	decoded := map[string]*pcProcess{}
	for i := 0; i+1 < len(procs.Content); i += 2 {
		name, node := procs.Content[i].Value, procs.Content[i+1]
		p := &pcProcess{}
		if err := node.Decode(p); err != nil {
			return nil, fmt.Errorf("%s: processes.%s: %w", path, name, err)
		}
		decoded[name] = p
		for dep, d := range p.DependsOn {
			switch d.Condition {
			case "process_completed_successfully", "process_completed":
				completes[dep] = name
			case "process_log_ready":
				logReady[dep] = true
			}
		}
	}
	for i := 0; i+1 < len(procs.Content); i += 2 {
		name, node := procs.Content[i].Value, procs.Content[i+1]
		if err := pcService(c, name, node, decoded, shell, completes, logReady); err != nil {
			return nil, fmt.Errorf("%s: processes.%s: %w", path, name, err)
		}
	}
	return c.result(path), nil
}

func pcService(c *conf, name string, node *yaml.Node, all map[string]*pcProcess, shell []string, completes map[string]string, logReady map[string]bool) error {
	p := all[name]
	s, err := c.addNamed(name)
	if err != nil {
		return err
	}
	for _, k := range unknownKeys(node, "process") {
		c.dropped(s, k, pcWhy(k))
	}
	for _, sub := range []string{"availability", "shutdown"} {
		if n := mapValue(node, sub); n != nil {
			for _, k := range unknownKeys(n, sub) {
				c.dropped(s, sub+"."+k, pcWhy(k))
			}
		}
	}
	switch {
	case len(p.Entrypoint) > 0:
		s.set("command", list(p.Entrypoint))
	case p.Command != "":
		// process-compose runs command with its shell.
		s.set("command", list(append(slices.Clone(shell), p.Command)))
	default:
		return fmt.Errorf("no command or entrypoint")
	}
	if p.WorkingDir != "" {
		s.set("cwd", str(p.WorkingDir))
	}
	if err := pcEnv(c, s, p.Environment); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	if p.Namespace != "" && p.Namespace != "default" {
		if g := serviceName(p.Namespace); g != "" {
			s.set("group", g)
		}
	}
	if p.Disabled {
		s.set("autostart", "false")
	}
	if p.Replicas > 1 {
		n := s.set("replicas", strconv.Itoa(p.Replicas))
		c.changed(s, n, "replicas", fmt.Sprintf("instances are %s.1 … %s.%d with RESPAWN_INSTANCE from 1; process-compose names them %s-0 … and counts PC_REPLICA_NUM from 0", s.name, s.name, p.Replicas, name))
	}
	if waiter, ok := completes[name]; ok || p.IsDaemon {
		k := s.set("kind", "oneshot")
		if p.IsDaemon {
			// A oneshot's leftovers are stopped when it exits, the daemon
			// too: written stopped, so that nothing half works.
			s.set("autostart", "false")
			c.changed(s, k, "is_daemon", "not carried over: respawn stops what a launcher leaves behind when it exits; write it as kind: forking with the daemon's pidfile (autostart: false until then)")
		} else {
			c.changed(s, k, "kind", waiter+" waits for it to complete, which respawn allows of a oneshot only")
		}
	}
	if err := pcDepends(c, s, p, all); err != nil {
		return err
	}
	pcRestart(c, s, p)
	if p.Shutdown.Command != "" {
		s.set("stop.command", list(append(slices.Clone(shell), p.Shutdown.Command)))
	} else if p.Shutdown.Signal != 0 {
		s.set("stop.signal", strconv.Itoa(p.Shutdown.Signal))
	}
	if p.Shutdown.Timeout != nil {
		s.set("stop.timeout", dur(time.Duration(*p.Shutdown.Timeout)*time.Second))
	}
	if p.Shutdown.Command != "" && p.Shutdown.Signal != 0 {
		c.dropped(s, "shutdown.signal", "respawn runs stop.command instead of sending a signal, not both")
	}
	if p.Shutdown.ParentOnly {
		c.dropped(s, "shutdown.parent_only", pcUnmapped.Get()["parent_only"])
	}
	if err := pcProbeOf(c, s, node, "readiness_probe", "ready", p.Readiness, shell); err != nil {
		return err
	}
	if p.Liveness != nil && s.isOneshot() {
		c.dropped(s, "liveness_probe", "respawn checks the liveness of long-running services only, and this one is a oneshot")
	} else if err := pcProbeOf(c, s, node, "liveness_probe", "health", p.Liveness, shell); err != nil {
		return err
	}
	if logReady[name] && p.Readiness == nil && p.ReadyLogLine != "" {
		s.set("ready.log", str(regexp.QuoteMeta(p.ReadyLogLine)))
	} else if p.ReadyLogLine != "" {
		c.dropped(s, "ready_log_line", pcUnmapped.Get()["ready_log_line"]+", and only when there is no readiness_probe")
	}
	return nil
}

func (s *service) isOneshot() bool {
	for _, n := range s.root.kids {
		if n.key == "kind" {
			return n.value == "oneshot"
		}
	}
	return false
}

// pcDepends maps depends_on, in the order of the names.
func pcDepends(c *conf, s *service, p *pcProcess, all map[string]*pcProcess) error {
	for _, dep := range slices.Sorted(maps.Keys(p.DependsOn)) {
		if _, ok := all[dep]; !ok {
			return fmt.Errorf("depends_on: no process %q", dep)
		}
		target := "depends_on." + serviceName(dep)
		switch cond := p.DependsOn[dep].Condition; cond {
		case "", "process_started":
			s.set(target, "started")
		case "process_healthy", "process_log_ready":
			s.set(target, "ready")
		case "process_completed_successfully":
			s.set(target, "completed")
		case "process_completed":
			n := s.set(target, "completed")
			c.changed(s, n, "depends_on."+dep+": process_completed", "respawn waits for it to complete successfully; a failure keeps this service waiting")
		default:
			return fmt.Errorf("depends_on.%s: unknown condition %q", dep, cond)
		}
	}
	return nil
}

// pcRestart maps availability: process-compose waits backoff_seconds before
// each restart, the same every time, and stops after max_restarts.
func pcRestart(c *conf, s *service, p *pcProcess) {
	a := p.Availability
	switch a.Restart {
	case "", "no":
		s.set("restart.policy", "never")
		return
	case "always":
		s.set("restart.policy", "always")
	case "on_failure":
		s.set("restart.policy", "on-failure")
	case "exit_on_failure":
		n := s.set("restart.policy", "never")
		c.changed(s, n, "availability.restart: exit_on_failure", "respawn does not stop everything when one service fails; it leaves this one stopped")
		return
	default:
		n := s.set("restart.policy", "never")
		c.changed(s, n, "availability.restart: "+a.Restart, "not a policy process-compose knows; written as never")
		return
	}
	backoff := time.Second
	if a.Backoff != nil {
		backoff = time.Duration(*a.Backoff) * time.Second
	}
	s.set("restart.backoff.initial", dur(backoff))
	s.set("restart.backoff.max", dur(backoff))
	s.set("restart.backoff.factor", "1")
	s.set("restart.backoff.jitter", "0")
	if a.MaxRestarts == 0 {
		s.set("restart.limit.burst", "0")
		return
	}
	n := s.set("restart.limit.burst", strconv.Itoa(a.MaxRestarts+1))
	s.set("restart.limit.window", "24h")
	s.set("restart.cooldown", "0")
	c.changed(s, n, fmt.Sprintf("availability.max_restarts: %d", a.MaxRestarts), "respawn counts starts within a window (24h here), process-compose since it started")
}

// pcProbeOf maps a readiness or liveness probe to respawn's ready or health.
func pcProbeOf(c *conf, s *service, node *yaml.Node, key, to string, p *pcProbe, shell []string) error {
	if p == nil {
		return nil
	}
	pn := mapValue(node, key)
	for _, k := range unknownKeys(pn, "probe") {
		c.dropped(s, key+"."+k, pcWhy(k))
	}
	switch {
	case p.Exec != nil:
		for _, k := range unknownKeys(mapValue(pn, "exec"), "exec") {
			c.dropped(s, key+".exec."+k, pcWhy(k))
		}
		s.set(to+".exec", list(append(slices.Clone(shell), p.Exec.Command)))
	case p.HTTPGet != nil:
		for _, k := range unknownKeys(mapValue(pn, "http_get"), "http_get") {
			c.dropped(s, key+".http_get."+k, pcWhy(k))
		}
		h := p.HTTPGet
		if h.Port == "" {
			return fmt.Errorf("%s.http_get: no port", key)
		}
		path := cmp.Or(h.Path, "/")
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		s.set(to+".http", str(fmt.Sprintf("%s://%s:%s%s", cmp.Or(h.Scheme, "http"), cmp.Or(h.Host, "127.0.0.1"), h.Port, path)))
	default:
		return fmt.Errorf("%s: needs exec or http_get", key)
	}
	// process-compose's defaults: every 10 s, 1 s to answer, 3 failures.
	s.set(to+".interval", dur(time.Duration(cmp.Or(p.Period, 10))*time.Second))
	s.set(to+".timeout", dur(time.Duration(cmp.Or(p.Timeout, 1))*time.Second))
	if to == "health" {
		s.set("health.failures", strconv.Itoa(cmp.Or(p.FailureThreshold, 3)))
	} else {
		// process-compose keeps probing a process that is not ready yet;
		// respawn gives it a deadline, made as long as a day here.
		n := s.set("ready.deadline", "24h")
		if p.FailureThreshold != 0 {
			c.changed(s, n, key+".failure_threshold", "respawn waits for readiness until the deadline, and then restarts the service")
		}
	}
	if p.InitialDelay != 0 {
		c.dropped(s, key+".initial_delay_seconds", pcUnmapped.Get()["initial_delay_seconds"])
	}
	if p.SuccessThreshold > 1 {
		c.dropped(s, key+".success_threshold", pcUnmapped.Get()["success_threshold"])
	}
	return nil
}

// pcEnv adds process-compose's KEY=VALUE list to s's env.
func pcEnv(c *conf, s *service, env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		if !envName.Get().MatchString(k) {
			c.dropped(s, "environment "+k, "not a valid environment variable name for respawn")
			continue
		}
		s.set("env."+k, str(v))
	}
	return nil
}

func pcWhy(k string) string {
	if why := pcUnmapped.Get()[k]; why != "" {
		return why
	}
	return "not a key this import knows"
}

// unknownKeys lists the keys of a mapping that pcKeys[level] does not name.
func unknownKeys(n *yaml.Node, level string) []string {
	var out []string
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(pcKeys.Get()[level], k) {
			out = append(out, k)
		}
	}
	return out
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
