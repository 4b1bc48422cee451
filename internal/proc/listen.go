package proc

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// listenVars are the variables of sd_listen_fds(3). Spawn sets them for a
// process given sockets and removes any it would otherwise inherit (a
// supervisor started by systemd's socket activation has them itself).
var listenVars = []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}

// checkListen refuses a Listen list the process cannot be given.
func checkListen(ls []Listener) error {
	if len(ls) > MaxListen {
		return &SpawnError{Op: "listen", Path: strconv.Itoa(len(ls)), Err: fmt.Errorf("more than %d sockets", MaxListen)}
	}
	for _, l := range ls {
		if l.File == nil {
			return &SpawnError{Op: "listen", Path: l.Addr, Err: errors.New("socket not open")}
		}
		if l.Name == "" || strings.ContainsAny(l.Name, ":\x00\n") {
			return &SpawnError{Op: "listen", Path: l.Addr, Err: fmt.Errorf("bad socket name %q", l.Name)}
		}
	}
	return nil
}

// listenEnv returns env without inherited LISTEN_* variables and, when ls
// is not empty, with LISTEN_FDS and LISTEN_FDNAMES for ls. LISTEN_PID is
// the trampoline's to add.
func listenEnv(env []string, ls []Listener) []string {
	if len(ls) == 0 && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "LISTEN_") }) {
		return env // the common case costs no copy
	}
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !isListenVar(k) {
			out = append(out, kv)
		}
	}
	if len(ls) == 0 {
		return out
	}
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Name
	}
	return append(out, "LISTEN_FDS="+strconv.Itoa(len(ls)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
}

func isListenVar(k string) bool {
	for _, v := range listenVars {
		if k == v {
			return true
		}
	}
	return false
}
