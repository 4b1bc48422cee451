//go:build linux || darwin || freebsd

package keeper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// listener accepts core connections on a Unix socket in the state dir
// (SOCK_SEQPACKET on Linux, a framed SOCK_STREAM on the POSIX path).
type listener struct {
	fd   int
	once sync.Once
}

// listen binds name in dir. Binding cannot refuse a symlink, but dir is
// checked, and what is removed before is only ever a socket of ours.
func listen(dir *statedir.Dir, name string) (*listener, error) {
	path := dir.Join(name)
	if err := dir.RemoveSocket(name); err != nil {
		return nil, fmt.Errorf("remove stale keeper socket: %w", err)
	}
	fd, err := newSocket(socketType(platform.Current()))
	if err != nil {
		return nil, fmt.Errorf("keeper socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind keeper socket %s: %w", path, err)
	}
	// The state dir is 0700 already; the socket is the keeper's alone too.
	if err := os.Chmod(path, 0o600); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("restrict keeper socket: %w", err)
	}
	if err := unix.Listen(fd, 4); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen on keeper socket: %w", err)
	}
	return &listener{fd: fd}, nil
}

func (l *listener) close() { l.once.Do(func() { unix.Close(l.fd) }) }

// accept hands every connection, with its peer's pid, to the main loop, which
// keeps only the one from the core it started.
func (k *Keeper) accept(l *listener) {
	for {
		fd, err := acceptConn(l.fd)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
			continue
		}
		if err != nil {
			return // closed
		}
		uid, pid, err := peerCred(fd)
		if err != nil || uid != os.Geteuid() {
			unix.Close(fd)
			continue
		}
		c := &coreConn{k: k, c: newConn(fd, !platform.Current().SeqPacket), pid: pid, out: newOutbox(), outDone: make(chan struct{})}
		go func() {
			defer close(c.outDone)
			c.out.run(c.c)
		}()
		k.emit(evConnected{c})
	}
}

// coreConn is the keeper's side of one core's connection.
type coreConn struct {
	k       *Keeper
	c       *conn
	pid     int
	out     *outbox
	outDone chan struct{} // closed when the outbox's writer has returned
	once    sync.Once
}

// shut closes the connection; the core sees EOF.
func (c *coreConn) shut() {
	c.once.Do(func() {
		c.out.close()
		_ = unix.Shutdown(c.c.fd, unix.SHUT_RDWR)
	})
}

// serve reads the core's messages until the connection ends.
func (c *coreConn) serve() {
	defer func() {
		// The writer may still be in a send: close the fd only after it returned.
		<-c.outDone
		c.c.close()
	}()
	for {
		m, files, err := c.c.recv()
		if err != nil {
			if !errors.Is(err, ErrPeerGone) {
				c.k.log.Warn("keeper connection", "err", err)
			}
			c.shut()
			c.k.emit(evConnGone{c})
			return
		}
		closeFiles(files) // the core never sends fds
		c.dispatch(m)
	}
}

func (c *coreConn) reply(id uint64, err error) {
	c.out.push(&message{Op: opReply, ID: id, Err: encodeError(err)})
}

