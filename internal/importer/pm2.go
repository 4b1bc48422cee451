package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/respawn-sh/respawn/internal/lazy"
)

// pm2App is one entry of an ecosystem file's apps.
type pm2App struct {
	Name            string          `json:"name"`
	Script          string          `json:"script"`
	Args            json.RawMessage `json:"args"`
	Interpreter     string          `json:"interpreter"`
	InterpreterArgs json.RawMessage `json:"interpreter_args"`
	NodeArgs        json.RawMessage `json:"node_args"`
	Cwd             string          `json:"cwd"`
	Env             map[string]any  `json:"env"`
	Instances       json.RawMessage `json:"instances"`
	Autorestart     *bool           `json:"autorestart"`
	Autostart       *bool           `json:"autostart"`
	MaxRestarts     *int            `json:"max_restarts"`
	MinUptime       json.RawMessage `json:"min_uptime"`
	RestartDelay    *int            `json:"restart_delay"`
	ExpBackoff      *int            `json:"exp_backoff_restart_delay"`
	MaxMemory       json.RawMessage `json:"max_memory_restart"`
	KillTimeout     *int            `json:"kill_timeout"`
	StopExitCodes   []int           `json:"stop_exit_codes"`
	User            string          `json:"user"`
	UID             json.RawMessage `json:"uid"`
	GID             json.RawMessage `json:"gid"`
	Namespace       string          `json:"namespace"`
}

// pm2Mapped are the app keys this import carries over.
var pm2Mapped = []string{"name", "script", "args", "interpreter", "interpreter_args", "node_args", "cwd", "env",
	"instances", "autorestart", "autostart", "max_restarts", "min_uptime", "restart_delay", "exp_backoff_restart_delay",
	"max_memory_restart", "kill_timeout", "stop_exit_codes", "user", "uid", "gid", "namespace", "exec_mode"}

// pm2Unmapped says why app keys pm2 knows are not carried over.
var pm2Unmapped = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{
		"cron_restart":          "respawn schedules oneshots only; run `respawn restart NAME` from a kind: oneshot service with a schedule",
		"watch":                 "respawn does not watch files",
		"ignore_watch":          "respawn does not watch files",
		"watch_delay":           "respawn does not watch files",
		"watch_options":         "respawn does not watch files",
		"out_file":              "respawn writes a service's output to <state_dir>/logs/NAME.log",
		"error_file":            "respawn writes a service's output to <state_dir>/logs/NAME.log",
		"log_file":              "respawn writes a service's output to <state_dir>/logs/NAME.log",
		"combine_logs":          "respawn keeps one log per service, stdout and stderr in it",
		"merge_logs":            "respawn keeps one log per instance",
		"log_date_format":       "`respawn logs -t` shows when each line was captured",
		"log_type":              "`respawn logs -o json` gives JSON lines",
		"time":                  "`respawn logs -t` shows when each line was captured",
		"pid_file":              "respawn keeps its services' pids itself (`respawn status`)",
		"listen_timeout":        "respawn's readiness comes from a ready: probe",
		"wait_ready":            "pm2's ready message is Node IPC; respawn's is sd_notify (ready: {notify: true}) or a probe",
		"shutdown_with_message": "respawn stops with a signal or stop.command",
		"treekill":              "respawn always stops the whole process group (or cgroup)",
		"source_map_support":    "a Node option pm2 sets; pass --enable-source-maps in node_args",
		"instance_var":          "respawn numbers instances in RESPAWN_INSTANCE, from 1",
		"increment_var":         "respawn does not count a variable up per instance",
		"filter_env":            "respawn passes its environment to every service",
		"vizion":                "respawn keeps no version-control metadata",
		"post_update":           "respawn runs no commands after an update",
		"force":                 "respawn names each service once",
		"append_env_to_name":    "respawn names each service once",
		"pmx":                   "respawn has no pm2.io monitoring",
		"automation":            "respawn has no pm2.io monitoring",
		"exec_interpreter":      "the old name of interpreter; write interpreter",
		"port":                  "pm2 sets PORT from it; write PORT in env",
	}
}}

