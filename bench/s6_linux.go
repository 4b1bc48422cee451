package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// s6Peer runs s6-svscan in the foreground over a scan directory of service
// directories, one s6-supervise per service.
type s6Peer struct {
	svscan, svstat, log string
}

func (s6Peer) name() string   { return "s6" }
func (s6Peer) prefixed() bool { return false }

// logPath: a service's output goes through a pipe that s6-svscan holds to
// its logger service, s6-log, which writes the lines as they are (no
// timestamp directive) to current in its log directory.
func (s6Peer) logPath(dir, svc string) (string, string) {
	return filepath.Join(dir, "logs", svc, "current"), ""
}

func (s6Peer) own(root int) ([]int, error) {
	return processesRunning(root, "s6-svscan", "s6-supervise")
}

// pause: s6-supervise starts ./run again one second after the service went
// down (its deadline after a death is "now + 1 s", unless a readiness
// notification set an earlier one); no file in the service directory
// changes that in s6 2.11.
func (s6Peer) pause() time.Duration { return time.Second }

// status is s6-svstat, which reads one service directory per call.
func (p s6Peer) status(dir string, names []string, all bool) [][]string {
	var out [][]string
	for _, n := range names {
		out = append(out, []string{p.svstat, filepath.Join(dir, "scan", n)})
	}
	return out
}