func (c *coreConn) dispatch(m *message) {
	k := c.k
	switch m.Op {
	case opHello:
		k.hello(c, m.ID)
	case opEnv:
		k.mu.Lock()
		k.baseEnv = m.Env
		k.mu.Unlock()
	case opSink:
		c.reply(m.ID, k.openSink(m.Name, m.Path, m.Options))
	case opUnsink:
		k.closeSink(m.Name)
	case opSpawn:
		// Forks are serialized on the fork thread anyway; what surrounds
		// them (pipes, lookups, attaching the output) runs side by side.
		if m.Spec == nil {
			c.reply(m.ID, errors.New("spawn without a spec"))
			return
		}
		spec := *m.Spec
		k.mu.Lock()
		spec.BaseEnv = k.baseEnv
		sink := k.sinks[m.Sink]
		k.mu.Unlock()
		go k.spawn(c, m.ID, spec, m.Sink, sink)
	case opSignal:
		c.withProc(m, func(p *proc.Process) error { return p.Signal(sigOf(m.Sig)) })
	case opKill:
		c.withProc(m, func(p *proc.Process) error { return p.KillTree() })
	case opGone:
		p, err := k.lookup(m.Pid)
		if err != nil {
			c.reply(m.ID, err)
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.TimeoutMS)*time.Millisecond)
			defer cancel()
			c.reply(m.ID, p.WaitTreeGone(ctx))
		}()
	case opForget:
		go func() { c.reply(m.ID, k.forget(m.Name)) }()
	case opAdopt:
		k.adopt(c, m)
	case opMatch:
		k.match(c, m)
	case opUsage:
		p, err := k.lookup(m.Pid)
		if err != nil {
			c.reply(m.ID, err)
			return
		}
		cpu, mem, err := p.Usage()
		c.out.push(&message{Op: opReply, ID: m.ID, CPU: cpu, Mem: mem, Err: encodeError(err)})
	case opUsages:
		if len(m.Pids) > maxUsageBatch {
			c.reply(m.ID, fmt.Errorf("usage of %d processes at once, more than %d", len(m.Pids), maxUsageBatch))
			return
		}
		// Reading a few hundred trees' files takes a while: away from the
		// messages that follow (the reply finds its call by its ID).
		go func() {
			out := make([]usageOf, len(m.Pids))
			ps := make([]*proc.Process, len(m.Pids))
			for i, pid := range m.Pids {
				out[i].Pid = pid
				p, err := k.lookup(pid)
				if err != nil {
					out[i].Err = encodeError(err)
					continue
				}
				ps[i] = p
			}
			// Measured together: in process-group mode the process table
			// is read once for all of them, not once each.
			for i, u := range proc.Usages(ps) {
				if ps[i] == nil {
					continue
				}
				out[i].CPU, out[i].Mem, out[i].Err = u.CPU, u.Mem, encodeError(u.Err)
			}
			c.out.push(&message{Op: opReply, ID: m.ID, Usages: out})
		}()
	case opSave:
		k.mu.Lock()
		k.saved[m.Name] = m.Blob
		k.mu.Unlock()
	case opUnsave:
		k.mu.Lock()
		delete(k.saved, m.Name)
		k.mu.Unlock()
	case opReady:
		k.emit(evReady{c, m.Status})
	case opStatus:
		if err := k.opts.Notify("STATUS=" + m.Status); err != nil {
			k.log.Warn("sd_notify", "err", err)
		}
	case opPong:
		k.emit(evPong{c})
	case opUpgrade:
		k.emit(evUpgrade{c: c, id: m.ID, binary: m.Binary})
	case opBye:
		k.emit(evBye{c, m.Code})
	case opStopping:
		k.emit(evStopping{})
	case opListen:
		if m.Listen == nil {
			c.reply(m.ID, errors.New("listen without a socket"))
			return
		}
		go func() { c.reply(m.ID, k.openListener(*m.Listen)) }()
	case opUnlisten:
		k.closeListener(m.Name, m.Path)
		c.reply(m.ID, nil)
	default:
		if m.ID != 0 {
			c.reply(m.ID, fmt.Errorf("unknown operation %q", m.Op))
		}
	}
}

// sigOf turns a wire signal number into a signal, refusing nonsense.
func sigOf(n int) syscall.Signal {
	if n <= 0 || n > 64 {
		return 0 // signal 0 only checks the process exists
	}
	return syscall.Signal(n)
}

func (c *coreConn) withProc(m *message, fn func(*proc.Process) error) {
	p, err := c.k.lookup(m.Pid)
	if err == nil {
		err = fn(p)
	}
	c.reply(m.ID, err)
}

func (k *Keeper) lookup(pid int) (*proc.Process, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.procs[pid]
	if e == nil {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrUnknownPid)
	}
	if e.p == nil {
		return nil, fmt.Errorf("pid %d: %w", pid, os.ErrProcessDone)
	}
	return e.p, nil
}

