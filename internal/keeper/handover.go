//go:build linux || darwin || freebsd

package keeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
	"github.com/respawn-sh/respawn/internal/platform"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/proc/cleanup"
	"github.com/respawn-sh/respawn/internal/proc/observe"
	"github.com/respawn-sh/respawn/internal/statedir"
)

// handoverVersion numbers the handover file's format.
const handoverVersion = 1

// handover is everything a keeper image passes to the next one: the table,
// the output streams (their fds survive the exec), the logs, the saved states.
type handover struct {
	Version       int                        `json:"version"`
	StateDir      string                     `json:"state_dir"`
	InstanceID    string                     `json:"instance_id"`
	NoCgroup      bool                       `json:"no_cgroup"`
	Platform      string                     `json:"platform,omitempty"`
	Binary        string                     `json:"binary"`
	CoreArgs      []string                   `json:"core_args"`
	CoreEnv       []string                   `json:"core_env"`
	CoreTimeout   time.Duration              `json:"core_timeout"`
	LogLevel      string                     `json:"log_level"`
	LogFormat     string                     `json:"log_format"`
	LogRotation   logs.Options               `json:"log_rotation,omitzero"`
	ControlSocket string                     `json:"control_socket,omitempty"`
	LockFd        int                        `json:"lock_fd"`
	StartedAt     time.Time                  `json:"started_at"`
	Procs         []handoverProc             `json:"procs"`
	Streams       []handoverStream           `json:"streams"`
	Sinks         []handoverSink             `json:"sinks"`
	Saved         map[string]json.RawMessage `json:"saved"`
	BaseEnv       []string                   `json:"base_env"`
	CoreRestarts  int                        `json:"core_restarts"`
	Previous      *CoreEnd                   `json:"previous,omitempty"`
	Upgrade       *UpgradeResult             `json:"upgrade,omitempty"`
	UpgradeFrom   string                     `json:"upgrade_from,omitempty"`
	OldBinaryFd   int                        `json:"old_binary_fd,omitempty"`
	Stopping      bool                       `json:"stopping,omitempty"`
	ReadyReported bool                       `json:"ready_reported"`
	Listeners     []handoverListener         `json:"listeners,omitempty"`
}

// handoverListener is a held listening socket: the fd itself survives the
// exec, so the socket (its inode, its backlog) is the same one after.
type handoverListener struct {
	Spec ListenSpec `json:"spec"`
	Fd   int        `json:"fd"`
}

type handoverProc struct {
	Seq       uint64     `json:"seq"`
	Name      string     `json:"name"`
	Pid       int        `json:"pid"`
	Pgid      int        `json:"pgid"`
	StartedAt time.Time  `json:"started_at"`
	Sink      string     `json:"sink,omitempty"`
	Exit      *proc.Exit `json:"exit,omitempty"` // set when it ended before the handover
	OOM       bool       `json:"oom,omitempty"`
}

type handoverStream struct {
	Pid    int         `json:"pid"`
	Sink   string      `json:"sink"`
	Stream logs.Stream `json:"stream"`
	Fd     int         `json:"fd"`
	Carry  []byte      `json:"carry,omitempty"`
}

type handoverSink struct {
	Name    string       `json:"name"`
	Path    string       `json:"path"`
	Options logs.Options `json:"options"`
}

// evUpgradeChecked carries the outcome of running the new binary's check.
type evUpgradeChecked struct {
	c      *coreConn
	id     uint64
	binary string
	err    error
}

// checkUpgrade checks the binary an upgrade asks for, away from the loop:
// the answer comes back as an evUpgradeChecked.
func (l *loop) checkUpgrade(ev evUpgrade) {
	k := l.k
	bin := ev.binary
	if bin == "" {
		bin = k.opts.Binary
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		ev.c.reply(ev.id, fmt.Errorf("binary %s: %w", bin, err))
		return
	}
	go func() {
		err := k.checkBinary(abs)
		k.emit(evUpgradeChecked{c: ev.c, id: ev.id, binary: abs, err: err})
	}()
}

// refuseUpgrade answers an upgrade request, or its checked binary, with why
// it cannot go on now.
func (l *loop) refuseUpgrade(raw any) {
	var c *coreConn
	var id uint64
	switch ev := raw.(type) {
	case evUpgrade:
		c, id = ev.c, ev.id
	case evUpgradeChecked:
		c, id = ev.c, ev.id
	default:
		return
	}
	why := errors.New("the core changed during the upgrade check; try again")
	switch {
	case l.stopping:
		why = errors.New("the supervisor is stopping")
	case l.upgradeTo != "" || l.upgradeFrom != "":
		why = errors.New("an upgrade is already under way")
	}
	c.reply(id, why)
}

