//go:build linux || darwin || freebsd

package keeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc"
)

// Control is a keeper's instruction to its core.
type Control int

// The instructions.
const (
	CtlPing   Control = iota // answer with Pong from the main loop
	CtlStop                  // stop every service in order, then Bye
	CtlReload                // reload the config
	CtlQuit                  // exit now, leaving the services running
)

// Client is the core's side of the keeper connection. Its methods are safe
// for concurrent use.
type Client struct {
	c       *conn
	control chan Control
	closed  chan struct{}

	mu       sync.Mutex // guards the client's call table and process handles below
	nextID   uint64
	pending  map[uint64]*call
	procs    map[int]*Process
	lastBase []string
	err      error

	hello *Hello
	table []*Process
	saved map[string]json.RawMessage
	// drops is what the keeper said of each log's dropped lines, by name ("" the
	// supervisor's own log).
	drops map[string]LogDrops

	dropChanges chan LogDrops
}

// LogDrops is a log file that dropped lines: writes to it failed (a full disk).
type LogDrops struct {
	// Name is the log's name as opened (OpenSink); "" for the supervisor's own log.
	Name string
	// Dropping: the last write failed and none succeeded since.
	Dropping bool
	// Dropped counts the lines lost since the keeper opened the log.
	Dropped uint64
}

type call struct {
	done    chan struct{}
	m       *message
	files   []*os.File
	onReply func(*message, []*os.File) // run on the receiving goroutine, before the caller wakes
}

// Dial connects to the keeper at path and says hello: the returned client
// knows the keeper's table and the saved states.
func Dial(path string) (*Client, error) {
	fd, err := newSocket(socketType(platform.Current()))
	if err != nil {
		return nil, fmt.Errorf("keeper socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect to keeper %s: %w", path, err)
	}
	cl := &Client{
		c:       newConn(fd, !platform.Current().SeqPacket),
		control: make(chan Control, 8),
		closed:  make(chan struct{}),
		pending: make(map[uint64]*call),
		procs:   make(map[int]*Process),
		saved:   make(map[string]json.RawMessage),
		drops:   make(map[string]LogDrops),
		// Bounded: a core that falls behind loses change notes, never counts.
		dropChanges: make(chan LogDrops, 64),
	}
	go cl.receive()
	rep, _, err := cl.call(context.Background(), &message{Op: opHello}, nil)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("keeper hello: %w", err)
	}
	if rep.Hello == nil {
		cl.Close()
		return nil, errors.New("keeper hello: empty answer")
	}
	cl.hello = rep.Hello
	return cl, nil
}

// Hello returns what the keeper said on connection.
func (cl *Client) Hello() Hello { return *cl.hello }

// Table returns the keeper's processes as they were at hello, oldest first:
// live ones, and ended ones whose exit no core has handled yet (their Done is closed).
func (cl *Client) Table() []*Process { return cl.table }

// Saved returns the saved state of every service, as the keeper kept it.
func (cl *Client) Saved() map[string]json.RawMessage { return cl.saved }

// Control delivers the keeper's instructions.
func (cl *Client) Control() <-chan Control { return cl.control }

// DropChanges gets a LogDrops each time a log starts or stops dropping lines.
func (cl *Client) DropChanges() <-chan LogDrops { return cl.dropChanges }

// LogDropped returns how many lines the named log dropped ("" the supervisor's own).
func (cl *Client) LogDropped(name string) uint64 {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.drops[name].Dropped
}

// drops records what the keeper says of a log, and passes a change of its
// dropping on.
func (cl *Client) dropNote(d LogDrops) {
	cl.mu.Lock()
	was := cl.drops[d.Name]
	cl.drops[d.Name] = d
	cl.mu.Unlock()
	if d.Dropping == was.Dropping {
		return
	}
	select {
	case cl.dropChanges <- d:
	default:
	}
}

// Closed is closed when the connection to the keeper ends.
func (cl *Client) Closed() <-chan struct{} { return cl.closed }

