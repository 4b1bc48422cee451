package keeper

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/logs"
)

// Steps of the tour scenario.
const (
	stepTourUsage   = "tour.usage"
	stepTourUsages  = "tour.usages"
	stepTourKilled  = "tour.killed"
	stepTourOnDone  = "tour.on_done"
	stepTourGone    = "tour.tree_gone"
	stepTourSinks   = "tour.sinks"
	stepTourAdopt   = "tour.adopt_stranger"
	stepTourUpgrade = "tour.upgrade_refused"
	stepTourOrphans = "tour.kill_orphans"
	stepTourReload  = "tour.reload_asked"
)

func init() { coreScenarios["tour"] = coreTour }

// coreTour goes once through what a core asks of its keeper beyond the
// other scenarios: usage, kill, the wait for a tree to go, sinks opened and
// closed, saved states dropped, status, pongs, an adoption and an upgrade
// the keeper refuses, and the cleanup of orphans.
func coreTour(r *reporter, dir string) int {
	cl := dialKeeper(r)
	if cl == nil {
		return 1
	}
	logPath := filepath.Join(dir, "state", LogsName, "tour.log")
	if err := cl.OpenSink("tour", logPath, logs.Options{}); err != nil {
		r.fail("open sink", err)
		return 1
	}
	p, err := cl.Spawn(shSpec(dir, "tour", "echo up; exec sleep 300"), "tour")
	if err != nil {
		r.fail("spawn", err)
		return 1
	}
	// The run is up once its first line is in the log.
	deadline := time.Now().Add(helperDeadline)
	for {
		if b, _ := os.ReadFile(logPath); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			r.fail("first line", errors.New("none"))
			return 1
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The kernel counts a process's resident pages per CPU and folds them
	// in batches (Linux 6.2 on): one just exec'd may read 0 for a moment.
	_, mem, err := p.Usage()
	for err == nil && mem == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		_, mem, err = p.Usage()
	}
	r.note(stepTourUsage, err == nil && mem > 0)
	// Many at once, in batches; a pid the keeper does not know gets its error.
	pids := []int{p.Pid()}
	for range maxUsageBatch {
		pids = append(pids, 1<<22+1)
	}
	us, err := cl.Usages(context.Background(), pids)
	batch := map[string]any{"err": fmt.Sprint(err), "n": len(us)}
	if err == nil && len(us) == len(pids) {
		batch["first_mem"] = us[0].Mem > 0 && us[0].Err == nil && us[0].Pid == p.Pid()
		batch["last_unknown"] = us[len(us)-1].Err != nil && strings.Contains(us[len(us)-1].Err.Error(), ErrUnknownPid.Error())
	}
	r.note(stepTourUsages, batch)
	if err := cl.Status("touring"); err != nil {
		r.fail("status", err)
	}
	if err := cl.Pong(); err != nil {
		r.fail("pong", err)
	}
	if err := cl.Save("tour", []byte(`{"state":"running"}`)); err != nil {
		r.fail("save", err)
	}
	if err := cl.Unsave("tour"); err != nil {
		r.fail("unsave", err)
	}
	// OnDone: the later call replaces the earlier; once ended, at once.
	replaced, called := make(chan struct{}, 2), make(chan struct{}, 2)
	p.OnDone(func() { replaced <- struct{}{} })
	p.OnDone(func() { called <- struct{}{} })
	if err := p.KillTree(); err != nil {
		r.fail("kill tree", err)
	}
	if !within(p.Done()) {
		r.fail("exit", errors.New("no exit after KillTree"))
		return 1
	}
	r.note(stepTourKilled, map[string]any{"signal": p.Exit().Signal, "oom": p.OOMKilled()})
	onDone := map[string]any{"called": within(called)}
	late := false
	p.OnDone(func() { late = true })
	onDone["late_at_once"] = late
	onDone["replaced_called"] = len(replaced) > 0
	onDone["called_again"] = len(called) > 0
	r.note(stepTourOnDone, onDone)
	ctx, cancel := context.WithTimeout(context.Background(), helperDeadline)
	err = p.WaitTreeGone(ctx)
	cancel()
	r.note(stepTourGone, err == nil)
	flush(r, cl)
	r.note(stepTourSinks, map[string]any{"dropped": cl.LogDropped(logPath), "close": errString(cl.CloseSink("tour"))})
	// A process that is no child of the keeper cannot be adopted.
	_, err = cl.Adopt("stranger", os.Getppid())
	r.note(stepTourAdopt, err != nil)
	// A binary that is not there fails the upgrade's check: nothing changes.
	ctx, cancel = context.WithTimeout(context.Background(), helperDeadline)
	err = cl.Upgrade(ctx, filepath.Join(dir, "no-such-respawn"))
	cancel()
	r.note(stepTourUpgrade, errString(err))
	r.note(stepTourOrphans, errString(cl.KillOrphans()))
	// Signals to the keeper: USR2 is ignored, USR1 reopens the logs, HUP
	// asks the core, once it is ready, to reload.
	if err := cl.Ready("touring"); err != nil {
		r.fail("ready", err)
	}
	flush(r, cl)
	keeperPid := os.Getppid()
	for _, sig := range []unix.Signal{unix.SIGUSR2, unix.SIGUSR1, unix.SIGHUP} {
		if err := unix.Kill(keeperPid, sig); err != nil {
			r.fail("signal keeper", err)
		}
	}
	reload := false
	timeout := time.After(helperDeadline)
	for !reload {
		select {
		case c := <-cl.Control():
			reload = c == CtlReload
		case <-timeout:
			r.fail("reload", errors.New("SIGHUP to the keeper asked no reload"))
			return 1
		}
	}
	r.note(stepTourReload, reload)
	return finish(r, cl, 0)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