// quitForUpgrade answers the upgrade request and asks the core to quit:
// the exec follows its exit.
func (l *loop) quitForUpgrade(ev evUpgradeChecked) {
	ev.c.reply(ev.id, nil)
	l.k.log.Info("upgrading: the core quits, then the keeper re-execs", "binary", ev.binary)
	l.upgradeTo = ev.binary
	l.endReason = ReasonUpgrade
	ev.c.out.push(&message{Op: opQuit})
	l.armKill(l.core)
}

// checkTimeout bounds the new binary's check.
const checkTimeout = 10 * time.Second

// checkBinary runs `BINARY __keeper-check SAMPLE` and expects the line that
// proves it read the sample handover (see Check): a binary that is missing,
// not executable, for another machine, or not a respawn that reads this
// handover is refused before anything changes.
func (k *Keeper) checkBinary(bin string) error {
	sample, want, err := checkArgs()
	if err != nil {
		return fmt.Errorf("upgrade check: %w", err)
	}
	p, err := k.mgr.Spawn(proc.Spec{Name: ".upgrade-check", Args: []string{bin, "__keeper-check", sample}, Dir: "/"})
	if err != nil {
		return fmt.Errorf("new binary %s cannot start: %w", bin, err)
	}
	defer func() { _ = k.mgr.Forget(".upgrade-check") }()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := p.Stderr().Read(buf); err != nil {
				p.Stderr().Close()
				return
			}
		}
	}()
	outc := make(chan string, 1)
	go func() {
		b := make([]byte, 512)
		n, _ := readFull(p.Stdout(), b)
		p.Stdout().Close()
		outc <- string(b[:n])
	}()
	select {
	case <-p.Done():
	case <-time.After(checkTimeout):
		_ = p.KillTree()
		<-p.Done()
		return fmt.Errorf("new binary %s: its check did not finish within %s", bin, checkTimeout)
	}
	out := <-outc
	if ex := p.Exit(); ex.Code != 0 || ex.Signal != 0 {
		return fmt.Errorf("new binary %s failed its check: %s", bin, ex)
	}
	if got := strings.TrimSpace(out); got != want {
		return fmt.Errorf("new binary %s does not read this keeper's handover (asked to decode a sample, it answered %q)", bin, got)
	}
	return nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// execUpgrade hands the table over and execs the new binary. It returns only
// on failure, with the keeper still running its own binary.
func (l *loop) execUpgrade() error {
	k := l.k
	to := l.upgradeTo
	from := k.opts.Binary
	res := &UpgradeResult{At: time.Now(), From: from, To: to, Active: to}
	self, err := openSelfImage()
	if err != nil {
		return fmt.Errorf("keep the running binary for a rollback: %w", err)
	}
	err = l.handoverAndExec(to, to, res, from, int(self.Fd()))
	self.Close()
	return err
}

// rollback returns to the binary the keeper was upgraded from, through the
// fd kept open across the upgrade (the file may have been replaced since).
func (l *loop) rollback(cause error) {
	k := l.k
	k.log.Error("upgrade failed; rolling back", "from", k.opts.Binary, "to", l.upgradeFrom, "err", cause)
	res := &UpgradeResult{At: time.Now(), From: l.upgradeFrom, To: k.opts.Binary, Active: l.upgradeFrom,
		Error: "rolled back: " + cause.Error()}
	path := fdPath(l.rollbackFd)
	err := l.handoverAndExec(l.upgradeFrom, path, res, "", 0)
	k.log.Error("rollback failed; staying on the new binary", "err", err)
	l.upgradeFrom = ""
}

