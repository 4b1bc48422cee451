// Package sdnotify tells systemd about the supervisor's state over $NOTIFY_SOCKET (the sd_notify protocol).
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupportedSocket is returned for a $NOTIFY_SOCKET address family other
// than a unix datagram socket (a path, or an abstract name starting with '@').
var ErrUnsupportedSocket = errors.New("sdnotify: unsupported NOTIFY_SOCKET address")

// Notify sends state (e.g. "READY=1", "STATUS=3 running", "WATCHDOG=1"; several
// assignments separated by newlines) to the service manager. When
// $NOTIFY_SOCKET is unset the process was not started by systemd with
// Type=notify, so there is nobody to tell: it returns nil and does nothing.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		return fmt.Errorf("%w: %q", ErrUnsupportedSocket, addr)
	}
	// Go maps a leading '@' to the Linux abstract namespace itself.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: dial %s: %w", addr, err)
	}
	defer conn.Close()
	// systemd reads the datagram without blocking; a stuck manager must not
	// stall the caller.
	if err := conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: send to %s: %w", addr, err)
	}
	return nil
}

// WatchdogInterval reports the watchdog timeout systemd enforces on this
// process ($WATCHDOG_USEC, i.e. the unit's WatchdogSec=). The second result is
// false when no watchdog is set, the value is malformed, or $WATCHDOG_PID
// names another process (the variables were inherited, not meant for us).
// Callers should send "WATCHDOG=1" at half the returned interval.
func WatchdogInterval() (time.Duration, bool) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(n) * time.Microsecond, true
}
