package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

const (
	noCgroupEnv = "RESPAWN_PROC_TEST_NOCGROUP"
	resumeEnv   = "RESPAWN_PROC_TEST_RESUME"
)

// resumeState is what the "resume-before" helper hands to its re-executed
// image, as a keeper hands its table over on upgrade.
type resumeState struct {
	Containment Containment
	Children    []Child
}

// resumeBefore is the "resume-before" helper: it spawns three services
// through a Manager, then re-execs itself in place as "resume-after" with
// their table.
func resumeBefore() int {
	noCgroup := os.Getenv(noCgroupEnv) != ""
	m, err := NewManager(Options{InstanceID: os.Getenv(helperIDEnv), NoCgroup: noCgroup})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if !noCgroup && m.Containment() != ContainCgroup {
		fmt.Println("skip: cgroup containment unavailable")
		return 0
	}
	path := []string{"PATH=" + os.Getenv("PATH")}
	specs := []Spec{
		{Name: "exits", Args: []string{"sleep", "1050"}, Env: path},
		{Name: "tree", Args: []string{"sh", "-c", "sleep 1051 & exec sleep 1052"}, Env: path},
		{Name: "single", Args: []string{"sleep", "1053"}, Env: path},
	}
	state := resumeState{Containment: m.Containment()}
	for _, spec := range specs {
		p, err := m.Spawn(spec)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		state.Children = append(state.Children, Child{Name: spec.Name, Pid: p.Pid(), Pgid: p.Pgid(), StartedAt: p.StartedAt()})
	}
	// The tree must have both its processes before the handover.
	tree := state.Children[1]
	for end := time.Now().Add(deadline); len(liveGroupMembers(tree.Pgid)) != 2 || !execed(tree.Pid, "sleep"); {
		if time.Now().After(end) {
			fmt.Fprintln(os.Stderr, "tree did not start")
			return 2
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, err := json.Marshal(state)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	env := []string{resumeEnv + "=" + string(b)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, helperEnv+"=resume-after")
	self, _ := os.Executable()
	err = Reexec(self, []string{self}, env)
	fmt.Fprintln(os.Stderr, err)
	return 2
}

// execed reports whether pid runs comm now.
func execed(pid int, comm string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == comm
}

// liveGroupMembers lists the processes of group pgid that are not zombies.
func liveGroupMembers(pgid int) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		var pid int
		if _, err := fmt.Sscan(filepath.Base(dir), &pid); err != nil {
			continue
		}
		if st, ok := observe.Read(pid); ok && st.Pgrp == pgid && st.State != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// resumeAfter is the re-executed image: no reaper runs yet. It ends one
// service before creating its Manager, then checks what it took over.
// Failures go to stdout, one per line; "ok" ends a clean run.
func resumeAfter() int {
	var state resumeState
	if err := json.Unmarshal([]byte(os.Getenv(resumeEnv)), &state); err != nil {
		fmt.Println("FAIL: decode state:", err)
		return 1
	}
	failed := false
	fail := func(format string, args ...any) {
		failed = true
		fmt.Printf("FAIL: "+format+"\n", args...)
	}
	wait := func(what string, ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(deadline):
			fail("timed out waiting for %s", what)
			return false
		}
	}
	exitsPid := state.Children[0].Pid
	if err := syscall.Kill(exitsPid, syscall.SIGTERM); err != nil {
		fail("kill: %v", err)
		return 1
	}
	for end := time.Now().Add(deadline); ; time.Sleep(5 * time.Millisecond) {
		if st, _, _, err := procStat(exitsPid); err == nil && st == 'Z' {
			break
		}
		if time.Now().After(end) {
			fail("pid %d did not become a zombie", exitsPid)
			return 1
		}
	}

	exits := make(chan *Process, 16)
	m, err := NewManager(Options{
		InstanceID: os.Getenv(helperIDEnv),
		NoCgroup:   os.Getenv(noCgroupEnv) != "",
		Resume:     state.Children,
		OnExit:     func(p *Process) { exits <- p },
	})
	if err != nil {
		fail("NewManager: %v", err)
		return 1
	}
	nextExit := func() *Process {
		select {
		case p := <-exits:
			return p
		case <-time.After(deadline):
			fail("no OnExit within %v", deadline)
			return nil
		}
	}
	if m.Containment() != state.Containment {
		fail("containment %s, was %s", m.Containment(), state.Containment)
	}
	res := m.Resumed()
	if len(res) != len(state.Children) {
		fail("Resumed() has %d processes, want %d", len(res), len(state.Children))
		return 1
	}
	for i, c := range state.Children {
		p := res[i]
		if p.Pid() != c.Pid || p.Pgid() != c.Pgid || !p.StartedAt().Equal(c.StartedAt) || p.Stdout() != nil || p.Stderr() != nil {
			fail("Resumed()[%d] = pid %d pgid %d started %v, want %+v and no pipes", i, p.Pid(), p.Pgid(), p.StartedAt(), c)
		}
		if (p.cg != nil) != (state.Containment == ContainCgroup) {
			fail("%s: cgroup %v in %s mode", c.Name, p.cg, state.Containment)
		}
	}

	// The exit during the handover keeps its status.
	if got := nextExit(); got != res[0] || got.Exit().Signal != int(syscall.SIGTERM) {
		fail("first OnExit: %s, want the process killed before NewManager with SIGTERM", describe(got))
	}

	// Nothing else was killed: the cgroups were reused, not cleaned up.
	tree, single := res[1], res[2]
	for _, p := range []*Process{tree, single} {
		if st, ppid, _, err := procStat(p.Pid()); err != nil || st == 'Z' || ppid != os.Getpid() {
			fail("%s after NewManager: state %c ppid %d err %v", p.name, st, ppid, err)
		}
	}
	members := liveGroupMembers(tree.Pgid())
	if len(members) != 2 {
		fail("tree has %v, want 2 processes", members)
	}
	if tree.cg != nil {
		pids, err := tree.cg.procs()
		slices.Sort(pids)
		if err != nil || !slices.Equal(pids, members) {
			fail("tree's cgroup holds %v (%v), want %v", pids, err, members)
		}
	}

	// The resumed tree dies as a whole.
	if err := tree.KillTree(); err != nil {
		fail("KillTree: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := tree.WaitTreeGone(ctx); err != nil {
		fail("WaitTreeGone: %v", err)
	}
	for _, pid := range members {
		if st, _, _, err := procStat(pid); err == nil && st != 'Z' {
			fail("pid %d of the tree survived KillTree", pid)
		}
	}
	if got := nextExit(); got != tree || got.Exit().Signal != int(syscall.SIGKILL) {
		fail("OnExit: %s, want the tree's main process killed", describe(got))
	}

	// Never two instances: a new spawn first kills the resumed one.
	n, err := m.Spawn(Spec{Name: "single", Args: []string{"sleep", "1054"}, Env: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		fail("Spawn: %v", err)
	} else {
		n.Stdout().Close()
		n.Stderr().Close()
		if wait("the resumed instance to end", single.Done()) && single.Exit().Signal != int(syscall.SIGKILL) {
			fail("resumed instance: %v, want killed", single.Exit())
		}
		if got := nextExit(); got != single {
			fail("OnExit: %s, want the resumed instance", describe(got))
		}
		if n.Exit() != (Exit{}) || !aliveNotZombie(n.Pid()) {
			fail("new instance not running: %v", n.Exit())
		}
		if err := n.KillTree(); err != nil {
			fail("KillTree: %v", err)
		}
		if got := nextExit(); got != n {
			fail("OnExit: %s, want the new instance", describe(got))
		}
	}
	for _, name := range []string{"exits", "tree", "single"} {
		if err := m.Forget(name); err != nil {
			fail("Forget(%s): %v", name, err)
		}
	}
	if err := m.Close(); err != nil {
		fail("Close: %v", err)
	}
	if failed {
		return 1
	}
	fmt.Println("ok")
	return 0
}

func describe(p *Process) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%s pid %d (%v)", p.name, p.pid, p.Exit())
}

// aliveNotZombie reports whether pid is alive and not a zombie.
func aliveNotZombie(pid int) bool {
	st, _, _, err := procStat(pid)
	return err == nil && st != 'Z'
}

// TestResumeAfterReexec: a Manager created after an in-place re-exec takes
// over the children of the previous image, including the status of one that
// exited before the Manager existed, and kills nothing in doing so.
func TestResumeAfterReexec(t *testing.T) {
	for _, mode := range []Containment{ContainCgroup, ContainProcessGroup} {
		t.Run(string(mode), func(t *testing.T) {
			var env []string
			if mode == ContainProcessGroup {
				env = append(env, noCgroupEnv+"=1")
			}
			helper := spawnHelper(t, newManager(t, true), "resume-before", env...)
			out := readAll(t, helper.Stdout())
			errOut := readAll(t, helper.Stderr())
			exit := waitDone(t, helper)
			if strings.HasPrefix(out, "skip") {
				t.Skip(out)
			}
			if exit.Code != 0 || out != "ok\n" {
				t.Fatalf("helper: %v\nstdout:\n%s\nstderr:\n%s", exit, out, errOut)
			}
		})
	}
}

func TestResumeRefusals(t *testing.T) {
	spawned := spawn(t, newManager(t, true), shSpec("running", "exec sleep 1055"))
	cases := []struct {
		name   string
		resume []Child
		want   error
	}{
		{"bad name", []Child{{Name: "a/b", Pid: spawned.Pid()}}, ErrInvalidName},
		{"pid 0", []Child{{Name: "a", Pid: 0}}, ErrInvalidPid},
		{"negative pgid", []Child{{Name: "a", Pid: spawned.Pid(), Pgid: -1}}, ErrInvalidPid},
		{"listed twice", []Child{{Name: "a", Pid: spawned.Pid()}, {Name: "b", Pid: spawned.Pid()}}, ErrTracked},
		{"tracked elsewhere", []Child{{Name: "a", Pid: spawned.Pid()}}, ErrTracked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewManager(Options{InstanceID: fmt.Sprintf("test%d-%d", os.Getpid(), instanceSeq.Add(1)), NoCgroup: true, Resume: tc.resume})
			if !errors.Is(err, tc.want) {
				if m != nil {
					m.Close()
				}
				t.Fatalf("NewManager: %v, want %v", err, tc.want)
			}
		})
	}
	// The refusals left the spawned process with its own Manager.
	if err := spawned.KillTree(); err != nil {
		t.Fatal(err)
	}
	if e := waitDone(t, spawned); e.Signal != int(syscall.SIGKILL) {
		t.Fatalf("spawned process after the refusals: %v", e)
	}
}

// A listed process that is not our child ends at once with an unknown
// status, announced through OnExit; it is never signalled.
func TestResumeStranger(t *testing.T) {
	for _, mode := range []Containment{ContainCgroup, ContainProcessGroup} {
		t.Run(string(mode), func(t *testing.T) {
			rec := newOnExitRecorder(t)
			parent := os.Getppid()
			m := newManagerWith(t, Options{
				NoCgroup: mode == ContainProcessGroup,
				OnExit:   rec.onExit,
				Resume:   []Child{{Name: "stranger", Pid: parent}},
			})
			p := m.Resumed()[0]
			if got := rec.next(t); got != p || !got.Exit().Unknown {
				t.Fatalf("OnExit: pid %d %v, want pid %d with unknown status", got.Pid(), got.Exit(), parent)
			}
			if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
				t.Fatalf("Signal: %v, want os.ErrProcessDone", err)
			}
			if _, err := observe.StartTime(parent); err != nil {
				t.Fatalf("our parent after the resume: %v", err)
			}
		})
	}
}