// hello gives a connecting core the table, the saved states and the keeper's facts.
func (k *Keeper) hello(c *coreConn, id uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conn = c
	entries := make([]*entry, 0, len(k.procs))
	for _, e := range k.procs {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int { return int(a.seq - b.seq) })
	for _, e := range entries {
		m := &message{Op: opProc, Name: e.name, Pid: e.pid, StartedAt: e.startedAt, Sink: e.sink, Seq: e.seq}
		if e.exited {
			ex := e.exit
			m.Exit, m.OOM = &ex, e.oom
		}
		c.out.push(m)
		e.announced = true
		if e.exited && e.sink != "" && drainedNow(e) {
			c.out.push(&message{Op: opTail, Pid: e.pid, Lines: e.tail.Lines()})
		}
	}
	for name, blob := range k.saved {
		c.out.push(&message{Op: opSaved, Name: name, Blob: blob})
	}
	facts := k.lifecycle()
	h := &Hello{
		KeeperPid:    os.Getpid(),
		StartedAt:    k.started,
		Containment:  string(k.mgr.Containment()),
		Platform:     platform.Current().Name,
		CgroupBase:   k.mgr.CgroupBase(),
		CoreRestarts: facts.restarts,
		Previous:     facts.previous,
		Stopping:     facts.stopping,
		Upgrade:      facts.upgrade,
		Binary:       k.opts.Binary,
		Listeners:    k.listenerTableLocked(),
	}
	c.out.push(&message{Op: opReply, ID: id, Hello: h})
	k.wakeDrops() // a new core learns what the logs dropped so far
}

func drainedNow(e *entry) bool {
	for _, d := range e.drained {
		select {
		case <-d:
		default:
			return false
		}
	}
	return true
}

func (k *Keeper) openSink(name, path string, opts *logs.Options) error {
	var o logs.Options
	if opts != nil {
		o = *opts
	}
	k.mu.Lock()
	old := k.sinks[name]
	k.mu.Unlock()
	if old != nil && old.Path() == path {
		return nil // a restarted core asks again for what is open
	}
	s, err := k.openLog(k.capture, path, o)
	if err != nil {
		return err
	}
	s.OnDrops(k.wakeDrops)
	k.mu.Lock()
	k.sinks[name], k.sinkOpts[name] = s, o
	k.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			k.log.Warn("close log", "service", name, "err", err)
		}
	}
	return nil
}

// openLog opens a service's log in c. path must name a file of the state
// dir's logs dir, which it is opened through: never a file elsewhere, never
// through a symlink.
func (k *Keeper) openLog(c *logs.Capture, path string, o logs.Options) (*logs.Sink, error) {
	name := filepath.Base(path)
	if filepath.Dir(path) != k.logsDir.Path() {
		return nil, fmt.Errorf("log %s: not in %s", path, k.logsDir.Path())
	}
	return c.OpenIn(k.logsDir, name, o)
}

func (k *Keeper) closeSink(name string) {
	k.mu.Lock()
	s := k.sinks[name]
	delete(k.sinks, name)
	delete(k.sinkOpts, name)
	k.mu.Unlock()
	if s != nil {
		if err := s.Close(); err != nil {
			k.log.Warn("close log", "service", name, "err", err)
		}
	}
}

// tailLines is how many lines of each run are kept for its exit record.
const tailLines = 10

