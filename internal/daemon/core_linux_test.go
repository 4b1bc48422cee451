package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/journal"
	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/server"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/statedir"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// fakeLink plays the keeper for the core's control loop: the test sends
// its requests and reads what the core answered.
type fakeLink struct {
	ctl    chan keeper.Control
	closed chan struct{}

	mu    sync.Mutex // guards calls
	calls []string
	said  chan string // every call, as it happens
}

func newFakeLink() *fakeLink {
	return &fakeLink{ctl: make(chan keeper.Control), closed: make(chan struct{}), said: make(chan string, 64)}
}

func (f *fakeLink) note(call string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	f.said <- call
	return nil
}

func (f *fakeLink) Control() <-chan keeper.Control { return f.ctl }
func (f *fakeLink) Closed() <-chan struct{}        { return f.closed }
func (f *fakeLink) Pong() error                    { return f.note("pong") }
func (f *fakeLink) Ready(status string) error      { return f.note("ready") }
func (f *fakeLink) Stopping() error                { return f.note("stopping") }
func (f *fakeLink) Bye(code int) error             { return f.note(fmt.Sprintf("bye %d", code)) }
func (f *fakeLink) KillOrphans() error             { return f.note("kill-orphans") }

// await waits for the core to make call.
func (f *fakeLink) await(t *testing.T, call string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case c := <-f.said:
			if c == call {
				return
			}
		case <-deadline:
			t.Fatalf("the core never said %q (calls: %v)", call, f.all())
		}
	}
}

func (f *fakeLink) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// procRunner spawns in this process, as a keeper would in its own; the
// services' output is not captured here.
type procRunner struct{ m *proc.Manager }

func (r procRunner) Spawn(spec proc.Spec) (service.Process, error) { return r.m.Spawn(spec) }
func (r procRunner) SpawnOutput(spec proc.Spec, _ service.Output) (service.Process, error) {
	return r.m.Spawn(spec)
}
func (r procRunner) Forget(name string) error { return r.m.Forget(name) }
func (r procRunner) Adopt(name string, pid int) (service.Process, error) {
	return r.m.Adopt(name, pid)
}
func (r procRunner) Watch(name string, pid int) (service.Process, error) {
	return proc.WatchPid(name, pid)
}

// testCore wires a core as startCore does, over a fake keeper link and a
// runner in this process, and runs it to ready.
type testCore struct {
	*core
	link   *fakeLink
	gone   atomic.Bool // what keeperGone answers
	path   string      // the config file
	sock   string
	result chan error // run's return, once it returned
}