// handoverAndExec detaches the output streams, writes the handover file and
// execs. On failure it re-attaches the streams and returns the error.
func (l *loop) handoverAndExec(binary, execPath string, res *UpgradeResult, upgradeFrom string, oldFd int) error {
	k := l.k
	l.stopUpgradeTimer()
	dets, err := k.capture.Detach()
	if err != nil {
		return fmt.Errorf("detach output: %w", err)
	}
	h := k.handover(dets)
	h.Binary, h.Upgrade, h.UpgradeFrom, h.OldBinaryFd = binary, res, upgradeFrom, oldFd
	h.ReadyReported = l.readyOnce
	fds := h.inheritedFds()
	path := k.opts.Dir.Join(HandoverName)
	err = writeHandover(k.opts.Dir, h)
	if err == nil {
		err = inheritable(fds, true)
	}
	if err == nil {
		k.records.close(false)
		l.ln.close()
		env := os.Environ()
		err = proc.Reexec(execPath, []string{binary, "__keeper-resume", path}, env)
		_ = inheritable(fds, false)
		_ = k.records.resume(nil)
	}
	// Still here: put the streams back and carry on.
	files := make([]*os.File, len(dets))
	for i, d := range dets {
		files[i] = d.File
	}
	c, rerr := logs.NewCapture(k.log)
	if rerr == nil {
		k.mu.Lock()
		rerr = k.restoreOutputLocked(c, h.Sinks, h.Streams, files)
		k.mu.Unlock()
	} else {
		closeFiles(files)
	}
	if rerr != nil {
		k.log.Error("re-attach output after a failed exec", "err", rerr)
	}
	if ln, lerr := listen(k.opts.Dir, SocketName); lerr == nil {
		l.ln = ln
		go k.accept(ln)
	}
	return err
}

// handover builds the file's content from the table.
func (k *Keeper) handover(dets []logs.Detached) *handover {
	facts := k.lifecycle()
	k.mu.Lock()
	defer k.mu.Unlock()
	h := &handover{
		Version: handoverVersion, StateDir: k.opts.StateDir, InstanceID: k.opts.InstanceID, NoCgroup: k.opts.NoCgroup, Platform: platform.Current().Name,
		CoreArgs: k.opts.CoreArgs, CoreEnv: k.opts.CoreEnv, CoreTimeout: k.opts.CoreTimeout,
		LogLevel: k.opts.LogLevel, LogFormat: k.opts.LogFormat, LogRotation: k.opts.LogRotation, ControlSocket: k.opts.ControlSocket, StartedAt: k.started,
		Saved: k.saved, BaseEnv: k.baseEnv, CoreRestarts: facts.restarts, Previous: facts.previous,
		Stopping: facts.stopping,
	}
	if k.opts.Lock != nil {
		h.LockFd = int(k.opts.Lock.Fd())
	}
	byTail := map[*logs.Tail]int{}
	for _, e := range k.procs {
		hp := handoverProc{Seq: e.seq, Name: e.name, Pid: e.pid, Pgid: e.pid, StartedAt: e.startedAt, Sink: e.sink}
		if e.exited {
			ex := e.exit
			hp.Exit, hp.OOM = &ex, e.oom
		}
		if e.p != nil {
			hp.Pgid = e.p.Pgid()
		}
		h.Procs = append(h.Procs, hp)
		if e.tail != nil {
			byTail[e.tail] = e.pid
		}
	}
	for _, held := range k.listeners {
		h.Listeners = append(h.Listeners, handoverListener{Spec: held.spec, Fd: int(held.f.Fd())})
	}
	byPath := map[string]string{}
	for name, s := range k.sinks {
		h.Sinks = append(h.Sinks, handoverSink{Name: name, Path: s.Path(), Options: k.sinkOpts[name]})
		byPath[s.Path()] = name
	}
	for _, d := range dets {
		h.Streams = append(h.Streams, handoverStream{Pid: byTail[d.Tail], Sink: byPath[d.Path], Stream: d.Stream,
			Fd: int(d.File.Fd()), Carry: d.Carry})
	}
	return h
}

// inheritedFds are the descriptors a handover names: they must survive the exec.
func (h *handover) inheritedFds() []int {
	fds := []int{h.LockFd, h.OldBinaryFd}
	for _, s := range h.Streams {
		fds = append(fds, s.Fd)
	}
	for _, l := range h.Listeners {
		fds = append(fds, l.Fd)
	}
	return fds
}

// maxHandover bounds the handover file a new image reads.
const maxHandover = 256 << 20

// writeHandover writes h to the state dir, as a fresh file renamed into place.
func writeHandover(dir *statedir.Dir, h *handover) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode handover: %w", err)
	}
	if err := dir.WriteFile(HandoverName, b, 0o600); err != nil {
		return fmt.Errorf("write handover: %w", err)
	}
	return nil
}

// inheritable clears (or sets back) close-on-exec on fds.
func inheritable(fds []int, on bool) error {
	flag := unix.FD_CLOEXEC
	if on {
		flag = 0
	}
	for _, fd := range fds {
		if fd <= 0 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flag); err != nil {
			return fmt.Errorf("fd %d: %w", fd, err)
		}
	}
	return nil
}

