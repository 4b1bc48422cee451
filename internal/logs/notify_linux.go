package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Followers wait for their file to change instead of polling it: one
// inotify instance for the process, one watch per folder followed (a
// service's log and its rotated files are all in one folder), and each
// change wakes the follow loops that follow that file name, telling each
// which of its files it was. An idle follower then costs nothing.

// watchMask: writes, truncation, and the names a rotation moves.
const watchMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// notifier is the process's one inotify instance.
type notifier struct {
	f *os.File // the inotify descriptor, read through the runtime's poller

	mu       sync.Mutex // guards the fields below, shared with the reading goroutine and the check
	dirs     map[string]*dirWatch
	byWd     map[int32]*dirWatch
	checking bool // a check of the folders is due
}

// dirCheckEvery is how often the watched folders are looked at while any
// is watched. A folder removed while a file in it is open (a follower's)
// stays in use, so the kernel reports neither its removal nor the end of
// its watch until that file is closed, and a folder made again under its
// name is not the one watched: the check finds both, and the followers of
// its files poll from then on. One stat per folder: the logs of every
// service share one.
var dirCheckEvery = 5 * time.Second

// dirWatch is one watched folder and the followers waiting on its files.
type dirWatch struct {
	dir      string
	wd       int32
	dev, ino uint64                      // the folder watched
	subs     map[string]map[sub]struct{} // base name → who follows it
}

// sub is one follower of a file: file i of the loop w wakes.
type sub struct {
	w *waiter
	i int
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

// watchFile marks file i of wt when the file at path, or a name its
// rotation moves, changes; stop ends the watch. ok is false when no watch
// could be set up (no inotify, too many watches): the caller polls.
func watchFile(path string, wt *waiter, i int) (stop func(), ok bool) {
	n := theNotifier()
	if n == nil {
		return nil, false
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	s := sub{wt, i}
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.dirs[dir]
	if w == nil {
		wd, err := unix.InotifyAddWatch(int(n.f.Fd()), dir, watchMask)
		if err != nil {
			return nil, false
		}
		w = &dirWatch{dir: dir, wd: int32(wd), subs: map[string]map[sub]struct{}{}}
		var st unix.Stat_t
		if unix.Stat(dir, &st) == nil { // else the check finds it gone
			w.dev, w.ino = uint64(st.Dev), st.Ino
		}
		n.dirs[dir], n.byWd[w.wd] = w, w
		if !n.checking {
			n.checking = true
			time.AfterFunc(dirCheckEvery, n.checkDirs)
		}
	}
	if w.subs[name] == nil {
		w.subs[name] = map[sub]struct{}{}
	}
	w.subs[name][s] = struct{}{}
	stop = func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(w.subs[name], s)
		if len(w.subs[name]) == 0 {
			delete(w.subs, name)
		}
		if len(w.subs) == 0 && n.dirs[dir] == w {
			_, _ = unix.InotifyRmWatch(int(n.f.Fd()), uint32(w.wd))
			delete(n.dirs, dir)
			delete(n.byWd, w.wd)
		}
	}
	return stop, true
}

// read wakes the followers of each file that changed.
func (n *notifier) read() {
	buf := make([]byte, 64<<10)
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			// The descriptor is never closed; after a failed read every
			// follower polls.
			n.wakeAll(true)
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
			// Reports were lost: everyone looks.
			n.wakeAllLocked(false)
			continue
		}
		w := n.byWd[ev.Wd]
		if w == nil {
			continue
		}
		if name == "" || ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
			// The folder itself changed: everyone in it looks. When the
			// watch is gone (the folder was removed), its followers poll
			// from now on; the next follower watches anew.
			gone := ev.Mask&unix.IN_IGNORED != 0
			for _, subs := range w.subs {
				wake(subs, gone)
			}
			if gone {
				delete(n.byWd, w.wd)
				if n.dirs[w.dir] == w {
					delete(n.dirs, w.dir)
				}
			}
			continue
		}
		// A rotation renames web.log to web.log.1: both concern web.log's followers.
		wake(w.subs[name], false)
		if base, ok := rotatedBase(name); ok {
			wake(w.subs[base], false)
		}
	}
}

// checkDirs ends the watch of each folder that is no longer at its name,
// making its followers poll, and runs again while folders are watched.
func (n *notifier) checkDirs() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for dir, w := range n.dirs {
		var st unix.Stat_t
		if unix.Stat(dir, &st) == nil && uint64(st.Dev) == w.dev && st.Ino == w.ino {
			continue
		}
		for _, subs := range w.subs {
			wake(subs, true)
		}
		_, _ = unix.InotifyRmWatch(int(n.f.Fd()), uint32(w.wd))
		delete(n.dirs, dir)
		delete(n.byWd, w.wd)
	}
	if len(n.dirs) == 0 {
		n.checking = false
		return
	}
	time.AfterFunc(dirCheckEvery, n.checkDirs)
}

func (n *notifier) wakeAll(lost bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeAllLocked(lost)
}

func (n *notifier) wakeAllLocked(lost bool) {
	for _, w := range n.dirs {
		for _, subs := range w.subs {
			wake(subs, lost)
		}
	}
}

// wake marks each follower's file as changed (and lost: its watch is gone).
func wake(subs map[sub]struct{}, lost bool) {
	for s := range subs {
		s.w.mark(s.i, lost)
	}
}
