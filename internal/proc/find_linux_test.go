package proc

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/discover"
)

func TestFindByCmdline(t *testing.T) {
	m := newManager(t, true)
	token := fmt.Sprintf("respawn-find-%d-%d", os.Getpid(), instanceSeq.Add(1))
	re := regexp.MustCompile(" " + regexp.QuoteMeta(token) + " x$")
	p := spawn(t, m, Spec{Name: "findme", Args: []string{helperExe(t), token, "x"}, Env: []string{helperEnv + "=sleep"}})
	pids, err := discover.FindByCmdline(re)
	if err != nil {
		t.Fatalf("discover.FindByCmdline: %v", err)
	}
	if !slices.Equal(pids, []int{p.Pid()}) {
		t.Fatalf("discover.FindByCmdline = %v, want [%d]", pids, p.Pid())
	}
	if err := p.KillTree(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	if pids, err := discover.FindByCmdline(re); err != nil || len(pids) != 0 {
		t.Fatalf("after exit: %v, %v; want none", pids, err)
	}

	// Our own command line matches itself, yet we are never a candidate.
	self, err := os.ReadFile("/proc/self/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	own := strings.ReplaceAll(strings.TrimRight(string(self), "\x00"), "\x00", " ")
	pids, err = discover.FindByCmdline(regexp.MustCompile("^" + regexp.QuoteMeta(own) + "$"))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(pids, os.Getpid()) || slices.Contains(pids, os.Getppid()) {
		t.Fatalf("discover.FindByCmdline returned ourselves or our parent: %v", pids)
	}

	// Kernel threads have no command line and never match.
	if pids, err := discover.FindByCmdline(regexp.MustCompile(`^$`)); err != nil || len(pids) != 0 {
		t.Fatalf("empty pattern: %v, %v; want none", pids, err)
	}
	if _, err := discover.FindByCmdline(nil); err == nil {
		t.Fatal("discover.FindByCmdline(nil) succeeded")
	}
}

const zombieTokenEnv = "RESPAWN_PROC_TEST_ZOMBIE_TOKEN"

// startZombie is the "zombie-parent" helper: it starts a short-lived shell
// whose command line holds the token, prints its pid and never waits for it,
// so the shell stays a zombie. Go's runtime reaps nothing by itself.
func startZombie() int {
	sh, err := exec.LookPath("sh")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := os.StartProcess(sh, []string{"sh", "-c", ": " + os.Getenv(zombieTokenEnv)}, &os.ProcAttr{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(c.Pid)
	time.Sleep(time.Hour) // not synchronization: the test kills us
	return 0
}

func TestFindByCmdlineSkipsZombies(t *testing.T) {
	m := newManager(t, true)
	token := fmt.Sprintf("respawn-zombie-%d-%d", os.Getpid(), instanceSeq.Add(1))
	parent := spawn(t, m, Spec{Name: "zombie-parent", Args: []string{helperExe(t)},
		Env: []string{helperEnv + "=zombie-parent", zombieTokenEnv + "=" + token, "PATH=" + os.Getenv("PATH")}})
	pid, err := strconv.Atoi(readLine(t, parent.Stdout()))
	if err != nil {
		t.Fatalf("read zombie pid: %v", err)
	}
	waitFor(t, "zombie", func() bool {
		state, _, _, err := procStat(pid)
		return err == nil && state == 'Z'
	})
	pids, err := discover.FindByCmdline(regexp.MustCompile(regexp.QuoteMeta(token)))
	if err != nil || len(pids) != 0 {
		t.Fatalf("discover.FindByCmdline over a zombie: %v, %v; want none", pids, err)
	}
	if err := parent.KillTree(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, parent)
}
