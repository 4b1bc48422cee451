package config

import (
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// defaultMaxSizeBytes is defaultMaxSize in bytes, so the default follows
// ParseSize's reading of the unit.
// It is worked out where needed, not at every start of the binary.
func defaultMaxSizeBytes() int64 {
	n, err := ParseSize(defaultMaxSize)
	if err != nil {
		panic(err) // a constant of this package
	}
	return n
}

// service lays own over base (the defaults), fills in what neither wrote,
// expands env and command with the service's env_file variables, and
// checks what spans several keys. It returns nil when something is wrong.
//
// inst is the instance number RESPAWN_INSTANCE holds, in Env and in
// ${RESPAWN_INSTANCE} within command, env values and cwd; 0 when the service
// has no replicas key, and then neither is touched.
func (d *decoder) service(name string, key *yaml.Node, own, base *layer, path string, inst int) *Service {
	before := d.nerrs
	s := &Service{Name: name, Line: key.Line}
	s.Kind = over(own.kind, base.kind, KindProcess).val

	fileVars := map[string]string{}
	for _, f := range over(own.envFiles, base.envFiles, nil).val {
		for _, v := range f.vars {
			fileVars[v.name] = v.value
		}
	}
	supervisorEnv := d.lookupEnv
	if inst > 0 {
		supervisorEnv = func(k string) (string, bool) {
			if k == instanceVar {
				return strconv.Itoa(inst), true
			}
			return d.lookupEnv(k)
		}
	}
	lookup := func(k string) (string, bool) {
		if inst > 0 && k == instanceVar {
			return strconv.Itoa(inst), true
		}
		if v, ok := fileVars[k]; ok {
			return v, true
		}
		return d.lookupEnv(k)
	}
	env := maps.Clone(fileVars)
	for _, entries := range []map[string]envEntry{base.env, own.env} {
		for k, e := range entries {
			env[k], _ = expand(e.raw, lookup) // syntax checked when read
		}
	}
	if inst > 0 {
		// respawn's number wins over one from an env file or env: two
		// instances with the same number would defeat its purpose.
		env[instanceVar] = strconv.Itoa(inst)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		s.Env = append(s.Env, k+"="+env[k])
	}

	known := kindKnown(own, base)
	s.Command = d.finalCommand(s.Kind, known, own, key, lookup, path)

	if cwd := over(own.cwd, base.cwd, "").val; cwd == "" {
		s.Cwd = d.dir
	} else {
		cwd, _ = expand(cwd, supervisorEnv) // syntax checked when read
		s.Cwd = d.abs(cwd)
	}
	creds := over(own.user, base.user, credentials{})
	s.User, s.Group = creds.val.user, creds.val.group
	s.At = KeyPositions{
		Command: posOf(over(own.command, base.command, rawCommand{}).at),
		Cwd:     posOf(over(own.cwd, base.cwd, "").at),
		User:    posOf(creds.at),
	}
	if s.Kind == KindExternal {
		s.At.Command = posOf(over(own.start, base.start, rawCommand{}).at)
	}
	s.ServiceGroup = over(own.serviceGroup, base.serviceGroup, "").val
	if known {
		d.finalProcess(s, own, key, path, lookup, supervisorEnv)
	}
	if um := over(own.umask, base.umask, 0); um.at != nil {
		s.Umask = &um.val
	}
	for _, lims := range []map[string]field[Rlimit]{base.rlimits, own.rlimits} {
		for k, f := range lims {
			if s.Rlimits == nil {
				s.Rlimits = map[string]Rlimit{}
			}
			s.Rlimits[k] = f.val
		}
	}
	s.Autostart = over(own.autostart, base.autostart, true).val
	if own.schedule.at != nil {
		s.Schedule = own.schedule.val
		// A scheduled job runs at its times, not at up, unless it says so
		// itself: "autostart: true" in defaults is meant for services.
		s.Autostart = own.autostart.val
		if known && s.Kind != KindOneshot {
			d.errorf(own.schedule.at, "%s: schedule needs kind: oneshot", join(path, "schedule"))
		}
	}

	// A policy from defaults is meant for long-running services: a file
	// with "defaults: {restart: {policy: always}}" does not want its
	// migrations re-run forever. A oneshot takes only its own policy.
	policy := over(own.policy, base.policy, RestartAlways)
	if s.Kind == KindOneshot {
		policy = over(own.policy, field[RestartPolicy]{}, RestartOnFailure)
	}
	s.Restart = Restart{
		Policy:       policy.val,
		SuccessCodes: slices.Clone(over(own.successCodes, base.successCodes, []int{0}).val),
		Backoff: Backoff{
			Initial: over(own.initial, base.initial, defaultInitial).val,
			Max:     over(own.max, base.max, defaultMax).val,
			Factor:  over(own.factor, base.factor, defaultFactor).val,
			Jitter:  over(own.jitter, base.jitter, defaultJitter).val,
		},
		Limit: Limit{
			Burst:  over(own.burst, base.burst, defaultBurst).val,
			Window: over(own.window, base.window, defaultWindow).val,
		},
		ResetAfter:     over(own.resetAfter, base.resetAfter, defaultResetAfter).val,
		Cooldown:       over(own.cooldown, base.cooldown, defaultCooldown).val,
		Strategy:       over(own.strategy, base.strategy, StopFirst).val,
		MaxUnavailable: over(own.maxUnavailable, base.maxUnavailable, 1).val,
	}
	d.finalListen(s, name, own, base)
	if known && s.Kind == KindExternal && own.listen.at != nil {
		d.errorf(own.listen.at, "%s: an external service is not started by respawn and cannot be given sockets", join(path, "listen"))
	}
	s.Stop = Stop{
		Signal:  over(own.signal, base.signal, defaultSignal).val,
		Timeout: over(own.timeout, base.timeout, defaultTimeout).val,
	}
	d.finalStop(s, own, path, lookup)
	s.Logs = Logs{
		MaxSize:  over(own.maxSize, base.maxSize, defaultMaxSizeBytes()).val,
		MaxFiles: over(own.maxFiles, base.maxFiles, defaultMaxFiles).val,
	}
	for _, dep := range own.deps.val {
		s.DependsOn = append(s.DependsOn, dep.Dependency)
	}
	s.Ready = d.finalProbe(own.ready, base.ready, lookup, path)
	if s.Kind == KindOneshot {
		// Like restart.policy, a health block from the defaults is meant
		// for long-running services and is not applied to a oneshot.
		if own.health.written != nil {
			d.errorf(own.health.written, "%s: health checks a long-running service; %s is a oneshot", join(path, "health"), name)
		}
	} else {
		s.Health = d.finalProbe(own.health, base.health, lookup, path)
	}
	if known {
		d.checkExternalReady(s, own, base, path)
	}
	d.crossCheck(own, base, path)
	if d.nerrs > before {
		return nil
	}
	return s
}

// finalCommand expands and, for the string form, splits the command. An
// external service has none; for a kind written wrong, a missing command
// is not reported, as it may be the external the user meant.
func (d *decoder) finalCommand(kind Kind, known bool, own *layer, key *yaml.Node, lookup func(string) (string, bool), path string) []string {
	c := own.command
	if known && kind == KindExternal {
		if c.at != nil {
			d.errorf(c.at, "%s: an external service is started by `start`, not `command`", join(path, "command"))
		}
		return nil
	}
	if c.at == nil {
		if !own.commandWritten && known {
			d.errorf(key, "%s: missing required key %q", path, "command")
		}
		return nil
	}
	return d.argv(c, lookup, join(path, "command"))
}

// argv expands a command read by rawArgv and, for the string form, splits
// it. Expansion comes first, as in compose files, so a variable holding
// several words gives several arguments; the list form keeps each item one
// argument. It returns nil, with the error recorded, when no program is left.
func (d *decoder) argv(c field[rawCommand], lookup func(string) (string, bool), path string) []string {
	var argv []string
	switch {
	case c.val.str != nil:
		line, _ := expand(c.val.str.Value, lookup) // syntax checked when read
		words, err := SplitCommand(line)
		if err != nil {
			d.errorAt(c.at, err, "%s: %v", path, err)
			return nil
		}
		if len(words) == 0 {
			d.errorf(c.at, "%s: empty once variables are expanded", path)
			return nil
		}
		argv = words
	default:
		for _, item := range c.val.list {
			arg, _ := expand(resolve(item).Value, lookup)
			argv = append(argv, arg)
		}
	}
	if argv[0] == "" {
		d.errorf(c.at, "%s: the program name is empty", path)
		return nil
	}
	return argv
}

// crossCheck reports rules that span two keys. It speaks only when own
// wrote one of the two, so a problem coming from the defaults is reported
// once, at the defaults, and not again for every service.
func (d *decoder) crossCheck(own, base *layer, path string) {
	initial := over(own.initial, base.initial, defaultInitial)
	maxDelay := over(own.max, base.max, defaultMax)
	if maxDelay.val < initial.val && (own.initial.at != nil || own.max.at != nil) {
		d.errorf(firstSet(own.max.at, own.initial.at), "%s: restart.backoff.max %s is less than restart.backoff.initial %s",
			path, maxDelay.val, initial.val)
	}
	burst := over(own.burst, base.burst, defaultBurst)
	window := over(own.window, base.window, defaultWindow)
	if burst.val > 0 && window.val == 0 && (own.burst.at != nil || own.window.at != nil) {
		d.errorf(firstSet(own.window.at, own.burst.at), "%s: restart.limit.window must be more than 0 when restart.limit.burst is %d",
			path, burst.val)
	}
}

func firstSet(nodes ...*yaml.Node) *yaml.Node {
	for _, n := range nodes {
		if n != nil {
			return n
		}
	}
	return nil
}

// posOf is n's position; the zero Pos for nil.
func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Col: max(n.Column, 1)}
}
