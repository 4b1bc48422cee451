//go:build linux || darwin || freebsd

package daemon

import (
	"log/slog"
	"syscall"
)

// The keeper holds about four fds per service (the read ends of its stdout
// and stderr pipes, its log file, its cgroup), plus a few of its own; a
// spawn needs a handful more for a moment.
const (
	fdsPerService = 4
	fdsReserved   = 32
)

// raiseFdLimit makes the soft open-file limit the hard one (the Go runtime
// does so at start already, and gives services back the original soft limit
// when it forks them) and logs how many services the limit allows, with a
// warning when the config has more.
func raiseFdLimit(log *slog.Logger, services int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("read the open-file limit", "err", err)
		return
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("raise the open-file limit", "soft", lim.Cur, "hard", lim.Max, "err", err)
		} else {
			lim = raised
		}
	}
	allowed := 0
	if lim.Cur > fdsReserved {
		allowed = int(min(lim.Cur-fdsReserved, 1<<30) / fdsPerService)
	}
	if services > allowed {
		log.Warn("the open-file limit is too low for every service of the config: raise the hard limit (LimitNOFILE=, ulimit -Hn)",
			"limit", lim.Cur, "allows_services", allowed, "services", services)
		return
	}
	log.Info("open-file limit", "limit", lim.Cur, "allows_services", allowed)
}