func (k *Keeper) spawn(c *coreConn, id uint64, spec proc.Spec, name string, sink *logs.Sink) {
	var p *proc.Process
	var err error
	if len(spec.Listen) > 0 {
		spec.Listen = slices.Clone(spec.Listen)
		var dups []*os.File
		if dups, err = k.attachListeners(spec.Listen); err == nil {
			p, err = k.mgr.Spawn(spec)
			closeFiles(dups)
		}
	} else {
		p, err = k.mgr.Spawn(spec)
	}
	if err != nil {
		c.reply(id, err)
		return
	}
	k.records.add(p.Pid(), p.Pid())
	var tail *logs.Tail
	var drained []<-chan struct{}
	var files []*os.File
	sinkName := ""
	if sink != nil {
		sinkName = name
		tail = logs.NewTail(tailLines)
		for _, s := range []struct {
			stream logs.Stream
			f      *os.File
		}{{logs.Stdout, p.Stdout()}, {logs.Stderr, p.Stderr()}} {
			d, err := sink.AttachTail(s.stream, s.f, tail)
			if err != nil {
				k.log.Warn("output capture", "service", spec.Name, "err", err)
				s.f.Close()
				continue
			}
			drained = append(drained, d)
		}
	} else {
		files = []*os.File{p.Stdout(), p.Stderr()}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.addEntryLocked(spec.Name, p, sinkName)
	e.tail, e.drained = tail, drained
	e.announced = k.conn == c
	c.out.push(&message{Op: opReply, ID: id, Pid: p.Pid(), StartedAt: p.StartedAt()}, files...)
	k.finishSpawnLocked(e)
}

func (k *Keeper) adopt(c *coreConn, m *message) {
	p, err := k.mgr.Adopt(m.Name, m.Pid)
	if err != nil {
		c.reply(m.ID, err)
		return
	}
	if start, err := observe.StartTime(p.Pid()); err == nil {
		k.records.addStart(p.Pid(), 0, start)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// An adopted daemon is not a new run: earlier entries of the name stay.
	k.seq++
	e := &entry{seq: k.seq, name: m.Name, pid: p.Pid(), startedAt: p.StartedAt(), p: p, gone: make(chan struct{}), announced: k.conn == c}
	k.procs[p.Pid()] = e
	c.out.push(&message{Op: opReply, ID: m.ID, Pid: p.Pid(), StartedAt: p.StartedAt()})
	k.finishSpawnLocked(e)
}

func (k *Keeper) forget(name string) error {
	err := k.mgr.Forget(name)
	k.mu.Lock()
	for pid, e := range k.procs {
		if e.name == name {
			k.dropLocked(pid, e)
		}
	}
	delete(k.saved, name)
	k.mu.Unlock()
	return err
}

// match answers once a line of the run matches: log readiness, decided where
// the lines are.
func (k *Keeper) match(c *coreConn, m *message) {
	re, err := regexp.Compile(m.Re)
	if err != nil {
		c.reply(m.ID, fmt.Errorf("ready log pattern: %w", err))
		return
	}
	k.mu.Lock()
	e := k.procs[m.Pid]
	k.mu.Unlock()
	if e == nil || e.tail == nil {
		c.reply(m.ID, fmt.Errorf("pid %d: %w", m.Pid, ErrUnknownPid))
		return
	}
	matched := e.tail.Match(re)
	go func() {
		select {
		case <-matched:
			c.reply(m.ID, nil)
		case <-e.gone:
			c.reply(m.ID, fmt.Errorf("pid %d: %w", m.Pid, os.ErrProcessDone))
		}
	}()
}

// outbox queues messages to a core so that no sender blocks on the socket:
// the reaper and the capture report exits and tails through it.
type outbox struct {
	mu     sync.Mutex // guards q and closed
	q      []outMsg
	closed bool
	wake   chan struct{}
}

type outMsg struct {
	m     *message
	files []*os.File // closed once sent
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) push(m *message, files ...*os.File) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		closeFiles(files)
		return
	}
	o.q = append(o.q, outMsg{m, files})
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	q := o.q
	o.q = nil
	o.mu.Unlock()
	for _, om := range q {
		closeFiles(om.files)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run sends queued messages until the outbox is closed or a send fails.
func (o *outbox) run(c *conn) {
	for range o.wake {
		for {
			o.mu.Lock()
			if o.closed {
				o.mu.Unlock()
				return
			}
			if len(o.q) == 0 {
				o.mu.Unlock()
				break
			}
			om := o.q[0]
			o.q[0] = outMsg{}
			o.q = o.q[1:]
			o.mu.Unlock()
			err := c.send(om.m, om.files...)
			closeFiles(om.files)
			if err != nil {
				o.close()
				return
			}
		}
	}
}
