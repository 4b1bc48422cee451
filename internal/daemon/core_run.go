//go:build linux || darwin || freebsd

package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/codepages"
	"github.com/respawn-sh/respawn/internal/gcpace"
	"github.com/respawn-sh/respawn/internal/keeper"
	"github.com/respawn-sh/respawn/internal/platform"
)

// ending is how the control loop ended when nothing failed.
type ending int

const (
	endStop ending = iota // stop the services, then say bye
	endQuit               // leave the services running: the keeper re-execs for an upgrade
)

// run starts the services, tells the keeper the core is ready, and answers
// the keeper until it asks to stop or quit, or the connection fails.
func (c *core) run() error {
	if err := c.start(); err != nil {
		return err
	}
	end, err := c.loop()
	if err != nil {
		return err
	}
	if end == endQuit {
		c.quit()
		return nil
	}
	return c.stop()
}

// start serves the API, starts the services and reports ready.
func (c *core) start() error {
	go recordDrops(c.kl, c.events, c.dir.Join("logs"))
	// Served once the services are restored (Resume in listen): no answer
	// shows a restored service stopped with no pid, and a status during a
	// long first start shows it progressing. Start returns once each start
	// is applied (spawned or waiting on its dependencies), never waiting for
	// readiness.
	for _, l := range c.listeners {
		go func() { c.served <- c.srv.Serve(l) }()
	}
	c.sup.Start()
	// The states alone: a status would also read every service's CPU and
	// memory in the keeper (45 ms of its CPU and 6 MB of garbage at 1,000
	// services), for a line that shows neither.
	st, _ := c.sup.Overview(nil)
	c.log.Info("ready", "pid", c.hello.KeeperPid, "core_pid", os.Getpid(), "socket", c.sockPath, "containment", c.hello.Containment, "restored", c.restored)
	if err := c.kl.Ready(summary(st)); err != nil {
		return fmt.Errorf("tell the keeper: %w", err)
	}
	// Start-up leaves garbage (the YAML tree, per-spawn buffers) and grown
	// goroutine stacks behind. An idle supervisor allocates almost nothing, so
	// no GC would come to reclaim them: collect once now and hand the pages
	// back, so the steady state costs what it really uses. Likewise the
	// binary's pages that start-up ran (the ones used at rest come back),
	// and again after later collections, at most once a minute. From now on
	// collections follow the live heap, with none forced at rest.
	debug.FreeOSMemory()
	codepages.KeepReleased(c.log, time.Minute)
	gcpace.Follow()
	return nil
}

// loop answers the keeper's requests until one ends the core.
func (c *core) loop() (ending, error) {
	if c.hello.Stopping {
		// The core before died during an ordered stop: finish it.
		return endStop, nil
	}
	for {
		select {
		case <-c.terms:
			if c.keeperGone() {
				return 0, c.orphaned()
			}
			c.log.Warn("SIGTERM to the core ignored: stop the supervisor through its keeper (respawn down, or SIGTERM to pid " + strconv.Itoa(c.hello.KeeperPid) + ")")
		case ctl := <-c.kl.Control():
			switch ctl {
			case keeper.CtlPing:
				// Answered from this loop: a wedged core stays silent and the
				// keeper restarts it. Cheap on purpose: pings come every few
				// seconds for as long as the supervisor idles.
				_ = c.kl.Pong()
			case keeper.CtlReload:
				go c.reload()
			case keeper.CtlStop:
				return endStop, nil
			case keeper.CtlQuit:
				return endQuit, nil
			}
		case <-c.shutdown:
			return endStop, nil
		case <-c.kl.Closed():
			// A dying keeper closes its files long before the kernel
			// re-parents its children (tearing down a large address space
			// takes a while): wait for the parent-death signal or the new
			// parent. A live keeper that dropped this core kills it soon.
			if waitKeeperGone(c.terms, c.keeperGone, c.keeperWait) {
				return 0, c.orphaned()
			}
			c.log.Error("keeper connection lost; exiting")
			return 0, errors.New("keeper connection lost")
		case err := <-c.served:
			c.log.Error("control socket failed; exiting so that the keeper starts a new core", "err", err)
			return 0, err
		}
	}
}

