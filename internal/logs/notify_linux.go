package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Followers wait for their file to change instead of polling it: one
// inotify instance for the process, one watch per folder followed (a
// service's log and its rotated files are all in one folder), and each
// change wakes the followers of that file name. An idle follower then
// costs nothing; the poll every followSafety only guards against a change
// inotify did not report.

// watchMask: writes, truncation, and the names a rotation moves.
const watchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// notifier is the process's one inotify instance.
type notifier struct {
	f *os.File // the inotify descriptor, read through the runtime's poller

	mu   sync.Mutex // guards the maps below, shared with the reading goroutine
	dirs map[string]*dirWatch
	byWd map[int32]*dirWatch
}

// dirWatch is one watched folder and the followers waiting on its files.
type dirWatch struct {
	dir  string
	wd   int32
	subs map[string]map[chan struct{}]struct{} // base name → wake channels
}

var (
	notifyOnce sync.Once
	notify     *notifier // nil where inotify cannot be had: followers poll
)

func theNotifier() *notifier {
	notifyOnce.Do(func() {
		fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
		if err != nil {
			return
		}
		n := &notifier{f: os.NewFile(uintptr(fd), "inotify"), dirs: map[string]*dirWatch{}, byWd: map[int32]*dirWatch{}}
		go n.read()
		notify = n
	})
	return notify
}

// watchFile returns a channel that receives (coalesced) when the file at
// path, or a name its rotation moves, changes; stop ends the watch. ok is
// false when no watch could be set up (no inotify, too many watches): the
// caller polls.
func watchFile(path string) (wake <-chan struct{}, stop func(), ok bool) {
	n := theNotifier()
	if n == nil {
		return nil, nil, false
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.dirs[dir]
	if w == nil {
		wd, err := unix.InotifyAddWatch(int(n.f.Fd()), dir, watchMask)
		if err != nil {
			return nil, nil, false
		}
		w = &dirWatch{dir: dir, wd: int32(wd), subs: map[string]map[chan struct{}]struct{}{}}
		n.dirs[dir], n.byWd[w.wd] = w, w
	}
	if w.subs[name] == nil {
		w.subs[name] = map[chan struct{}]struct{}{}
	}
	w.subs[name][ch] = struct{}{}
	stop = func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(w.subs[name], ch)
		if len(w.subs[name]) == 0 {
			delete(w.subs, name)
		}
		if len(w.subs) == 0 && n.dirs[dir] == w {
			_, _ = unix.InotifyRmWatch(int(n.f.Fd()), uint32(w.wd))
			delete(n.dirs, dir)
			delete(n.byWd, w.wd)
		}
	}
	return ch, stop, true
}

// read wakes the followers of each file that changed.
func (n *notifier) read() {
	buf := make([]byte, 64<<10)
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			// The descriptor is never closed; a failed read leaves the
			// followers to their safety poll.
			n.wakeAll()
			return
		}
		n.dispatch(buf[:k])
	}
}

func (n *notifier) dispatch(b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00"))
		b = b[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			n.wakeAllLocked()
			continue
		}
		w := n.byWd[ev.Wd]
		if w == nil {
			continue
		}
		if name == "" || ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			// The folder itself changed: everyone in it looks.
			for _, subs := range w.subs {
				wake(subs)
			}
			if ev.Mask&unix.IN_IGNORED != 0 {
				// The watch is gone (the folder was removed): its followers
				// keep their safety poll; the next follower watches anew.
				delete(n.byWd, w.wd)
				if n.dirs[w.dir] == w {
					delete(n.dirs, w.dir)
				}
			}
			continue
		}
		// A rotation renames web.log to web.log.1: both concern web.log's followers.
		wake(w.subs[name])
		if base, ok := rotatedBase(name); ok {
			wake(w.subs[base])
		}
	}
}

func (n *notifier) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeAllLocked()
}

func (n *notifier) wakeAllLocked() {
	for _, w := range n.dirs {
		for _, subs := range w.subs {
			wake(subs)
		}
	}
}

func wake(subs map[chan struct{}]struct{}) {
	for ch := range subs {
		select {
		case ch <- struct{}{}:
		default: // one pending wake is enough
		}
	}
}
