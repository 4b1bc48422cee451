package supervisor

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/config"
	"github.com/respawn-sh/respawn/internal/policy"
	"github.com/respawn-sh/respawn/internal/proc"
	"github.com/respawn-sh/respawn/internal/service"
)

// serviceConfig turns a validated config entry into what the actor runs.
func serviceConfig(sc *config.Service, environ []string) (service.Config, error) {
	sig := unix.SignalNum("SIG" + sc.Stop.Signal)
	if sig == 0 {
		return service.Config{}, fmt.Errorf("unknown stop signal %q", sc.Stop.Signal)
	}
	kind, err := service.ParseKind(string(sc.Kind))
	if err != nil {
		return service.Config{}, err
	}
	mode := policy.Always
	switch sc.Restart.Policy {
	case config.RestartOnFailure:
		mode = policy.OnFailure
	case config.RestartNever:
		mode = policy.Never
	}
	var rl []proc.Rlimit
	for name, v := range sc.Rlimits {
		rl = append(rl, proc.Rlimit{Resource: name, Soft: v.Soft, Hard: v.Hard})
	}
	slices.SortFunc(rl, func(a, b proc.Rlimit) int { return strings.Compare(a.Resource, b.Resource) })
	return service.Config{
		Name: sc.Name,
		Kind: kind,
		Spec: proc.Spec{
			Name:    sc.Name,
			Args:    argsOf(sc),
			BaseEnv: environ,
			Env:     append(slices.Clone(sc.Env), "RESPAWN_SERVICE="+sc.Name),
			Dir:     sc.Cwd,
			User:    sc.User,
			Group:   sc.Group,
			Umask:   sc.Umask,
			Rlimits: rl,
			Listen:  listenersOf(sc),
		},
		Policy: policy.Params{
			Mode:         mode,
			SuccessCodes: sc.Restart.SuccessCodes,
			Initial:      sc.Restart.Backoff.Initial,
			Max:          sc.Restart.Backoff.Max,
			Factor:       sc.Restart.Backoff.Factor,
			Jitter:       sc.Restart.Backoff.Jitter,
			ResetAfter:   sc.Restart.ResetAfter,
			Burst:        sc.Restart.Limit.Burst,
			Window:       sc.Restart.Limit.Window,
			Cooldown:     sc.Restart.Cooldown,
		},
		StartFirst:  sc.Restart.Strategy == config.StartFirst,
		StopSignal:  syscall.Signal(sig),
		StopTimeout: sc.Stop.Timeout,
		StopCommand: sc.Stop.Command,
	}, nil
}

// argsOf is what respawn spawns for a service: its command, or for an
// external service its start command (none: respawn only adopts it).
func argsOf(sc *config.Service) []string {
	if sc.Kind == config.KindExternal {
		return sc.Start
	}
	return sc.Command
}

func statusRow(sn service.Snapshot) api.Service {
	row := api.Service{
		Name:        sn.Name,
		Kind:        sn.Kind.String(),
		State:       sn.State.String(),
		Wanted:      "down",
		Since:       sn.Since,
		Pid:         sn.Pid,
		Restarts:    sn.Restarts,
		Error:       sn.Error,
		WaitingOn:   sn.WaitingOn,
		Blocked:     sn.Blocked,
		Health:      sn.Health.String(),
		Containment: sn.Containment,
	}
	if sn.Wanted {
		row.Wanted = "up"
	}
	if !sn.StartedAt.IsZero() {
		t := sn.StartedAt
		row.StartedAt = &t
	}
	if e := sn.LastExit; e != nil {
		if e.Signal != 0 {
			row.ExitSignal = unix.SignalName(syscall.Signal(e.Signal))
		} else {
			c := e.Code
			row.ExitCode = &c
		}
	}
	if !sn.NextRetryAt.IsZero() {
		t := sn.NextRetryAt.Truncate(time.Millisecond)
		row.NextRetryAt = &t
	}
	return row
}
