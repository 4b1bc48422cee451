// Package cli implements the respawn command line: it parses flags and talks to the supervisor through the client.
package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/respawn-sh/respawn/internal/client"
	"github.com/respawn-sh/respawn/internal/config"
)

// Exit codes, as SPEC.md fixes them.
const (
	ExitOK         = 0
	ExitFailed     = 1
	ExitUsage      = 2
	ExitNotRunning = 3
)

// ExitError carries the exit code a command must end with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func exitErr(code int, err error) error { return &ExitError{Code: code, Err: err} }

// UpFunc runs the supervisor in the foreground for cfg until it is told to stop.
// It is injected by main so that this package never imports the supervisor.
type UpFunc func(cfg *config.Config, stderr io.Writer) error

// Env is what a command runs against; tests replace the streams.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	LookupEnv      func(string) (string, bool)
	Up             UpFunc
	// Core runs the supervisor core under a keeper (the hidden `__core`).
	Core UpFunc
	// Resume continues a keeper in a new image after an upgrade (the hidden
	// `__keeper-resume FILE`) and returns the exit code.
	Resume func(handover string, stderr io.Writer) int
	// KeeperCheck answers `__keeper-check [SAMPLE]`: an upgrade asks the new
	// binary to decode a sample handover before it execs it, and compares
	// the line it prints with what it expects.
	KeeperCheck func(sample string) (string, error)
}

// talkerNames are the commands that only talk to a supervisor, read files
// or print: none starts a process (in this process; a supervisor may).
var talkerNames = []string{"status", "start", "stop", "restart", "signal", "why", "events", "logs", "top", "reload", "down", "version"}

// talker returns the constructor of the command name when it is one of
// talkerNames, nil otherwise.
func talker(name string) func(g *globals) *cobra.Command {
	switch name {
	case "status":
		return (*globals).statusCmd
	case "start":
		return func(g *globals) *cobra.Command {
			return g.actionCmd("start", "start services and wait until they run", (*client.Client).Start)
		}
	case "stop":
		return func(g *globals) *cobra.Command {
			return g.actionCmd("stop", "stop services and wait until they are down", (*client.Client).Stop)
		}
	case "restart":
		return func(g *globals) *cobra.Command {
			return g.actionCmd("restart", "restart services and wait until they run again", (*client.Client).Restart)
		}
	case "signal":
		return (*globals).signalCmd
	case "why":
		return (*globals).whyCmd
	case "events":
		return (*globals).eventsCmd
	case "logs":
		return (*globals).logsCmd
	case "top":
		return (*globals).topCmd
	case "reload":
		return (*globals).reloadCmd
	case "down":
		return (*globals).downCmd
	case "version":
		return (*globals).versionCmd
	}
	return nil
}

// ForksNothing reports whether the command line args (without the program
// name) is one of the commands that start no process, named first. Those
// need not run beside the thread that forks (see proc.ForkOnMainThread).
func ForksNothing(args []string) bool {
	return len(args) > 0 && talker(args[0]) != nil
}