// restoreOutputLocked makes c, a fresh capture, the keeper's: it holds the
// logs of sinks, with each stream (files[i] is the read end of streams[i])
// attached to its log and to its run's tail. It serves the image that takes
// over after an upgrade, and one whose exec failed. k.mu is held.
func (k *Keeper) restoreOutputLocked(c *logs.Capture, sinks []handoverSink, streams []handoverStream, files []*os.File) error {
	k.capture = c
	k.sinks, k.sinkOpts = make(map[string]*logs.Sink, len(sinks)), make(map[string]logs.Options, len(sinks))
	var errs []error
	for _, hs := range sinks {
		s, err := k.openLog(c, hs.Path, hs.Options)
		if err != nil {
			errs = append(errs, fmt.Errorf("reopen log of %s: %w", hs.Name, err))
			continue
		}
		s.OnDrops(k.wakeDrops)
		k.sinks[hs.Name], k.sinkOpts[hs.Name] = s, hs.Options
	}
	// What the previous capture would have closed on a run's end never will be.
	for _, e := range k.procs {
		e.drained = nil
	}
	for i, hs := range streams {
		f, s := files[i], k.sinks[hs.Sink]
		if f == nil || s == nil {
			if f != nil {
				f.Close()
			}
			continue
		}
		e := k.procs[hs.Pid]
		var tail *logs.Tail
		if e != nil {
			tail = e.tail
		}
		done, err := s.AttachCarry(hs.Stream, f, tail, hs.Carry)
		if err != nil {
			errs = append(errs, fmt.Errorf("re-attach output of %s: %w", hs.Sink, err))
			continue
		}
		if e != nil {
			e.drained = append(e.drained, done)
		}
	}
	return errors.Join(errs...)
}

// Resume is the new image's side of an upgrade: it reads the handover file,
// takes back the table, the streams and the logs, and runs the keeper.
// complete fills what the file cannot carry (the logger, sd_notify).
func Resume(path string, complete func(*Options) error) (int, error) {
	if filepath.Base(path) != HandoverName {
		return 1, fmt.Errorf("read handover: %s is not a %s", path, HandoverName)
	}
	dir, err := statedir.Open(filepath.Dir(path))
	if err != nil {
		return 1, fmt.Errorf("read handover: %w", err)
	}
	b, err := dir.ReadFile(HandoverName, maxHandover)
	if err != nil {
		return 1, fmt.Errorf("read handover: %w", err)
	}
	_ = dir.Remove(HandoverName)
	var h handover
	if err := json.Unmarshal(b, &h); err != nil {
		return 1, fmt.Errorf("decode handover: %w", err)
	}
	k, err := resumeKeeper(&h, dir, complete)
	if err != nil {
		// This image cannot take over: back to the one it came from, if
		// there is one, rather than taking every service down with it.
		return 1, resumeFailed(&h, dir, err)
	}
	k.log.Info("keeper resumed after upgrade", "binary", k.opts.Binary, "processes", len(k.procs))
	return k.run(&h)
}

// resumeFailed rolls an upgrade back when the new image cannot resume: it
// hands the same table to the old binary through the fd kept for that. It
// returns only when there is nothing to roll back to or the exec failed.
func resumeFailed(h *handover, dir *statedir.Dir, cause error) error {
	if h.UpgradeFrom == "" || h.OldBinaryFd <= 0 {
		return cause
	}
	fd := h.OldBinaryFd
	h.Upgrade = &UpgradeResult{At: time.Now(), From: h.UpgradeFrom, To: h.Binary, Active: h.UpgradeFrom,
		Error: "rolled back: the new binary could not resume: " + cause.Error()}
	h.Binary, h.UpgradeFrom, h.OldBinaryFd = h.UpgradeFrom, "", 0
	fds := h.inheritedFds()
	if err := writeHandover(dir, h); err != nil {
		return fmt.Errorf("%w; roll back: %w", cause, err)
	}
	if err := inheritable(fds, true); err != nil {
		return fmt.Errorf("%w; roll back: %w", cause, err)
	}
	err := proc.Reexec(fdPath(fd), []string{h.Binary, "__keeper-resume", dir.Join(HandoverName)}, os.Environ())
	return fmt.Errorf("%w; roll back: %w", cause, err)
}

