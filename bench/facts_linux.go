package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// printFacts writes what a reader needs to compare two runs of the bench.
func printFacts(w io.Writer, env *env) {
	var u unix.Utsname
	kernel := "unknown"
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	fmt.Fprintf(w, "respawn bench, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "  nproc        %d (%s)\n", runtime.NumCPU(), procField("/proc/cpuinfo", "model name"))
	fmt.Fprintf(w, "  memory       %s\n", procField("/proc/meminfo", "MemTotal"))
	fmt.Fprintf(w, "  kernel       %s\n", kernel)
	fmt.Fprintf(w, "  load avg     %s (before the run)\n", loadAvg())
	fmt.Fprintf(w, "  go           %s\n", runtime.Version())
	fmt.Fprintf(w, "  supervisord  %s\n", env.supervisordVersion())
	fmt.Fprintf(w, "  respawn      %s\n", env.respawnVersion())
	for _, sl := range env.slots {
		if sl.name == "s6" || sl.name == "daemontools" {
			fmt.Fprintf(w, "  %-12s %s\n", sl.name, packageVersion(sl))
		}
	}
	// The environment reaches every `respawn up` the bench starts.
	platform := os.Getenv("RESPAWN_PLATFORM")
	if platform == "" {
		platform = "auto (the config's default)"
	}
	fmt.Fprintf(w, "  platform     %s (RESPAWN_PLATFORM)\n", platform)
	fmt.Fprintf(w, "  work dir     %s\n", env.work)
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}

func (e *env) supervisordVersion() string {
	if e.supervisord == "" {
		return unavailableFact(e.supervisordErr)
	}
	v := firstLine(exec.Command(e.supervisord, "--version").Output())
	// supervisord is a Python script: name the interpreter it runs on.
	if py := shebang(e.supervisord); py != "" {
		v += " on " + firstLine(exec.Command(py, "--version").Output())
	}
	return v
}

func (e *env) respawnVersion() string {
	if e.respawn == "" {
		return unavailableFact(e.respawnErr)
	}
	return firstLine(exec.Command(e.respawn, "version").Output())
}

// packageVersion names the Debian package version of s6 or daemontools,
// whose programs print none.
func packageVersion(sl slot) string {
	if sl.p == nil {
		return unavailableFact(sl.err)
	}
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", sl.name).Output()
	if err != nil {
		return "installed, version unknown (no dpkg-query)"
	}
	return "Debian package " + strings.TrimSpace(string(out))
}

func firstLine(b []byte, err error) string {
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func shebang(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "#!") {
		return ""
	}
	fields := strings.Fields(line[2:])
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

func unavailableFact(err error) string {
	if errors.Is(err, errSkipped) {
		return "skipped by -peers"
	}
	return "not available (see the warning above)"
}

// loadAvg is the 1, 5 and 15 minute load average: a busy machine skews
// every figure, so it is printed with them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
