package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// supervisordPeer runs supervisord in the foreground with a generated
// configuration that lives in the work directory, never in /etc/supervisor.
type supervisordPeer struct {
	bin string
}

func (supervisordPeer) name() string   { return "supervisord" }
func (supervisordPeer) prefixed() bool { return false }

func (supervisordPeer) logPath(dir, svc string) (string, string) {
	return filepath.Join(dir, svc+".stdout.log"), ""
}

func (supervisordPeer) own(root int) ([]int, error) { return ownProcesses(root) }

// pause: supervisord starts an exited program again on a later turn of its
// main loop, which waits up to a second for events when nothing happens
// ((a) measures about 1,000 ms) but far less when many programs exit: 50
// services that exit at once were restarted 3 times a second each. No
// fixed pause, then: a storm service lives the full second under it.
func (supervisordPeer) pause() time.Duration { return 0 }

// status is supervisorctl against the run's socket; with more than one
// service the programs are in the group "fleet" (see supervisordConfig).
func (p supervisordPeer) status(dir string, names []string, all bool) [][]string {
	ctl := filepath.Join(filepath.Dir(p.bin), "supervisorctl")
	argv := []string{ctl, "-c", filepath.Join(dir, "supervisord.conf"), "status"}
	if !all {
		for _, n := range names {
			argv = append(argv, "fleet:"+n)
		}
	}
	return [][]string{argv}
}

func (p supervisordPeer) launch(dir string, svcs []service) (*instance, error) {
	if err := os.MkdirAll(filepath.Join(dir, "childlogs"), 0o755); err != nil {
		return nil, fmt.Errorf("create childlogdir: %w", err)
	}
	cfg := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(cfg, []byte(supervisordConfig(dir, svcs)), 0o644); err != nil {
		return nil, fmt.Errorf("write supervisord config: %w", err)
	}
	return start(dir, "supervisord", []string{p.bin, "-n", "-c", cfg})
}

// supervisordConfig asks for supervisord's fastest respawn: restart on any
// exit, counted as started at once (startsecs=0), practically never give up.
func supervisordConfig(dir string, svcs []service) string {
	var b strings.Builder
	q := iniEscape
	fmt.Fprintf(&b, "[unix_http_server]\nfile=%s\n\n", q(filepath.Join(dir, "supervisor.sock")))
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nloglevel=warn\n",
		q(filepath.Join(dir, "supervisord.log")), q(filepath.Join(dir, "supervisord.pid")), q(filepath.Join(dir, "childlogs")))
	// Each process holds three pipe ends and two log files in supervisord;
	// the defaults (1024 fds, 200 procs) refuse a fleet of 1,000.
	fmt.Fprintf(&b, "minfds=%d\nminprocs=%d\n\n", max(1024, 8*len(svcs)+256), max(200, len(svcs)+200))
	b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	fmt.Fprintf(&b, "[supervisorctl]\nserverurl=unix://%s\n\n", q(filepath.Join(dir, "supervisor.sock")))
	for _, s := range svcs {
		args := make([]string, len(s.argv))
		for i, a := range s.argv {
			args[i] = q(shellQuote(a))
		}
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s\nstartsecs=0\n", s.name, strings.Join(args, " "))
		if s.restart {
			b.WriteString("autorestart=true\nstartretries=1000000000\n")
		} else {
			b.WriteString("autorestart=false\n")
		}
		if s.bigLog {
			fmt.Fprintf(&b, "stdout_logfile=%s\nstdout_logfile_maxbytes=0\n", q(filepath.Join(dir, s.name+".stdout.log")))
		}
		b.WriteString("\n")
	}
	if len(svcs) > 1 {
		// supervisord stops its groups one after another, one group per
		// turn of its main loop; one program per group makes stopping a
		// fleet of 1,000 take minutes. Grouped, they stop together.
		names := make([]string, len(svcs))
		for i, s := range svcs {
			names[i] = s.name
		}
		fmt.Fprintf(&b, "[group:fleet]\nprograms=%s\n", strings.Join(names, ","))
	}
	return b.String()
}

// iniEscape protects '%' from supervisord's ConfigParser interpolation.
func iniEscape(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// shellQuote quotes for Python's shlex.split, which supervisord applies to
// command=.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\#;&|<>()$`*?[]{}~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// errNoSupervisord means supervisord is missing and cannot be installed here.
var errNoSupervisord = errors.New("supervisord not found")

// findSupervisord returns supervisord's path, installing Debian's
// supervisor package first when it is missing and the bench runs as root.
func findSupervisord(log func(string)) (string, error) {
	if p, err := exec.LookPath("supervisord"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w on PATH and not root: install it with `apt-get install -y supervisor` as root", errNoSupervisord)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%w on PATH and no apt-get to install it: install supervisor (4.x) by hand", errNoSupervisord)
	}
	log("supervisord not on PATH: running apt-get update && apt-get install -y supervisor")
	for _, argv := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", "supervisor"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, lastLines(string(out), 15))
		}
	}
	p, err := exec.LookPath("supervisord")
	if err != nil {
		return "", fmt.Errorf("%w even after installing supervisor: %w", errNoSupervisord, err)
	}
	return p, nil
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
