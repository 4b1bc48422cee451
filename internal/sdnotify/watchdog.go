package sdnotify

import (
	"context"
	"log/slog"
	"time"
)

// Watchdog sends "WATCHDOG=1" (with "STATUS=" and the summary check returns)
// every interval, but only when check answers within that interval: a hung
// supervisor then stops feeding systemd's watchdog and gets restarted. At
// most one check runs at a time, so a check that never returns costs one
// goroutine, not one per tick. It returns when ctx is done.
func Watchdog(ctx context.Context, every time.Duration, check func(context.Context) (string, error), log *slog.Logger) {
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var pending chan result // non-nil while a check is outstanding
	for {
		if pending == nil {
			pending = make(chan result, 1)
			go func(out chan<- result) {
				cctx, cancel := context.WithTimeout(ctx, every)
				defer cancel()
				s, err := check(cctx)
				out <- result{s, err}
			}(pending)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case r := <-pending:
			pending = nil
			if r.err != nil {
				log.Warn("supervisor check failed; watchdog not fed", "err", r.err)
				continue
			}
			state := "WATCHDOG=1"
			if r.status != "" {
				state += "\nSTATUS=" + r.status
			}
			if err := Notify(state); err != nil {
				log.Warn("sd_notify watchdog", "err", err)
			}
		default:
			log.Warn("supervisor did not answer within the watchdog interval; watchdog not fed", "interval", every)
		}
	}
}

type result struct {
	status string
	err    error
}