// pm2Interpreters are the programs pm2 runs a script with, by its extension.
var pm2Interpreters = &lazy.Value[map[string]string]{Build: func() map[string]string {
	return map[string]string{".js": "node", ".cjs": "node", ".mjs": "node", ".py": "python",
		".sh": "bash", ".rb": "ruby", ".php": "php", ".pl": "perl", ".coffee": "coffee", ".ts": "ts-node"}
}}

// PM2 converts a pm2 ecosystem file: JSON, or JavaScript read by running node.
func PM2(path string) (*Result, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	data, err := pm2Read(path)
	if err != nil {
		return nil, err
	}
	var apps []map[string]json.RawMessage
	var eco struct {
		Apps []map[string]json.RawMessage `json:"apps"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		err = json.Unmarshal(data, &apps)
	} else if err = json.Unmarshal(data, &eco); err == nil {
		apps = eco.Apps
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(apps) == 0 {
		return nil, fmt.Errorf("%s: no apps", path)
	}
	c := newConf("pm2")
	dir := filepath.Dir(path)
	for i, raw := range apps {
		if err := pm2Service(c, raw, dir); err != nil {
			return nil, fmt.Errorf("%s: apps[%d]: %w", path, i, err)
		}
	}
	return c.result(path), nil
}

// pm2Read gives the ecosystem as JSON: a .js file is what node makes of it.
func pm2Read(path string) ([]byte, error) {
	switch filepath.Ext(path) {
	case ".js", ".cjs", ".mjs":
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("%s is JavaScript, which only node can read, and node is not on PATH: install node, or write the ecosystem as JSON", path)
		}
		var stdout, stderr cappedBuffer
		cmd := exec.Command(node, "-e", "process.stdout.write(JSON.stringify(require(process.argv[1])))", path)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			if stdout.over {
				return nil, fmt.Errorf("node printed more than %d MiB for %s: not an ecosystem", maxSource>>20, path)
			}
			return nil, fmt.Errorf("node could not read %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
		}
		return stdout.Bytes(), nil
	}
	data, err := readSource(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func pm2Service(c *conf, raw map[string]json.RawMessage, dir string) error {
	var a pm2App
	b, _ := json.Marshal(raw) // re-encoding what was just decoded
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if a.Script == "" {
		return errors.New("no script")
	}
	name := a.Name
	if name == "" {
		// pm2 names an app after its script.
		name = strings.TrimSuffix(filepath.Base(a.Script), filepath.Ext(a.Script))
	}
	s, err := c.addNamed(name)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		switch why, known := pm2Unmapped.Get()[k]; {
		case strings.HasPrefix(k, "env_"):
			c.dropped(s, k, "respawn has no per-environment env; this one is pm2 start --env "+strings.TrimPrefix(k, "env_")+": make it a config of its own")
		case known:
			c.dropped(s, k, why)
		case !known && !slices.Contains(pm2Mapped, k):
			c.dropped(s, k, "not a key this import knows")
		}
	}
	command, err := pm2Command(a)
	if err != nil {
		return err
	}
	s.set("command", list(command))
	cwd := dir
	if a.Cwd != "" {
		cwd = a.Cwd
		if !filepath.IsAbs(cwd) {
			cwd = filepath.Join(dir, cwd)
		}
	}
	s.set("cwd", str(literal(cwd)))
	if user, err := pm2User(a); err != nil {
		return err
	} else if user != "" {
		s.set("user", str(literal(user)))
	}
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		if !envName.Get().MatchString(k) {
			c.dropped(s, "env."+k, "not a valid environment variable name for respawn")
			continue
		}
		v := a.Env[k]
		text, ok := v.(string)
		if !ok {
			j, _ := json.Marshal(v) // a number, boolean or null from JSON
			text = string(j)
		}
		s.set("env."+k, str(literal(text)))
	}
	if a.Namespace != "" && a.Namespace != "default" {
		if g := serviceName(a.Namespace); g != "" {
			s.set("group", g)
		}
	}
	if a.Autostart != nil && !*a.Autostart {
		s.set("autostart", "false")
	}
	if err := pm2Instances(c, s, a, raw); err != nil {
		return err
	}
	if err := pm2Restart(c, s, a); err != nil {
		return err
	}
	if a.KillTimeout != nil {
		s.set("stop.timeout", dur(time.Duration(*a.KillTimeout)*time.Millisecond))
	}
	if len(a.MaxMemory) > 0 {
		size, err := pm2Size(a.MaxMemory)
		if err != nil {
			return fmt.Errorf("max_memory_restart: %w", err)
		}
		s.set("health.memory_max", size)
	}
	return nil
}

// pm2Command is what pm2 runs: the interpreter (named, or pm2's for the
// script's extension; "none" for none) and its arguments, the script, its args.
func pm2Command(a pm2App) ([]string, error) {
	var cmd []string
	interp := a.Interpreter
	if interp == "" {
		interp = pm2Interpreters.Get()[filepath.Ext(a.Script)]
	}
	if interp != "" && interp != "none" {
		cmd = append(cmd, interp)
		for _, k := range []json.RawMessage{a.InterpreterArgs, a.NodeArgs} {
			w, err := pm2Words(k)
			if err != nil {
				return nil, fmt.Errorf("interpreter_args: %w", err)
			}
			cmd = append(cmd, w...)
		}
	}
	cmd = append(cmd, a.Script)
	w, err := pm2Words(a.Args)
	if err != nil {
		return nil, fmt.Errorf("args: %w", err)
	}
	cmd = append(cmd, w...)
	for i := range cmd {
		cmd[i] = literal(cmd[i])
	}
	return cmd, nil
}

// pm2Words reads args: a list as it is, a string split into words.
func pm2Words(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var line string
	if err := json.Unmarshal(raw, &line); err != nil {
		return nil, fmt.Errorf("%s is neither a string nor a list of strings", raw)
	}
	return splitWords(line)
}

// pm2User is user, or uid with gid, as USER[:GROUP].
func pm2User(a pm2App) (string, error) {
	scalar := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return strings.TrimSpace(string(raw))
	}
	user := a.User
	if len(a.UID) > 0 {
		user = scalar(a.UID)
	}
	if len(a.GID) > 0 {
		if user == "" {
			return "", errors.New("gid without uid or user: respawn sets a group with a user only")
		}
		user += ":" + scalar(a.GID)
	}
	return user, nil
}

// pm2Instances maps instances: a number, or 0, -1 and "max" for one per CPU.
func pm2Instances(c *conf, s *service, a pm2App, raw map[string]json.RawMessage) error {
	if len(a.Instances) == 0 {
		return nil
	}
	n := 0
	var text string
	if json.Unmarshal(a.Instances, &text) == nil {
		if text != "max" {
			var err error
			if n, err = strconv.Atoi(text); err != nil {
				return fmt.Errorf("instances: %q is not a number or max", text)
			}
		}
	} else if err := json.Unmarshal(a.Instances, &n); err != nil {
		return fmt.Errorf("instances: %s is not a number or max", a.Instances)
	}
	perCPU := text == "max" || n <= 0
	if perCPU {
		n = max(runtime.NumCPU()+min(n, 0), 1)
	}
	if n == 1 && !perCPU {
		return nil
	}
	node := s.set("replicas", strconv.Itoa(n))
	why := fmt.Sprintf("instances are %s.1 … %s.%d with RESPAWN_INSTANCE from 1; pm2 counts NODE_APP_INSTANCE from 0", s.name, s.name, n)
	if perCPU {
		why += fmt.Sprintf("; one per CPU was %d where the import ran", n)
	}
	var mode string
	if json.Unmarshal(raw["exec_mode"], &mode) == nil && strings.Contains(mode, "cluster") {
		why += "; pm2's cluster mode shares one port among the instances, respawn's instances are processes of their own and need a port each"
	}
	c.changed(s, node, "instances", why)
	return nil
}

// pm2Restart maps autorestart, stop_exit_codes, max_restarts, min_uptime
// and the restart delays.
func pm2Restart(c *conf, s *service, a pm2App) error {
	switch {
	case a.Autorestart != nil && !*a.Autorestart:
		s.set("restart.policy", "never")
		return nil
	case len(a.StopExitCodes) > 0:
		// pm2 does not restart an app that exits with one of these.
		s.set("restart.policy", "on-failure")
		s.set("restart.success_codes", ints(a.StopExitCodes))
	default:
		s.set("restart.policy", "always")
	}
	switch {
	case a.ExpBackoff != nil:
		// pm2 multiplies the delay by 1.5 up to 15 s, and starts over after
		// 30 s of uptime: respawn's reset_after default.
		s.set("restart.backoff.initial", dur(time.Duration(*a.ExpBackoff)*time.Millisecond))
		s.set("restart.backoff.max", dur(max(15*time.Second, time.Duration(*a.ExpBackoff)*time.Millisecond)))
		s.set("restart.backoff.factor", "1.5")
		s.set("restart.backoff.jitter", "0")
	default:
		// pm2 waits restart_delay (default 0) before each restart.
		delay := time.Duration(0)
		if a.RestartDelay != nil {
			delay = time.Duration(*a.RestartDelay) * time.Millisecond
		}
		s.set("restart.backoff.initial", dur(delay))
		s.set("restart.backoff.max", dur(delay))
		s.set("restart.backoff.factor", "1")
		s.set("restart.backoff.jitter", "0")
	}
	// pm2 gives up (errored) after max_restarts (default 16) restarts in a
	// row that each ran less than min_uptime (default 1 s).
	restarts := 16
	if a.MaxRestarts != nil {
		restarts = *a.MaxRestarts
	}
	uptime := time.Second
	if len(a.MinUptime) > 0 {
		var err error
		if uptime, err = pm2Duration(a.MinUptime); err != nil {
			return fmt.Errorf("min_uptime: %w", err)
		}
	}
	n := s.set("restart.limit.burst", strconv.Itoa(restarts+1))
	s.set("restart.limit.window", dur(max(time.Duration(restarts+1)*uptime, time.Second)))
	s.set("restart.cooldown", "0")
	c.changed(s, n, fmt.Sprintf("max_restarts=%d min_uptime=%s", restarts, uptime),
		"pm2 gives up after that many restarts in a row that each ran less than min_uptime; respawn gives up after more starts than burst within window, however long each ran")
	return nil
}

var pm2SizeRE = &lazy.Value[*regexp.Regexp]{Build: func() *regexp.Regexp { return regexp.MustCompile(`(?i)^([0-9]+)\s*([KMG])?B?$`) }}

// pm2Size reads max_memory_restart: bytes, or a number with K, M or G,
// which pm2 counts in 1024s.
func pm2Size(raw json.RawMessage) (string, error) {
	var text string
	if json.Unmarshal(raw, &text) != nil {
		text = string(raw)
	}
	m := pm2SizeRE.Get().FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return "", fmt.Errorf("%s is not a size such as 300M", raw)
	}
	if m[2] == "" {
		return m[1], nil
	}
	return m[1] + strings.ToUpper(m[2]) + "iB", nil
}

// pm2Duration reads min_uptime: milliseconds, or a string with a unit.
func pm2Duration(raw json.RawMessage) (time.Duration, error) {
	var ms int
	if json.Unmarshal(raw, &ms) == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return 0, fmt.Errorf("%s is not a duration", raw)
	}
	if n, err := strconv.Atoi(text); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", text)
	}
	return d, nil
}