// resumeKeeper rebuilds a keeper from a handover: table, streams, logs.
func resumeKeeper(h *handover, dir *statedir.Dir, complete func(*Options) error) (*Keeper, error) {
	if h.Version != handoverVersion {
		return nil, fmt.Errorf("handover version %d, this binary reads %d", h.Version, handoverVersion)
	}
	// The platform the services were started under stays (a handover
	// without one came from a Linux keeper).
	feat, err := platform.Choose(h.Platform)
	if err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	platform.Set(feat)
	opts := Options{
		StateDir: h.StateDir, InstanceID: h.InstanceID, NoCgroup: h.NoCgroup, Binary: h.Binary,
		CoreArgs: h.CoreArgs, CoreEnv: h.CoreEnv, CoreTimeout: h.CoreTimeout,
		LogLevel: h.LogLevel, LogFormat: h.LogFormat, LogRotation: h.LogRotation, ControlSocket: h.ControlSocket,
	}
	if dir.Path() == filepath.Clean(h.StateDir) {
		opts.Dir = dir
	}
	if h.LockFd > 0 {
		opts.Lock = os.NewFile(uintptr(h.LockFd), "lock")
	}
	if err := complete(&opts); err != nil {
		return nil, err
	}
	if h.ReadyReported {
		opts.Ready = nil
	}
	k, err := newKeeper(opts)
	if err != nil {
		return nil, err
	}
	k.saved = h.Saved
	if k.saved == nil {
		k.saved = make(map[string]json.RawMessage)
	}
	k.baseEnv = h.BaseEnv
	for _, hl := range h.Listeners {
		if hl.Fd < 3 {
			continue
		}
		unix.CloseOnExec(hl.Fd)
		k.listeners[listenKey(hl.Spec.Service, hl.Spec.Addr)] = &heldListener{spec: hl.Spec, f: os.NewFile(uintptr(hl.Fd), hl.Spec.Addr)}
	}
	// Before the loop runs: it takes these over.
	k.facts.Store(&coreFacts{restarts: h.CoreRestarts, previous: h.Previous, upgrade: h.Upgrade, stopping: h.Stopping})
	if !h.StartedAt.IsZero() {
		k.started = h.StartedAt
	}
	// The table first, so that an exit reaped as soon as the manager exists
	// finds its entry.
	var children []proc.Child
	var live []*entry
	var recs []cleanup.Record
	for _, hp := range h.Procs {
		e := &entry{seq: hp.Seq, name: hp.Name, pid: hp.Pid, startedAt: hp.StartedAt, sink: hp.Sink, gone: make(chan struct{})}
		if hp.Exit != nil {
			e.exited, e.exit, e.oom = true, *hp.Exit, hp.OOM
		} else {
			children = append(children, proc.Child{Name: hp.Name, Pid: hp.Pid, Pgid: hp.Pgid, StartedAt: hp.StartedAt})
			live = append(live, e)
			if start, err := observe.StartTime(hp.Pid); err == nil {
				recs = append(recs, cleanup.Record{Pid: hp.Pid, Pgid: hp.Pgid, Start: start})
			}
		}
		if e.sink != "" {
			e.tail = logs.NewTail(tailLines)
		}
		k.procs[hp.Pid] = e
		k.seq = max(k.seq, hp.Seq)
	}
	if err := k.records.resume(recs); err != nil {
		k.log.Warn("process records", "err", err)
	}
	mgr, err := proc.NewManager(proc.Options{Logger: k.log, InstanceID: opts.InstanceID, NoCgroup: opts.NoCgroup, OnExit: k.onExit, OnTrack: k.onTrack, Resume: children})
	if err != nil {
		return nil, fmt.Errorf("process manager: %w", err)
	}
	k.mgr = mgr
	k.mu.Lock()
	for i, p := range mgr.Resumed() {
		live[i].p = p
	}
	k.mu.Unlock()
	c, err := logs.NewCapture(k.log)
	if err != nil {
		return nil, fmt.Errorf("output capture: %w", err)
	}
	files := make([]*os.File, len(h.Streams))
	for i, hs := range h.Streams {
		files[i] = os.NewFile(uintptr(hs.Fd), "output")
	}
	k.mu.Lock()
	err = k.restoreOutputLocked(c, h.Sinks, h.Streams, files)
	k.mu.Unlock()
	if err != nil {
		k.log.Error("output after the upgrade", "err", err)
	}
	k.mu.Lock()
	for _, e := range live {
		if e.p != nil {
			k.finishSpawnLocked(e)
		}
	}
	k.mu.Unlock()
	return k, nil
}
