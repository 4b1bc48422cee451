package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
)

// testRunner runs real processes through a proc.Manager and remembers the
// last process spawned for each service, as a keeper's table would.
type testRunner struct {
	m *proc.Manager

	mu           sync.Mutex
	last         map[string]*proc.Process
	spawns       map[string]int
	usageBatches int
}

// Usages measures each process itself, as the keeper does, counting the
// batches asked for.
func (r *testRunner) Usages(ps []service.Process) []Usage {
	r.mu.Lock()
	r.usageBatches++
	r.mu.Unlock()
	out := make([]Usage, len(ps))
	for i, p := range ps {
		if u, ok := p.(usager); ok {
			cpu, mem, err := u.Usage()
			out[i] = Usage{CPU: cpu, Mem: mem, OK: err == nil}
		}
	}
	return out
}

func (r *testRunner) Spawn(spec proc.Spec) (service.Process, error) {
	p, err := r.m.Spawn(spec)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last[spec.Name] = p
	r.spawns[spec.Name]++
	r.mu.Unlock()
	return p, nil
}

// SpawnOutput spawns and captures the run's output into out, a *logs.Sink
// of the test's capture, as the keeper does into its own.
func (r *testRunner) SpawnOutput(spec proc.Spec, out service.Output) (service.Process, error) {
	p, err := r.Spawn(spec)
	if err != nil {
		return nil, err
	}
	c := &captured{Process: p.(*proc.Process), tail: logs.NewTail(10), drained: make(chan struct{})}
	sink, _ := out.(*logs.Sink)
	var streams []<-chan struct{}
	for _, st := range []struct {
		stream logs.Stream
		f      *os.File
	}{{logs.Stdout, c.Process.Stdout()}, {logs.Stderr, c.Process.Stderr()}} {
		if sink == nil {
			st.f.Close()
			continue
		}
		done, err := sink.AttachTail(st.stream, st.f, c.tail)
		if err != nil {
			return nil, err
		}
		streams = append(streams, done)
	}
	go func() {
		for _, d := range streams {
			<-d
		}
		close(c.drained)
	}()
	return c, nil
}

// captured is a process whose output the test runner captures.
type captured struct {
	*proc.Process
	tail    *logs.Tail
	drained chan struct{}
}

func (c *captured) Output() service.RunOutput { return c }

func (c *captured) Match(re *regexp.Regexp) <-chan struct{} { return c.tail.Match(re) }
func (c *captured) Drained() <-chan struct{}                { return c.drained }
func (c *captured) Lines() []logs.Line                      { return c.tail.Lines() }

// localCapture opens sinks written by c, in the test's process.
type localCapture struct{ c *logs.Capture }

func (l localCapture) Open(path string, opts logs.Options) (Sink, error) {
	sink, err := l.c.Open(path, opts)
	if err != nil {
		return nil, err // not a nil *logs.Sink in a non-nil Sink
	}
	return sink, nil
}

func (r *testRunner) Forget(name string) error { return r.m.Forget(name) }