func (p s6Peer) launch(dir string, svcs []service) (*instance, error) {
	scan := filepath.Join(dir, "scan")
	err := serviceDirs(scan, svcs, func(d string, s service) error {
		// The death tally serves finish scripts, which none of these
		// services has; 0 spares s6-supervise a file write per death.
		if err := os.WriteFile(filepath.Join(d, "max-death-tally"), []byte("0\n"), 0o644); err != nil {
			return fmt.Errorf("write max-death-tally: %w", err)
		}
		if s.bigLog {
			if err := s6Logger(d, p.log, filepath.Join(dir, "logs", s.name)); err != nil {
				return err
			}
		}
		if !s.restart {
			// A finish that exits 125 tells s6-supervise not to start the
			// service again.
			fin := "#!/bin/sh\nexit 125\n"
			if err := os.WriteFile(filepath.Join(d, "finish"), []byte(fin), 0o755); err != nil {
				return fmt.Errorf("write finish: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// -c bounds the services s6-svscan keeps; the default is below the
	// larger fleets.
	return start(dir, "s6-svscan", []string{p.svscan, "-c", strconv.Itoa(max(1000, 2*len(svcs)+16)), scan})
}

// findS6 locates s6's programs, installing Debian's s6 package when they
// are missing and the bench runs as root.
func findS6(log func(string)) (s6Peer, error) {
	var p s6Peer
	paths, err := findOrInstall(log, "s6", "s6-svscan", "s6-svstat", "s6-supervise", "s6-log")
	if err != nil {
		return p, err
	}
	p.svscan, p.svstat, p.log = paths[0], paths[1], paths[3]
	return p, nil
}

// s6Logger makes svc's logger service: s6-log with one file (n1) that
// rotates only past 1 GB (s1000000000), like respawn's `max_size: 1GB` in
// (d), so the whole capture lands in one file. Its shell runs once, when
// the logger starts, not per line.
func s6Logger(svc, s6log, logdir string) error {
	// s6-log makes its own directory but not the ones above it.
	if err := os.MkdirAll(filepath.Dir(logdir), 0o755); err != nil {
		return fmt.Errorf("create log dir: %w", err)
	}
	d := filepath.Join(svc, "log")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("create log service dir: %w", err)
	}
	run := fmt.Sprintf("#!/bin/sh\nexec %s n1 s1000000000 %s\n", shellQuote(s6log), shellQuote(logdir))
	if err := os.WriteFile(filepath.Join(d, "run"), []byte(run), 0o755); err != nil {
		return fmt.Errorf("write log run: %w", err)
	}
	return nil
}

// daemontoolsPeer runs daemontools' svscan in the foreground over a service
// directory, one supervise per service.
type daemontoolsPeer struct {
	svscan, svc, svstat, svok, multilog string
}

func (daemontoolsPeer) name() string   { return "daemontools" }
func (daemontoolsPeer) prefixed() bool { return false }

// logPath: a service's output goes through a pipe that svscan holds to
// its log service, multilog, which writes the lines as they are (no
// timestamp action) to current in its log directory. multilog caps a file
// at 16,777,215 bytes, so a large capture rotates into @… files; the bench
// reads them all (logFiles).
func (daemontoolsPeer) logPath(dir, svc string) (string, string) {
	return filepath.Join(dir, "logs", svc, "current"), ""
}

// logFiles lists multilog's rotated files (named by TAI64N time, so sorted
// by name is oldest first) and then current.
func (daemontoolsPeer) logFiles(current string) ([]string, error) {
	old, err := filepath.Glob(filepath.Join(filepath.Dir(current), "@*.[su]"))
	if err != nil {
		return nil, fmt.Errorf("list rotated logs: %w", err)
	}
	slices.Sort(old)
	return append(old, current), nil
}

func (daemontoolsPeer) own(root int) ([]int, error) {
	return processesRunning(root, "svscan", "supervise")
}

// pause: supervise sleeps one second after every start of ./run, so a
// service that exits at once is started again a second after it started.
func (daemontoolsPeer) pause() time.Duration { return time.Second }

// status is one svstat over every directory asked for.
func (p daemontoolsPeer) status(dir string, names []string, all bool) [][]string {
	argv := []string{p.svstat}
	for _, n := range names {
		argv = append(argv, filepath.Join(dir, "scan", n))
	}
	return [][]string{argv}
}

func (p daemontoolsPeer) launch(dir string, svcs []service) (*instance, error) {
	scan := filepath.Join(dir, "scan")
	var once, stopDirs []string
	err := serviceDirs(scan, svcs, func(d string, s service) error {
		stopDirs = append(stopDirs, d)
		if s.bigLog {
			if err := multilogService(d, p.multilog, filepath.Join(dir, "logs", s.name)); err != nil {
				return err
			}
			stopDirs = append(stopDirs, filepath.Join(d, "log"))
		}
		if !s.restart {
			// supervise leaves a service with a down file down; `svc -o`
			// then runs it once.
			if err := os.WriteFile(filepath.Join(d, "down"), nil, 0o644); err != nil {
				return fmt.Errorf("write down: %w", err)
			}
			once = append(once, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	in, err := start(dir, "svscan", []string{p.svscan, scan})
	if err != nil {
		return nil, err
	}
	in.halt = func(in *instance, grace time.Duration) error { return p.halt(in, stopDirs, grace) }
	for _, d := range once {
		if err := p.runOnce(in, d); err != nil {
			_, _, serr := in.stop(stopGrace)
			return nil, errors.Join(err, serr)
		}
	}
	return in, nil
}

// runOnce waits until svscan has started supervise for d (supervise/ok
// answers), then asks it to run the service once.
func (p daemontoolsPeer) runOnce(in *instance, d string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := exec.Command(p.svok, d).Output(); err == nil {
			break
		}
		if err := in.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: supervise for %s not up within 30s", errTimeout, d)
		}
		time.Sleep(5 * time.Millisecond) // polling svok, not synchronising a test
	}
	_, err := runOnce(p.svc, "-o", d)
	return err
}

// multilogService makes svc's log service: multilog keeping up to 100
// files of 16,777,215 bytes (its largest), so nothing of (d)'s capture is
// deleted. Its shell runs once, when the logger starts, not per line.
func multilogService(svc, multilog, logdir string) error {
	if err := os.MkdirAll(logdir, 0o755); err != nil {
		return fmt.Errorf("create log dir: %w", err)
	}
	d := filepath.Join(svc, "log")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("create log service dir: %w", err)
	}
	run := fmt.Sprintf("#!/bin/sh\nexec %s n100 s16777215 %s\n", shellQuote(multilog), shellQuote(logdir))
	if err := os.WriteFile(filepath.Join(d, "run"), []byte(run), 0o755); err != nil {
		return fmt.Errorf("write log run: %w", err)
	}
	return nil
}

// halt stops svscan and then every supervise: svscan ignores its services
// when it ends (SIGTERM simply kills it), so the services are brought down
// and their supervise told to exit with `svc -dx`, and the bench waits for
// the supervise processes, which are its children now, to be gone.
func (p daemontoolsPeer) halt(in *instance, dirs []string, grace time.Duration) error {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	<-in.done
	argv := append([]string{p.svc, "-dx"}, dirs...)
	if _, err := runOnce(argv...); err != nil {
		return err
	}
	deadline := time.Now().Add(grace)
	for {
		left, err := liveRunning(os.Getpid(), "supervise")
		if err != nil || left == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d supervise processes left %v after svc -dx", left, grace)
		}
		reapAll()
		time.Sleep(10 * time.Millisecond) // polling a process table, not synchronising a test
	}
}

// liveRunning counts the live (not zombie) descendants of root running a
// program of that base name.
func liveRunning(root int, name string) (int, error) {
	ds, err := descendants(root)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ds {
		if s, err := readStat(d); err == nil && s.state != 'Z' && filepath.Base(exePath(d)) == name {
			n++
		}
	}
	return n, nil
}

func findDaemontools(log func(string)) (daemontoolsPeer, error) {
	var p daemontoolsPeer
	paths, err := findOrInstall(log, "daemontools", "svscan", "svc", "svstat", "svok", "multilog", "supervise")
	if err != nil {
		return p, err
	}
	p.svscan, p.svc, p.svstat, p.svok, p.multilog = paths[0], paths[1], paths[2], paths[3], paths[4]
	return p, nil
}

// errNotInstalled means a peer's programs are missing and cannot be
// installed here.
var errNotInstalled = errors.New("not installed")

// findOrInstall returns the paths of progs, installing Debian package pkg
// with apt-get first when one is missing and the bench runs as root.
func findOrInstall(log func(string), pkg string, progs ...string) ([]string, error) {
	look := func() ([]string, error) {
		var out []string
		for _, p := range progs {
			path, err := exec.LookPath(p)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errNotInstalled, err)
			}
			out = append(out, path)
		}
		return out, nil
	}
	paths, err := look()
	if err == nil {
		return paths, nil
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w and not root: install it with `apt-get install -y %s` as root", err, pkg)
	}
	if _, lerr := exec.LookPath("apt-get"); lerr != nil {
		return nil, fmt.Errorf("%w and no apt-get to install %s", err, pkg)
	}
	log(fmt.Sprintf("%s not on PATH: running apt-get update && apt-get install -y %s", progs[0], pkg))
	for _, argv := range [][]string{{"apt-get", "update"}, {"apt-get", "install", "-y", pkg}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", fmt.Sprint(argv), err, lastLines(string(out), 15))
		}
	}
	return look()
}