// keeperGone reports whether the keeper is no longer this process's parent.
func (c *core) keeperGone() bool { return os.Getppid() != c.hello.KeeperPid }

// orphaned cleans up after a dead keeper.
func (c *core) orphaned() error {
	// Kill first: the log goes to the keeper, which is gone.
	err := c.kl.KillOrphans()
	if !platform.Current().Pdeathsig {
		// No parent-death signal reached the services, and what left their
		// process groups went to init: the keeper's records name them all.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, rerr := keeper.KillRecorded(ctx, c.dir)
		cancel()
		err = errors.Join(err, rerr)
	}
	c.log.Error("the keeper died; killed what the services left behind", "err", err)
	return errors.New("keeper died")
}

// quit ends the core for an upgrade: the services keep running in the
// keeper, and the next core resumes them.
func (c *core) quit() {
	c.log.Info("quitting for an upgrade; services keep running")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.srv.Close(ctx)
	_ = c.dir.RemoveSocket(sockName)
}

// stop stops every service in order, closes the API and tells the keeper
// it may exit.
func (c *core) stop() error {
	if err := c.kl.Stopping(); err != nil {
		c.log.Warn("tell the keeper", "err", err)
	}
	// Keep answering pings while stopping: a long ordered stop is not a hang.
	stopped := make(chan struct{})
	go c.pongUntil(stopped)
	_ = c.sup.Shutdown(context.Background())
	close(stopped)
	// Refusals are counted and recorded once a minute: record the counts
	// still pending while the journal is open.
	c.srv.FlushRefusals()
	// Alerts still queued are dropped (and journaled as such) while the
	// journal is open; a send in progress is cut short.
	c.alerts.Close()
	// Followers of the journal (`events -f`) end now, having seen the last
	// event, instead of holding the server open.
	if err := c.events.Close(); err != nil {
		c.log.Warn("close event journal", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.srv.Close(ctx); err != nil {
		c.log.Warn("close control socket", "err", err)
	}
	if err := c.dir.RemoveSocket(sockName); err != nil {
		c.log.Warn("remove control socket", "err", err)
	}
	if err := c.kl.Bye(0); err != nil {
		return fmt.Errorf("tell the keeper: %w", err)
	}
	return nil
}

// pongUntil answers the keeper's pings until stopped is closed.
func (c *core) pongUntil(stopped <-chan struct{}) {
	for {
		select {
		case ctl := <-c.kl.Control():
			if ctl == keeper.CtlPing {
				_ = c.kl.Pong()
			}
		case <-stopped:
			return
		}
	}
}

// reload re-reads the config and applies the difference; a config that
// does not load changes nothing.
func (c *core) reload() {
	plan, err := c.sup.Reload(context.Background(), false)
	if err != nil {
		// Nobody waits for a SIGHUP's answer: the journal says it failed.
		c.log.Error("reload failed; nothing changed unless listed", "err", err, "applied", plan.Applied)
		c.events.Record(api.Event{Type: api.EventSupervisor, Pid: os.Getpid(), Reason: "reload failed (SIGHUP)", Message: err.Error()})
		return
	}
	c.log.Info("reloaded", "add", plan.Add, "remove", plan.Remove, "restart", plan.Restart, "update", plan.Update)
}

// waitKeeperGone reports whether the keeper turned out dead within limit.
func waitKeeperGone(terms <-chan os.Signal, gone func() bool, limit time.Duration) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	end := time.After(limit)
	for !gone() {
		select {
		case <-terms:
		case <-tick.C:
		case <-end:
			return false
		}
	}
	return true
}