// Close ends the connection.
func (cl *Client) Close() error {
	return unix.Shutdown(cl.c.fd, unix.SHUT_RDWR)
}

func (cl *Client) receive() {
	defer func() {
		cl.mu.Lock()
		if cl.err == nil {
			cl.err = ErrPeerGone
		}
		for id, c := range cl.pending {
			delete(cl.pending, id)
			close(c.done)
		}
		cl.mu.Unlock()
		close(cl.closed)
		cl.c.close()
	}()
	for {
		m, files, err := cl.c.recv()
		if err != nil {
			cl.mu.Lock()
			cl.err = err
			cl.mu.Unlock()
			return
		}
		switch m.Op {
		case opReply:
			cl.mu.Lock()
			c := cl.pending[m.ID]
			delete(cl.pending, m.ID)
			cl.mu.Unlock()
			if c == nil {
				closeFiles(files)
				continue
			}
			c.m, c.files = m, files
			if c.onReply != nil && m.Err == nil {
				c.onReply(m, files)
			}
			close(c.done)
		case opProc:
			p := cl.newProcess(m.Name, m.Pid, m.StartedAt, m.Sink != "", nil, nil)
			if m.Exit != nil {
				cl.exited(m.Pid, *m.Exit, m.OOM, false)
			}
			cl.table = append(cl.table, p)
		case opSaved:
			cl.saved[m.Name] = m.Blob
		case opExit:
			if m.Exit != nil {
				cl.exited(m.Pid, *m.Exit, m.OOM, m.Gone)
			}
		case opTail:
			cl.tail(m.Pid, m.Lines)
		case opDrops:
			cl.dropNote(LogDrops{Name: m.Name, Dropping: m.Dropping, Dropped: m.Seq})
		case opPing:
			cl.send(CtlPing)
		case opStop:
			cl.send(CtlStop)
		case opReload:
			cl.send(CtlReload)
		case opQuit:
			cl.send(CtlQuit)
		}
		if m.Op != opReply {
			closeFiles(files)
		}
	}
}

// send queues an instruction; pings are dropped while one is pending, as the
// keeper only needs to know the loop turns.
func (cl *Client) send(c Control) {
	if c == CtlPing {
		select {
		case cl.control <- c:
		default:
		}
		return
	}
	cl.control <- c
}

// call sends a request and waits for its reply (or ctx's end).
func (cl *Client) call(ctx context.Context, m *message, onReply func(*message, []*os.File)) (*message, []*os.File, error) {
	c := &call{done: make(chan struct{}), onReply: onReply}
	cl.mu.Lock()
	if cl.err != nil {
		err := cl.err
		cl.mu.Unlock()
		return nil, nil, err
	}
	cl.nextID++
	m.ID = cl.nextID
	cl.pending[m.ID] = c
	cl.mu.Unlock()
	if err := cl.c.send(m); err != nil {
		cl.mu.Lock()
		delete(cl.pending, m.ID)
		cl.mu.Unlock()
		return nil, nil, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		cl.mu.Lock()
		delete(cl.pending, m.ID)
		cl.mu.Unlock()
		return nil, nil, ctx.Err()
	}
	if c.m == nil {
		cl.mu.Lock()
		err := cl.err
		cl.mu.Unlock()
		return nil, nil, err
	}
	if err := c.m.Err.decode(); err != nil {
		closeFiles(c.files)
		return nil, nil, err
	}
	return c.m, c.files, nil
}

// notice sends a message that needs no reply.
func (cl *Client) notice(m *message) error { return cl.c.send(m) }