func newTestCore(t *testing.T, services string) *testCore {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "respawn.yaml")
	writeConfig(t, path, state, services)
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := statedir.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := proc.NewManager(proc.Options{InstanceID: fmt.Sprintf("coretest-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	events, err := journal.Open(d.Join(journal.FileName), journal.Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(cfg, supervisor.Options{Logger: log, Runner: procRunner{mgr}, Journal: events,
		Environ: []string{"PATH=" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCore{link: newFakeLink(), path: path, sock: d.Join(sockName), result: make(chan error, 1)}
	tc.core = &core{log: log, dir: d, link: tc.link, hello: keeper.Hello{KeeperPid: os.Getppid()}, events: events, sup: sup,
		terms: make(chan os.Signal, 1), shutdown: make(chan struct{}, 1), served: make(chan error, 2),
		keeperGone: tc.gone.Load, keeperWait: 100 * time.Millisecond}
	tc.srv = tc.newServer(func(context.Context, string) error { return errors.New("no upgrades here") })
	sup.Resume()
	l, err := tc.srv.ListenSocket(tc.sock, server.Access{})
	if err != nil {
		t.Fatal(err)
	}
	tc.serve(l)
	if err := tc.ready(tc.sock, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
		_ = tc.srv.Close(ctx)
		events.Close()
		mgr.Close()
		d.Close()
	})
	go func() { tc.result <- tc.run() }()
	return tc
}

func writeConfig(t *testing.T, path, state, services string) {
	t.Helper()
	text := fmt.Sprintf("version: 1\nsupervisor: {state_dir: %q}\nservices:\n%s", state, services)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ended waits for run to return and gives its error.
func (tc *testCore) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-tc.result:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("the core's loop did not end")
		return nil
	}
}

func (tc *testCore) state(t *testing.T, name string) api.Service {
	t.Helper()
	st, err := tc.sup.Status([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	return st.Services[0]
}

func (tc *testCore) waitState(t *testing.T, name, state string) api.Service {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := tc.state(t, name)
		if r.State == state {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", name, r.State, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// The keeper's stop: every service stopped, the stop announced first and a
// bye last; the control socket is gone; pings are answered meanwhile.
func TestCoreStopsOnTheKeepersStop(t *testing.T) {
	tc := newTestCore(t, "  a: {command: [sleep, '401']}\n  b: {command: [sleep, '402'], depends_on: [a]}\n")
	tc.link.await(t, "ready")
	a := tc.waitState(t, "a", "running")
	tc.waitState(t, "b", "running")
	tc.link.ctl <- keeper.CtlPing
	tc.link.await(t, "pong")
	tc.link.ctl <- keeper.CtlStop
	if err := tc.ended(t); err != nil {
		t.Fatalf("run after a stop: %v", err)
	}
	calls := tc.link.all()
	if i, j := slices.Index(calls, "stopping"), slices.Index(calls, "bye 0"); i < 0 || j < i {
		t.Errorf("calls %v: want stopping, then bye 0", calls)
	}
	if alive(a.Pid) {
		t.Errorf("a (pid %d) still alive after the stop", a.Pid)
	}
	if _, err := os.Lstat(tc.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket after the stop: %v", err)
	}
}

// `respawn down` through the API stops like the keeper's stop.
func TestCoreStopsOnShutdownThroughTheAPI(t *testing.T) {
	tc := newTestCore(t, "  a: {command: [sleep, '403']}\n")
	tc.link.await(t, "ready")
	a := tc.waitState(t, "a", "running")
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", tc.sock)
	}}}
	resp, err := hc.Post("http://respawn"+api.PathShutdown, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := tc.ended(t); err != nil {
		t.Fatalf("run after down: %v", err)
	}
	tc.link.await(t, "bye 0")
	if alive(a.Pid) {
		t.Errorf("a (pid %d) still alive after down", a.Pid)
	}
}

// Quitting for an upgrade leaves every service running for the next core.
func TestCoreQuitsForAnUpgradeLeavingServices(t *testing.T) {
	tc := newTestCore(t, "  a: {command: [sleep, '404']}\n")
	tc.link.await(t, "ready")
	a := tc.waitState(t, "a", "running")
	tc.link.ctl <- keeper.CtlQuit
	if err := tc.ended(t); err != nil {
		t.Fatalf("run after quit: %v", err)
	}
	if !alive(a.Pid) {
		t.Errorf("a (pid %d) died with the quit", a.Pid)
	}
	if calls := tc.link.all(); slices.Contains(calls, "stopping") || slices.Contains(calls, "bye 0") {
		t.Errorf("calls %v: a quit stops nothing and says no bye", calls)
	}
	if _, err := os.Lstat(tc.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket after quit: %v", err)
	}
	_ = syscall.Kill(a.Pid, syscall.SIGKILL)
}

// A SIGTERM while the keeper lives is ignored; the keeper's death (seen
// through SIGTERM or a closed connection) kills what the services left.
func TestCoreAndItsKeepersEnd(t *testing.T) {
	t.Run("sigterm ignored, then the keeper dies", func(t *testing.T) {
		tc := newTestCore(t, "  a: {command: [sleep, '405']}\n")
		tc.link.await(t, "ready")
		tc.terms <- syscall.SIGTERM
		tc.link.ctl <- keeper.CtlPing // answered: the loop goes on
		tc.link.await(t, "pong")
		tc.gone.Store(true)
		tc.terms <- syscall.SIGTERM
		if err := tc.ended(t); err == nil || !strings.Contains(err.Error(), "keeper died") {
			t.Fatalf("run after the keeper's death: %v", err)
		}
		tc.link.await(t, "kill-orphans")
	})
	t.Run("connection lost, keeper alive", func(t *testing.T) {
		tc := newTestCore(t, "  a: {command: [sleep, '406']}\n")
		tc.link.await(t, "ready")
		close(tc.link.closed)
		if err := tc.ended(t); err == nil || !strings.Contains(err.Error(), "connection lost") {
			t.Fatalf("run after a lost connection: %v", err)
		}
		if slices.Contains(tc.link.all(), "kill-orphans") {
			t.Error("killed what the services left while the keeper lives")
		}
	})
	t.Run("control socket fails", func(t *testing.T) {
		tc := newTestCore(t, "  a: {command: [sleep, '407']}\n")
		tc.link.await(t, "ready")
		boom := errors.New("accept: boom")
		tc.served <- boom
		if err := tc.ended(t); !errors.Is(err, boom) {
			t.Fatalf("run after the socket failed: %v", err)
		}
	})
}

// The keeper's reload (SIGHUP) re-reads the file and applies it.
func TestCoreReloadsOnTheKeepersRequest(t *testing.T) {
	tc := newTestCore(t, "  a: {command: [sleep, '408']}\n")
	tc.link.await(t, "ready")
	tc.waitState(t, "a", "running")
	cfg, err := config.Load(tc.path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, tc.path, cfg.Supervisor.StateDir, "  a: {command: [sleep, '408']}\n  b: {command: [sleep, '409']}\n")
	tc.link.ctl <- keeper.CtlReload
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := tc.sup.Status([]string{"b"})
		if err == nil && st.Services[0].State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b not running after the reload: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A file with mistakes changes nothing.
	if err := os.WriteFile(tc.path, []byte("version: 1\nservices: {a: {comand: x}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc.link.ctl <- keeper.CtlReload
	tc.link.ctl <- keeper.CtlPing // the reload ran, or runs, beside the loop
	tc.link.await(t, "pong")
	if _, err := tc.sup.Status([]string{"a", "b"}); err != nil {
		t.Errorf("a bad file changed the set: %v", err)
	}
	// Nobody waits for a SIGHUP's reload: its failure is an event.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var found bool
		_ = tc.events.Follow(context.Background(), time.Time{}, 0, false, func(e api.Event) error {
			found = found || (e.Reason == "reload failed (SIGHUP)" && strings.Contains(e.Message, "comand"))
			return nil
		})
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event for the failed reload")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.link.ctl <- keeper.CtlStop
	if err := tc.ended(t); err != nil {
		t.Fatal(err)
	}
}

func TestRecordCoreStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := journal.Open(path, journal.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	recordCoreStart(j, keeper.Hello{}) // the first core: nothing to say
	recordCoreStart(j, keeper.Hello{Previous: &keeper.CoreEnd{Pid: 7, Exit: "signal: killed", Reason: keeper.ReasonCrashed, Output: "panic: x\n"}})
	recordCoreStart(j, keeper.Hello{Previous: &keeper.CoreEnd{Pid: 8, Exit: "signal: aborted", Reason: "hung: no answer for 30s"}})
	recordCoreStart(j, keeper.Hello{Previous: &keeper.CoreEnd{Pid: 9, Reason: keeper.ReasonUpgrade},
		Upgrade: &keeper.UpgradeResult{From: "/a", To: "/b", Active: "/a", Error: "the new core ended"}})
	var got []string
	if err := journal.ReadFile(context.Background(), path, time.Time{}, 0, func(e api.Event) error {
		got = append(got, e.Reason+" | "+e.Message)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"core crashed: signal: killed | panic: x",
		"core hung: no answer for 30s: signal: aborted | ",
		"upgrade rolled back | upgrade /a -> /b; running /a: the new core ended",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