// Main runs the command line args (without the program name) and returns the exit code.
func Main(args []string, env Env) int {
	root := newRoot(&env, args)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(env.Stderr, "respawn:", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// Anything cobra reports itself (unknown flag, wrong arg count) is usage.
	return ExitUsage
}

type globals struct {
	env    *Env
	config string
	output string
}

// newRoot builds the command tree for args. When args names one of the
// talkers first, the root holds that command alone: no other command can
// run, and building the whole tree (every command's flags, the completion
// and help commands) is a good part of what a quick command costs.
func newRoot(env *Env, args []string) *cobra.Command {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:           "respawn",
		Short:         "respawn keeps services up",
		Long:          "respawn is a process supervisor: it starts the services a config file names, respawns them when they fail, and stops them in order.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "", "config file (default $RESPAWN_CONFIG, then ./respawn.yaml)")
	if len(args) > 0 {
		if mk := talker(args[0]); mk != nil {
			root.CompletionOptions.DisableDefaultCmd = true
			root.AddCommand(mk(g))
			return root
		}
	}
	for _, name := range talkerNames {
		root.AddCommand(talker(name)(g))
	}
	root.AddCommand(
		g.upCmd(),
		g.upgradeCmd(),
		g.checkCmd(),
		g.importCmd(),
		g.installCmd(), g.uninstallCmd(),
		g.exportCmd(),
		g.alertsCmd(),
	)
	root.AddCommand(g.internalCmds()...)
	return root
}

// configPath resolves which config file is meant: -c, then $RESPAWN_CONFIG, then ./respawn.yaml.
func (g *globals) configPath() string {
	p := g.config
	if p == "" {
		p = g.env.Getenv("RESPAWN_CONFIG")
	}
	if p == "" {
		p = "respawn.yaml"
	}
	return p
}

func (g *globals) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(g.configPath(), g.env.LookupEnv)
	if err != nil {
		return nil, exitErr(ExitUsage, err)
	}
	return cfg, nil
}

// client finds the supervisor's socket through the config. A config that no longer
// validates still names the default state dir, so a running supervisor can be
// reached (e.g. to bring it down) while its file is being edited.
func (g *globals) client() (*client.Client, error) {
	if c := g.quickClient(); c != nil {
		return c, nil
	}
	cfg, err := g.loadConfig()
	if err == nil {
		c := client.New(socketPath(cfg.Supervisor.StateDir))
		// Two configs that set one state_dir: the supervisor there is the
		// other config's, and answering for it would mislead.
		if pid, other, running := c.Holder(); running && other != "" && other != cfg.Path {
			return nil, exitErr(ExitUsage, fmt.Errorf("state dir %s is in use by the supervisor of %s (pid %d): give %s its own supervisor.state_dir",
				cfg.Supervisor.StateDir, other, pid, cfg.Path))
		}
		return c, nil
	}
	abs, aerr := filepath.Abs(g.configPath())
	if aerr == nil {
		sock := socketPath(config.DefaultStateDir(abs))
		if _, serr := os.Stat(sock); serr == nil {
			return client.New(sock), nil
		}
	}
	return nil, err
}

// quickClient finds, without parsing the config, a supervisor that runs it
// in its default state dir: the config's text does not mention state_dir,
// so the state dir is the default one, and the supervisor that holds that
// dir's lock is alive and runs this very file. That is the answer
// loadConfig would lead to, in a fraction of the time (parsing and
// validating a config of hundreds of services takes milliseconds). nil
// means: take the long way, which also words every error.
//
// A config that sets state_dir in the one plain way (a `state_dir: VALUE`
// line right under a top-level `supervisor:`, VALUE without escapes or
// `${`) is read the same way: the supervisor found there must hold that
// dir's lock and run this very file, so a line misread can only send the
// CLI the long way.
func (g *globals) quickClient() *client.Client {
	path := g.configPath()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	dir := config.DefaultStateDir(abs)
	if mayNameStateDir(data) {
		set, ok := plainStateDir(data)
		if !ok {
			return nil
		}
		if !filepath.IsAbs(set) {
			set = filepath.Join(filepath.Dir(abs), set)
		}
		dir = filepath.Clean(set)
	}
	c := client.New(socketPath(dir))
	if _, holder, running := c.Holder(); !running || holder != abs {
		return nil
	}
	return c
}