// Spawn starts spec in the keeper. With sink set, the output goes to that log
// (opened with OpenSink) and the Process reports its lines through Match and
// Lines; without, the output pipes come back as Stdout and Stderr.
func (cl *Client) Spawn(spec proc.Spec, sink string) (*Process, error) {
	cl.mu.Lock()
	sendBase := !slices.Equal(spec.BaseEnv, cl.lastBase)
	if sendBase {
		cl.lastBase = spec.BaseEnv
	}
	cl.mu.Unlock()
	if sendBase {
		if err := cl.notice(&message{Op: opEnv, Env: spec.BaseEnv}); err != nil {
			return nil, err
		}
	}
	wire := spec
	wire.BaseEnv = nil
	var p *Process
	_, _, err := cl.call(context.Background(), &message{Op: opSpawn, Spec: &wire, Sink: sink}, func(m *message, files []*os.File) {
		var stdout, stderr *os.File
		if len(files) == 2 {
			stdout, stderr = files[0], files[1]
		} else {
			closeFiles(files)
		}
		p = cl.newProcess(spec.Name, m.Pid, m.StartedAt, sink != "", stdout, stderr)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Adopt takes over a daemon a service's launcher left behind.
func (cl *Client) Adopt(name string, pid int) (*Process, error) {
	var p *Process
	_, _, err := cl.call(context.Background(), &message{Op: opAdopt, Name: name, Pid: pid}, func(m *message, _ []*os.File) {
		p = cl.newProcess(name, m.Pid, m.StartedAt, false, nil, nil)
	})
	return p, err
}

// Forget tells the keeper a service is gone for good: what is left of it is killed.
func (cl *Client) Forget(name string) error {
	_, _, err := cl.call(context.Background(), &message{Op: opForget, Name: name}, nil)
	return err
}

// OpenSink opens (or keeps open) the log of a service in the keeper.
func (cl *Client) OpenSink(name, path string, opts logs.Options) error {
	_, _, err := cl.call(context.Background(), &message{Op: opSink, Name: name, Path: path, Options: &opts}, nil)
	return err
}

// CloseSink closes a service's log in the keeper.
func (cl *Client) CloseSink(name string) error {
	return cl.notice(&message{Op: opUnsink, Name: name})
}

// Save gives the keeper what a service must keep across core restarts.
func (cl *Client) Save(name string, blob []byte) error {
	return cl.notice(&message{Op: opSave, Name: name, Blob: blob})
}

// Unsave drops a service's saved state.
func (cl *Client) Unsave(name string) error { return cl.notice(&message{Op: opUnsave, Name: name}) }

// Ready tells the keeper the services are started; status is a one-line summary.
func (cl *Client) Ready(status string) error {
	return cl.notice(&message{Op: opReady, Status: status})
}

// Status updates the one-line summary.
func (cl *Client) Status(status string) error {
	return cl.notice(&message{Op: opStatus, Status: status})
}

// Pong answers a ping.
func (cl *Client) Pong() error { return cl.notice(pongMessage) }

// Stopping tells the keeper an ordered stop began, so that a core dying
// during it is followed by one that finishes it.
func (cl *Client) Stopping() error { return cl.notice(&message{Op: opStopping}) }

// Bye tells the keeper the ordered stop is done and it may exit with code.
func (cl *Client) Bye(code int) error { return cl.notice(&message{Op: opBye, Code: code}) }

// Upgrade asks the keeper to re-exec itself with binary ("" for its own
// path). It returns once the binary passed its check; the keeper then tells
// this core to quit.
func (cl *Client) Upgrade(ctx context.Context, binary string) error {
	_, _, err := cl.call(ctx, &message{Op: opUpgrade, Binary: binary}, nil)
	return err
}

// KillOrphans kills every service process this core knows of, and what they
// started: the last act of a core whose keeper died. The keeper's children
// got its parent-death signal already; their own children did not. In cgroup
// mode each service's cgroup is killed whole (not the base, which holds this
// core: killing it first would stop the kill half-way).
func (cl *Client) KillOrphans() error {
	var errs []error
	if base := cl.hello.CgroupBase; base != "" {
		entries, err := os.ReadDir(base)
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == coreName {
				continue
			}
			if err := os.WriteFile(filepath.Join(base, e.Name(), "cgroup.kill"), []byte("1"), 0); err != nil {
				errs = append(errs, err)
			}
		}
	}
	cl.mu.Lock()
	var pids []int
	for pid, p := range cl.procs {
		select {
		case <-p.done:
		default:
			pids = append(pids, pid)
		}
	}
	cl.mu.Unlock()
	for _, pid := range pids {
		// Spawned processes lead their own group; it still exists while any
		// member lives, so its number cannot have been reused.
		if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	return errors.Join(errs...)
}

func (cl *Client) newProcess(name string, pid int, startedAt time.Time, captured bool, stdout, stderr *os.File) *Process {
	p := &Process{cl: cl, name: name, pid: pid, startedAt: startedAt, stdout: stdout, stderr: stderr,
		captured: captured, done: make(chan struct{}), drained: make(chan struct{})}
	if !captured {
		close(p.drained)
	}
	cl.mu.Lock()
	cl.procs[pid] = p
	cl.mu.Unlock()
	return p
}

func (cl *Client) exited(pid int, e proc.Exit, oom, gone bool) {
	cl.mu.Lock()
	p := cl.procs[pid]
	if p != nil && !p.captured {
		delete(cl.procs, pid)
	}
	cl.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.exit, p.oom, p.emptied = e, oom, gone
	close(p.done)
	cl.mu.Lock()
	f := p.onDone
	p.onDone = nil
	cl.mu.Unlock()
	if f != nil {
		f()
	}
}

func (cl *Client) tail(pid int, lines []logs.Line) {
	cl.mu.Lock()
	p := cl.procs[pid]
	delete(cl.procs, pid)
	cl.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.drained:
	default:
		p.lines = lines
		close(p.drained)
	}
}

// Process is a process in the keeper, seen from the core.
type Process struct {
	cl        *Client
	name      string
	pid       int
	startedAt time.Time
	stdout    *os.File
	stderr    *os.File
	captured  bool

	done    chan struct{}
	exit    proc.Exit // set before done is closed
	oom     bool
	emptied bool // nothing of the tree was left at the exit; set before done is closed
	// onDone is called once done is closed (see OnDone); guarded by cl.mu.
	onDone func()

	drained chan struct{}
	lines   []logs.Line // set before drained is closed
}

// Name returns the name the process was spawned under.
func (p *Process) Name() string { return p.name }

// Pid returns the process id.
func (p *Process) Pid() int { return p.pid }

// StartedAt returns when it was forked.
func (p *Process) StartedAt() time.Time { return p.startedAt }

// Stdout is the read end of its stdout when its output was not captured by the keeper.
func (p *Process) Stdout() *os.File { return p.stdout }

// Stderr is the read end of its stderr when its output was not captured by the keeper.
func (p *Process) Stderr() *os.File { return p.stderr }

// Done is closed once the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// OnDone calls f once Done is closed, at once if it is: a waiter needs no
// goroutine parked on Done. f runs on the client's reader and must not block;
// a later call replaces an f not yet called.
func (p *Process) OnDone(f func()) {
	p.cl.mu.Lock()
	select {
	case <-p.done:
		p.cl.mu.Unlock()
		f()
		return
	default:
	}
	p.onDone = f
	p.cl.mu.Unlock()
}

// Exit says how it ended; valid once Done is closed.
func (p *Process) Exit() proc.Exit {
	select {
	case <-p.done:
		return p.exit
	default:
		return proc.Exit{}
	}
}

// OOMKilled reports whether the kernel's OOM killer ended it.
func (p *Process) OOMKilled() bool {
	select {
	case <-p.done:
		return p.oom
	default:
		return false
	}
}

// Signal sends sig to the process's tree.
func (p *Process) Signal(sig unix.Signal) error {
	_, _, err := p.cl.call(context.Background(), &message{Op: opSignal, Pid: p.pid, Sig: int(sig)}, nil)
	return p.gone(err)
}

// KillTree kills the whole tree.
func (p *Process) KillTree() error {
	if p.treeGone() {
		return nil
	}
	_, _, err := p.cl.call(context.Background(), &message{Op: opKill, Pid: p.pid}, nil)
	return p.gone(err)
}

// treeGone reports whether the keeper said, with the exit, that nothing of
// the tree was left: it stays so, and there is nothing to kill or wait for.
func (p *Process) treeGone() bool {
	select {
	case <-p.done:
		return p.emptied
	default:
		return false
	}
}

// gone maps "the keeper no longer has it" to os.ErrProcessDone.
func (p *Process) gone(err error) error {
	if errors.Is(err, ErrUnknownPid) {
		return fmt.Errorf("%s (pid %d): %w", p.name, p.pid, os.ErrProcessDone)
	}
	return err
}

// WaitTreeGone returns once no process of the tree remains, or ctx's error.
func (p *Process) WaitTreeGone(ctx context.Context) error {
	if p.treeGone() {
		return nil
	}
	timeout := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	_, _, err := p.cl.call(ctx, &message{Op: opGone, Pid: p.pid, TimeoutMS: max(timeout.Milliseconds(), 1)}, nil)
	if errors.Is(err, ErrUnknownPid) {
		return nil // the keeper dropped it: long gone
	}
	return err
}

// Usage returns the CPU time and memory of the tree.
func (p *Process) Usage() (time.Duration, uint64, error) {
	rep, _, err := p.cl.call(context.Background(), &message{Op: opUsage, Pid: p.pid}, nil)
	if err != nil {
		return 0, 0, err
	}
	return rep.CPU, rep.Mem, nil
}

// Usage is one process tree's CPU time and memory, or why it could not be measured.
type Usage struct {
	Pid int
	CPU time.Duration
	Mem uint64
	Err error
}

// Usages measures the trees of many processes in a few round trips (one
// per maxUsageBatch): what a status of every service asks. The result is
// in the order of pids.
func (cl *Client) Usages(ctx context.Context, pids []int) ([]Usage, error) {
	out := make([]Usage, 0, len(pids))
	for start := 0; start < len(pids); start += maxUsageBatch {
		chunk := pids[start:min(start+maxUsageBatch, len(pids))]
		rep, _, err := cl.call(ctx, &message{Op: opUsages, Pids: chunk}, nil)
		if err != nil {
			return nil, err
		}
		if len(rep.Usages) != len(chunk) {
			return nil, fmt.Errorf("usage: %d answers for %d processes", len(rep.Usages), len(chunk))
		}
		for i, u := range rep.Usages {
			out = append(out, Usage{Pid: chunk[i], CPU: u.CPU, Mem: u.Mem, Err: u.Err.decode()})
		}
	}
	return out, nil
}

// Match returns a channel closed once a line of this run matches re (the
// keeper holds the lines). It stays open if the run ends first.
func (p *Process) Match(re *regexp.Regexp) <-chan struct{} {
	ch := make(chan struct{})
	if !p.captured {
		return ch
	}
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-p.drained:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, _, err := p.cl.call(ctx, &message{Op: opMatch, Pid: p.pid, Re: re.String()}, nil); err == nil {
			close(ch)
		}
	}()
	return ch
}

// Drained is closed once the run's output is all written (at once when the
// keeper did not capture it).
func (p *Process) Drained() <-chan struct{} { return p.drained }

// Lines returns the run's last lines, once Drained.
func (p *Process) Lines() []logs.Line {
	select {
	case <-p.drained:
		return p.lines
	default:
		return nil
	}
}

// Listen asks the keeper to open the socket spec names and hold it, or, if
// it holds it already, to apply spec's settings to it.
func (cl *Client) Listen(spec ListenSpec) error {
	_, _, err := cl.call(context.Background(), &message{Op: opListen, Listen: &spec}, nil)
	return err
}

// Unlisten asks the keeper to close the socket of service at addr.
func (cl *Client) Unlisten(service, addr string) error {
	_, _, err := cl.call(context.Background(), &message{Op: opUnlisten, Name: service, Path: addr}, nil)
	return err
}