func (r *testRunner) Adopt(name string, pid int) (service.Process, error) {
	p, err := r.m.Adopt(name, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (r *testRunner) Watch(name string, pid int) (service.Process, error) {
	p, err := proc.WatchPid(name, pid)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (r *testRunner) lastOf(name string) (*proc.Process, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[name], r.spawns[name]
}

// savedStore keeps the latest Saved of each service.
type savedStore struct {
	mu  sync.Mutex
	all map[string]service.Saved
}

func (s *savedStore) save(name string, v service.Saved) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all[name] = v
}

func (s *savedStore) get(name string) service.Saved {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all[name]
}

// abandon ends a supervisor's actors as a killed core would: the processes
// stay as they are.
func abandon(s *Supervisor) {
	_ = s.onLoop(context.Background(), s.disarmSchedules)
	if s.stopCoord != nil {
		s.stopCoord()
		<-s.loopEnd
	}
	for _, m := range s.roster.Load().members {
		m.retire(s.log)
	}
}

func loadConfig(t *testing.T, dir, name, text string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded 2-core machine
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func row(t *testing.T, s *Supervisor, name string) (state string, pid, restarts int) {
	t.Helper()
	st, err := s.Status([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	r := st.Services[0]
	return r.State, r.Pid, r.Restarts
}

func TestRestoredServiceSurvivesACoreRestart(t *testing.T) {
	dir := t.TempDir()
	mgr, err := proc.NewManager(proc.Options{InstanceID: fmt.Sprintf("suptest-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	runner := &testRunner{m: mgr, last: map[string]*proc.Process{}, spawns: map[string]int{}}
	t.Cleanup(func() {
		runner.mu.Lock()
		defer runner.mu.Unlock()
		for _, p := range runner.last {
			_ = p.KillTree()
		}
	})
	capture, err := logs.NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { capture.Close() })

	head := fmt.Sprintf("version: 1\nsupervisor: {state_dir: %s}\nservices:\n", filepath.Join(dir, "state"))
	sleeper := "  sleeper:\n    command: [sh, -c, 'echo hello; exec sleep 300']\n    restart: {backoff: {initial: 10ms}}\n    stop: {timeout: 5s}\n"
	web := "  web:\n    command: [sleep, '300']\n    depends_on: {sleeper: ready}\n    stop: {timeout: 5s}\n"
	cfg1 := loadConfig(t, dir, "one.yaml", head+sleeper)
	cfg2 := loadConfig(t, dir, "two.yaml", head+sleeper+web)

	store1 := &savedStore{all: map[string]service.Saved{}}
	sup1, err := New(cfg1, Options{Runner: runner, Capture: localCapture{capture}, Save: store1.save})
	if err != nil {
		t.Fatal(err)
	}
	sup1.Start()
	eventually(t, "sleeper to run", func() bool { st, pid, _ := row(t, sup1, "sleeper"); return st == "running" && pid > 0 })
	files, err := sup1.LogFiles([]string{"sleeper"})
	if err != nil || len(files) != 1 {
		t.Fatalf("log files = %v, %v", files, err)
	}
	eventually(t, "the first line in the log", func() bool {
		b, _ := os.ReadFile(files[0].Path)
		return bytes.Contains(b, []byte("hello"))
	})
	// One crash under the first core, so that there is a count to carry over.
	p0, _ := runner.lastOf("sleeper")
	if err := p0.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first core to respawn it", func() bool {
		sv := store1.get("sleeper")
		return sv.State == "running" && sv.Gen == 2 && sv.Restarts == 1
	})
	// Abandoning the first supervisor closes its log's pipes (a keeper
	// would hold them): the new run must have printed before, or its echo
	// dies of SIGPIPE.
	eventually(t, "the respawned run's line in the log", func() bool {
		b, _ := os.ReadFile(files[0].Path)
		return bytes.Count(b, []byte("hello")) >= 2
	})
	abandon(sup1)

	live, spawns := runner.lastOf("sleeper")
	if live.Pid() == p0.Pid() {
		t.Fatal("the first core did not respawn")
	}
	saved := store1.get("sleeper")
	store2 := &savedStore{all: map[string]service.Saved{}}
	sup2, err := New(cfg2, Options{
		Runner: runner, Capture: localCapture{capture}, Save: store2.save,
		Restored: map[string]Restored{"sleeper": {Saved: saved, Process: live}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sup2.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	sup2.Start()

	st, pid, restarts := row(t, sup2, "sleeper")
	if st != "running" || pid != live.Pid() || restarts != 1 {
		t.Errorf("restored: %s pid %d restarts %d; want running pid %d restarts 1", st, pid, restarts, live.Pid())
	}
	// The restored service counts as ready for what depends on it.
	eventually(t, "web to run", func() bool { st, _, _ := row(t, sup2, "web"); return st == "running" })
	if _, n := runner.lastOf("sleeper"); n != spawns {
		t.Errorf("sleeper spawned %d times, want %d: the restored process was replaced", n, spawns)
	}

	// The second core owns it now: its crash is respawned, and counted.
	if err := live.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second core to respawn it", func() bool {
		st, pid, _ := row(t, sup2, "sleeper")
		return st == "running" && pid != live.Pid() && pid > 0
	})
	if _, _, restarts := row(t, sup2, "sleeper"); restarts != 2 {
		t.Errorf("restarts = %d, want 2 (1 saved + 1)", restarts)
	}
	w, err := sup2.Why("sleeper")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Exits) != 2 || w.Exits[1].Pid != live.Pid() || w.Exits[0].Pid != p0.Pid() {
		t.Errorf("exits = %+v, want the first core's and the second's", w.Exits)
	}
	if sv := store2.get("sleeper"); sv.Gen != 3 || sv.Restarts != 2 {
		t.Errorf("second core saved gen %d restarts %d, want 3, 2", sv.Gen, sv.Restarts)
	}
}
