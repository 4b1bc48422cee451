//go:build linux

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
	"github.com/respawn-sh/respawn/internal/supervisor"
)

// fakeKeeper is a keeper connection whose services run as children of the
// test process, spawned by a proc.Manager, with their logs written here.
type fakeKeeper struct {
	hello   keeper.Hello
	saved   map[string]json.RawMessage
	control chan keeper.Control
	drops   chan keeper.LogDrops
	closed  chan struct{}
	close1  sync.Once

	runner  *localRunner
	capture *logs.Capture

	// What the core told the keeper, in the order it did.
	ready    chan string
	pongs    chan struct{}
	stopping chan struct{}
	bye      chan int
	orphans  chan struct{}

	mu      sync.Mutex // guards stored and saveErr
	stored  map[string]json.RawMessage
	saveErr error // what Save answers, when set
}

func newFakeKeeper(t *testing.T) *fakeKeeper {
	t.Helper()
	mgr, err := proc.NewManager(proc.Options{InstanceID: fmt.Sprintf("daemontest-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	capture, err := logs.NewCapture(nil)
	if err != nil {
		t.Fatal(err)
	}
	fk := &fakeKeeper{
		hello:    keeper.Hello{KeeperPid: os.Getppid(), StartedAt: time.Now(), Containment: "process-group", Binary: "respawn"},
		control:  make(chan keeper.Control),
		drops:    make(chan keeper.LogDrops),
		closed:   make(chan struct{}),
		runner:   &localRunner{m: mgr},
		capture:  capture,
		ready:    make(chan string, 1),
		pongs:    make(chan struct{}, 8),
		stopping: make(chan struct{}, 1),
		bye:      make(chan int, 1),
		orphans:  make(chan struct{}, 1),
		stored:   map[string]json.RawMessage{},
	}
	t.Cleanup(func() {
		fk.runner.killAll()
		mgr.Close()
		capture.Close()
	})
	return fk
}

func (f *fakeKeeper) Hello() keeper.Hello                   { return f.hello }
func (f *fakeKeeper) Table() []*keeper.Process              { return nil }
func (f *fakeKeeper) Saved() map[string]json.RawMessage     { return f.saved }
func (f *fakeKeeper) Forget(name string) error              { return f.runner.Forget(name) }
func (f *fakeKeeper) Control() <-chan keeper.Control        { return f.control }
func (f *fakeKeeper) Upgrade(context.Context, string) error { return nil }
func (f *fakeKeeper) LogDropped(string) uint64              { return 0 }
func (f *fakeKeeper) DropChanges() <-chan keeper.LogDrops   { return f.drops }
func (f *fakeKeeper) Closed() <-chan struct{}               { return f.closed }
func (f *fakeKeeper) Runner() supervisor.Runner             { return f.runner }
func (f *fakeKeeper) Capture() supervisor.Capture           { return localCapture{f.capture} }
func (f *fakeKeeper) Close() error                          { f.close1.Do(func() { close(f.closed) }); return nil }
func (f *fakeKeeper) Ready(status string) error             { f.ready <- status; return nil }
func (f *fakeKeeper) Pong() error                           { f.pongs <- struct{}{}; return nil }
func (f *fakeKeeper) Stopping() error                       { f.stopping <- struct{}{}; return nil }
func (f *fakeKeeper) Bye(code int) error                    { f.bye <- code; return nil }
func (f *fakeKeeper) KillOrphans() error                    { f.orphans <- struct{}{}; return nil }

func (f *fakeKeeper) Save(name string, blob []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return f.saveErr
	}
	f.stored[name] = blob
	return nil
}

func (f *fakeKeeper) storedState(name string) (service.Saved, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.stored[name]
	if !ok {
		return service.Saved{}, false
	}
	var s service.Saved
	if err := json.Unmarshal(b, &s); err != nil {
		return service.Saved{}, false
	}
	return s, true
}

// localRunner spawns in the test process.
type localRunner struct {
	m *proc.Manager

	mu    sync.Mutex // guards procs
	procs []*proc.Process
}

func (r *localRunner) Spawn(spec proc.Spec) (service.Process, error) {
	p, err := r.m.Spawn(spec)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	return p, nil
}

// SpawnOutput spawns and captures the run's output into out (a *logs.Sink
// of the fake's capture), as a keeper does into its own.
func (r *localRunner) SpawnOutput(spec proc.Spec, out service.Output) (service.Process, error) {
	sp, err := r.Spawn(spec)
	if err != nil {
		return nil, err
	}
	p := sp.(*proc.Process)
	c := &captured{Process: p, tail: logs.NewTail(10), drained: make(chan struct{})}
	sink, _ := out.(*logs.Sink)
	var streams []<-chan struct{}
	for _, st := range []struct {
		stream logs.Stream
		f      *os.File
	}{{logs.Stdout, p.Stdout()}, {logs.Stderr, p.Stderr()}} {
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

// captured is a process whose output the fake keeper captures.
type captured struct {
	*proc.Process
	tail    *logs.Tail
	drained chan struct{}
}

func (c *captured) Output() service.RunOutput               { return c }
func (c *captured) Match(re *regexp.Regexp) <-chan struct{} { return c.tail.Match(re) }
func (c *captured) Drained() <-chan struct{}                { return c.drained }
func (c *captured) Lines() []logs.Line                      { return c.tail.Lines() }

// localCapture opens logs written in the test's process.
type localCapture struct{ c *logs.Capture }

func (l localCapture) Open(path string, opts logs.Options) (supervisor.Sink, error) {
	sink, err := l.c.Open(path, opts)
	if err != nil {
		return nil, err
	}
	return sink, nil
}

func (r *localRunner) Forget(name string) error { return r.m.Forget(name) }

func (r *localRunner) Adopt(name string, pid int) (service.Process, error) {
	return nil, fmt.Errorf("adopt %s: not in these tests", name)
}

func (r *localRunner) Watch(name string, pid int) (service.Process, error) {
	return nil, fmt.Errorf("watch %s: not in these tests", name)
}

func (r *localRunner) killAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		_ = p.KillTree()
	}
}

// logBuffer collects a core's log for the tests to read.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
