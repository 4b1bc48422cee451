//go:build linux || darwin || freebsd

package keeper

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/proc"
)

// The keeper holds every service's listening sockets for as long as it
// runs: a service's restarts, a core's crash and an upgrade (the handover
// keeps the fds) leave them open, so connections wait in the backlog while
// no incarnation accepts. The core asks for them by (service, address); a
// spawn names the ones it gets.

// ListenSpec is one socket the core asks the keeper to hold.
type ListenSpec struct {
	Service string `json:"service"` // the service written in the file (replicas share its sockets)
	Addr    string `json:"addr"`    // tcp://HOST:PORT, tcp://[V6]:PORT, tcp://:PORT, unix:///PATH
	Backlog int    `json:"backlog"`
	// Mode, User and Group apply to a Unix socket's file; 0 and "" leave
	// what bind made (the keeper's umask and owner).
	Mode  uint32 `json:"mode,omitempty"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// maxListeners bounds the sockets one keeper holds.
const maxListeners = 4096

// heldListener is one open socket.
type heldListener struct {
	spec ListenSpec
	f    *os.File
}

func listenKey(service, addr string) string { return service + "\x00" + addr }

// openListener opens the socket spec names, or, when it is open already,
// applies spec's backlog and file settings to it: a socket whose address
// stays is never closed.
func (k *Keeper) openListener(spec ListenSpec) error {
	if spec.Backlog <= 0 || spec.Backlog > 65535 {
		return fmt.Errorf("listen %s: backlog %d out of range", spec.Addr, spec.Backlog)
	}
	key := listenKey(spec.Service, spec.Addr)
	k.mu.Lock()
	held := k.listeners[key]
	n := len(k.listeners)
	k.mu.Unlock()
	if held != nil {
		if err := applyListen(held.f, spec); err != nil {
			return err
		}
		k.mu.Lock()
		held.spec = spec
		k.mu.Unlock()
		return nil
	}
	if n >= maxListeners {
		return fmt.Errorf("listen %s: the keeper holds %d sockets already", spec.Addr, n)
	}
	f, err := bindListener(spec)
	if err != nil {
		return err
	}
	k.mu.Lock()
	if k.listeners[key] != nil { // opened meanwhile by the same request twice
		k.mu.Unlock()
		f.Close()
		return nil
	}
	k.listeners[key] = &heldListener{spec: spec, f: f}
	k.mu.Unlock()
	k.log.Info("listening", "service", spec.Service, "addr", spec.Addr, "backlog", spec.Backlog)
	return nil
}

// closeListener closes the keeper's socket; processes that have it keep
// their copies. A Unix socket's file goes too.
func (k *Keeper) closeListener(service, addr string) {
	key := listenKey(service, addr)
	k.mu.Lock()
	held := k.listeners[key]
	delete(k.listeners, key)
	k.mu.Unlock()
	if held == nil {
		return
	}
	held.close()
	k.log.Info("closed listener", "service", service, "addr", addr)
}

func (h *heldListener) close() {
	h.f.Close()
	if path, ok := strings.CutPrefix(h.spec.Addr, "unix://"); ok {
		removeSocketFile(path)
	}
}

// closeListeners closes every socket, when the keeper ends.
func (k *Keeper) closeListeners() {
	k.mu.Lock()
	all := k.listeners
	k.listeners = map[string]*heldListener{}
	k.mu.Unlock()
	for _, h := range all {
		h.close()
	}
}

// listenerTable lists the sockets held, for a core's hello.
func (k *Keeper) listenerTableLocked() []ListenSpec {
	out := make([]ListenSpec, 0, len(k.listeners))
	for _, h := range k.listeners {
		out = append(out, h.spec)
	}
	slices.SortFunc(out, func(a, b ListenSpec) int {
		return strings.Compare(listenKey(a.Service, a.Addr), listenKey(b.Service, b.Addr))
	})
	return out
}

// attachListeners fills in the files of a spawn's sockets: duplicates,
// which the caller closes once the spawn is over, so that a close meanwhile
// cannot pull an fd from under the fork.
func (k *Keeper) attachListeners(ls []proc.Listener) ([]*os.File, error) {
	if len(ls) > proc.MaxListen {
		return nil, fmt.Errorf("%d sockets for one process, more than %d", len(ls), proc.MaxListen)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	dups := make([]*os.File, 0, len(ls))
	for i := range ls {
		held := k.listeners[listenKey(ls[i].Owner, ls[i].Addr)]
		if held == nil {
			closeFiles(dups)
			return nil, &proc.SpawnError{Op: "listen", Path: ls[i].Addr, Err: errors.New("the keeper holds no such socket")}
		}
		fd, err := dupCloexec(int(held.f.Fd()))
		if err != nil {
			closeFiles(dups)
			return nil, &proc.SpawnError{Op: "listen", Path: ls[i].Addr, Err: err}
		}
		f := os.NewFile(uintptr(fd), ls[i].Addr)
		dups = append(dups, f)
		ls[i].File = f
	}
	return dups, nil
}

func dupCloexec(fd int) (int, error) {
	for {
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if !errors.Is(err, unix.EINTR) {
			return nfd, err
		}
	}
}

// bindListener makes the socket: close-on-exec, SO_REUSEADDR, bound,
// listening, and left in blocking mode, as a socket-activated program
// expects its fd (Python's socket(fileno=3) keeps what it finds).
func bindListener(spec ListenSpec) (*os.File, error) {
	domain, sa, err := parseListenAddr(spec.Addr)
	if err != nil {
		return nil, err
	}
	path, isUnix := strings.CutPrefix(spec.Addr, "unix://")
	fail := func(op string, err error) (*os.File, error) {
		return nil, fmt.Errorf("listen %s: %s: %w", spec.Addr, op, err)
	}
	fd, err := cloexecSocket(domain)
	if errors.Is(err, unix.EAFNOSUPPORT) && domain == unix.AF_INET6 && isWildcard(sa) {
		// No IPv6 here: tcp://:PORT is IPv4's wildcard then.
		domain, sa = unix.AF_INET, &unix.SockaddrInet4{Port: sa.(*unix.SockaddrInet6).Port}
		fd, err = cloexecSocket(domain)
	}
	if err != nil {
		return fail("socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if !isUnix {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("SO_REUSEADDR", err)
		}
	}
	if sa6, is6 := sa.(*unix.SockaddrInet6); is6 {
		// tcp://:PORT takes IPv4 too; a written IPv6 address only itself,
		// so that tcp://0.0.0.0:P and tcp://[::]:P can both be held.
		v6only := 1
		if spec.Addr == "tcp://:"+strconv.Itoa(sa6.Port) {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if isUnix {
		if err := clearStaleSocket(path); err != nil {
			return fail("bind", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	f := os.NewFile(uintptr(fd), spec.Addr)
	if err := applyListen(f, spec); err != nil {
		f.Close()
		if isUnix {
			removeSocketFile(path)
		}
		ok = true // closed with f
		return nil, err
	}
	ok = true
	return f, nil
}

// applyListen sets the backlog (listen(2) again on a listening socket
// changes it) and a Unix socket file's mode and owner.
func applyListen(f *os.File, spec ListenSpec) error {
	if err := unix.Listen(int(f.Fd()), spec.Backlog); err != nil {
		return fmt.Errorf("listen %s: %w", spec.Addr, err)
	}
	path, isUnix := strings.CutPrefix(spec.Addr, "unix://")
	if !isUnix {
		return nil
	}
	uid, gid := -1, -1
	if spec.User != "" || spec.Group != "" {
		var err error
		if uid, gid, err = lookupOwner(spec.User, spec.Group); err != nil {
			return fmt.Errorf("listen %s: %w", spec.Addr, err)
		}
	}
	if spec.Mode == 0 && uid == -1 && gid == -1 {
		return nil
	}
	// Never by path: a root keeper's chmod would follow a symlink swapped
	// in for the socket to whatever file it names.
	if _, err := setSocketFile(path, os.FileMode(spec.Mode), uid, gid); err != nil {
		return fmt.Errorf("listen %s: mode and owner: %w", spec.Addr, err)
	}
	return nil
}

// lookupOwner resolves names or numeric ids; -1 leaves one as it is.
func lookupOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = strconv.Atoi(owner); err != nil {
			u, lerr := user.Lookup(owner)
			if lerr != nil {
				return 0, 0, fmt.Errorf("owner: %w", lerr)
			}
			uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if group != "" {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return 0, 0, fmt.Errorf("group: %w", lerr)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	return uid, gid, nil
}

// cloexecSocket makes a close-on-exec stream socket. The fork lock keeps a
// fork from copying it before the flag is set (macOS has no SOCK_CLOEXEC).
func cloexecSocket(domain int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(domain, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

// clearStaleSocket removes a socket file left at path (by a keeper that
// died); anything else there is an error, never removed.
func clearStaleSocket(path string) error {
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	return os.Remove(path)
}

func removeSocketFile(path string) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		_ = os.Remove(path)
	}
}

func isWildcard(sa unix.Sockaddr) bool {
	s6, ok := sa.(*unix.SockaddrInet6)
	return ok && s6.Addr == [16]byte{}
}

// maxUnixPath is the longest socket path every system takes (sun_path is
// 104 bytes on macOS and FreeBSD, 108 on Linux, with its NUL).
const maxUnixPath = 103

// parseListenAddr reads tcp://HOST:PORT (HOST an IP address, [V6] or
// nothing for every address) or unix:///PATH.
func parseListenAddr(addr string) (int, unix.Sockaddr, error) {
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		if !strings.HasPrefix(path, "/") {
			return 0, nil, fmt.Errorf("listen %s: the path must be absolute", addr)
		}
		if len(path) > maxUnixPath {
			return 0, nil, fmt.Errorf("listen %s: path longer than %d bytes", addr, maxUnixPath)
		}
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: path}, nil
	}
	hostport, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return 0, nil, fmt.Errorf("listen %s: want tcp:// or unix://", addr)
	}
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return 0, nil, fmt.Errorf("listen %s: port must be 1 to 65535", addr)
	}
	if host == "" {
		return unix.AF_INET6, &unix.SockaddrInet6{Port: port}, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return 0, nil, fmt.Errorf("listen %s: %q is not an IP address", addr, host)
	}
	if ip.Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, nil
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, nil
}
