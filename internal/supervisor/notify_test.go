package supervisor

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
)

// gatedRunner spawns real processes but holds each Spawn's reply until
// released, as a keeper on a loaded machine may: the process runs, and may
// send, before the actor knows its pid.
type gatedRunner struct {
	m       *proc.Manager
	spawned chan int      // the pid of each process started
	release chan struct{} // closed to let Spawn return
}

func (r *gatedRunner) Spawn(spec proc.Spec) (service.Process, error) {
	p, err := r.m.Spawn(spec)
	if err != nil {
		return nil, err
	}
	r.spawned <- p.Pid()
	<-r.release
	return p, nil
}

func (r *gatedRunner) SpawnOutput(spec proc.Spec, _ service.Output) (service.Process, error) {
	return r.Spawn(spec)
}

// A daemon's READY=1 can arrive before its spawn is published (redis says it
// within a millisecond of its exec): the sender is checked again once the
// actor publishes the new pid, and counts.
func TestSenderSpawnedButNotYetPublishedCounts(t *testing.T) {
	dir := t.TempDir()
	mgr, err := proc.NewManager(proc.Options{InstanceID: fmt.Sprintf("suptest-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	cfg := loadConfig(t, dir, "r.yaml", "version: 1\nservices:\n  d: {command: [sleep, '300'], stop: {timeout: 5s}}\n")
	scfg, err := serviceConfig(cfg.Service("d"), os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	runner := &gatedRunner{m: mgr, spawned: make(chan int, 1), release: make(chan struct{})}
	svc := service.New(scfg, service.Options{Runner: runner})
	svc.Go()
	cancel := svc.End
	done := svc.Ended()
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		svc.Stop(stopCtx)
		cancel()
		<-done
	})
	var live atomic.Pointer[service.Service]
	live.Store(svc)
	check := senderOf(&live, "")

	// A process that is not the service's, while the service has none: dropped
	// at once when the check is cancelled (Close), not after the grace.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := check(cctx, os.Getpid()); err == nil {
		t.Fatal("the test process counted as the service's")
	}

	go svc.Start(context.Background())
	var pid int
	select {
	case pid = <-runner.spawned:
	case <-time.After(20 * time.Second):
		t.Fatal("no spawn")
	}
	result := make(chan error, 1)
	looked := make(chan service.Snapshot, 1)
	watch := func() (service.Snapshot, <-chan struct{}) {
		sn, ch := svc.Watch()
		select {
		case looked <- sn:
		default:
		}
		return sn, ch
	}
	go func() { result <- checkSender(context.Background(), pid, watch, "") }()
	// The check looks at a snapshot without this pid: it cannot change
	// until Spawn returns.
	if sn := <-looked; sn.Pid == pid {
		t.Fatalf("published before Spawn returned: %+v", sn)
	}
	close(runner.release)
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("the new process's message was dropped: %v", err)
		}
	case <-time.After(spawnGrace + 20*time.Second):
		t.Fatal("the check never returned")
	}
	// Now published, another process is told apart at once.
	if err := check(context.Background(), os.Getpid()); err == nil {
		t.Error("the test process counted as the service's")
	}
}