// plainStateDir returns VALUE when a config's text sets state_dir once, as
// `state_dir: VALUE` (VALUE plain, or quoted without escapes, and no `${`)
// on a line of its own right under a top-level `supervisor:` in block style,
// indented with spaces. ok is false for anything else: the text may still
// set it, in a way only the parser reads right.
func plainStateDir(data []byte) (string, bool) {
	// Escapes could spell a key or a value in other characters; a tab may
	// indent where spaces are counted.
	if bytes.Count(data, []byte("state_dir")) != 1 || bytes.Contains(data, []byte("${")) ||
		hasEscape(data) || bytes.IndexByte(data, '\t') >= 0 {
		return "", false
	}
	lines := strings.Split(string(data), "\n")
	at := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "state_dir") })
	indent := len(lines[at]) - len(strings.TrimLeft(lines[at], " "))
	rest, found := strings.CutPrefix(lines[at][indent:], "state_dir:")
	if indent == 0 || !found {
		return "", false
	}
	// The lines above up to the section's own: the supervisor's keys, none
	// less indented than this one (which would make it a deeper key's).
	i := at - 1
	for ; i >= 0; i-- {
		l := strings.TrimRight(lines[i], " \r")
		t := strings.TrimLeft(l, " ")
		if t == "" || t[0] == '#' {
			continue
		}
		if d := len(l) - len(t); d == 0 {
			break
		} else if d < indent {
			return "", false
		}
	}
	if i < 0 || strings.TrimRight(lines[i], " \r") != "supervisor:" {
		return "", false
	}
	// The next line must not carry the value on.
	for _, l := range lines[at+1:] {
		t := strings.TrimLeft(strings.TrimRight(l, " \r"), " ")
		if t == "" || t[0] == '#' {
			continue
		}
		if len(l)-len(strings.TrimLeft(l, " ")) > indent {
			return "", false
		}
		break
	}
	return plainScalar(strings.TrimRight(rest, " \r"))
}

// plainScalar reads the value of a `key: value` line: a plain scalar up to a
// comment, or a quoted one without escapes. ok is false for anything else.
func plainScalar(v string) (string, bool) {
	v = strings.TrimLeft(v, " ")
	if v == "" {
		return "", false
	}
	switch q := v[0]; q {
	case '"', '\'':
		end := strings.IndexByte(v[1:], q)
		if end < 0 || strings.ContainsRune(v[1:end+1], '\\') {
			return "", false
		}
		after := strings.TrimLeft(v[end+2:], " ")
		if (after != "" && after[0] != '#') || end == 0 {
			return "", false
		}
		return v[1 : end+1], true
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimRight(v[:i], " ")
	}
	if strings.ContainsAny(v[:1], "[]{}&*!|>%@`,#-?:") || strings.Contains(v, ": ") || strings.ContainsAny(v, "\"'") {
		return "", false
	}
	return v, true
}

// mayNameStateDir reports whether a config's text could set
// supervisor.state_dir: it says state_dir, or it holds a YAML escape that
// could spell a key in other characters (\x, \u, \U, or a backslash that
// joins two lines of a quoted key).
func mayNameStateDir(data []byte) bool {
	return bytes.Contains(data, []byte("state_dir")) || hasEscape(data)
}

// hasEscape reports whether a config's text holds a YAML escape that could
// spell a key or a value in other characters.
func hasEscape(data []byte) bool {
	for _, esc := range []string{`\x`, `\u`, `\U`, "\\\n", "\\\r"} {
		if bytes.Contains(data, []byte(esc)) {
			return true
		}
	}
	return false
}

// connect checks the output format and finds the supervisor: what every
// command that talks to it does first.
func (g *globals) connect(output string) (*client.Client, error) {
	if err := checkOutput(output); err != nil {
		return nil, err
	}
	return g.client()
}

// socketPath is where a supervisor with the given state dir listens.
func socketPath(stateDir string) string { return filepath.Join(stateDir, "respawn.sock") }

// apiErr maps a client error to an exit code.
func apiErr(err error) error {
	var ae *client.APIError
	switch {
	case errors.Is(err, client.ErrNotRunning):
		return exitErr(ExitNotRunning, err)
	case errors.As(err, &ae) && ae.Status == 404:
		return exitErr(ExitUsage, err)
	default:
		return exitErr(ExitFailed, err)
	}
}

func background() context.Context { return context.Background() }
