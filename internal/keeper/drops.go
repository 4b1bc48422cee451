//go:build linux || darwin || freebsd

package keeper

import "maps"

// logState is what the core was last told of one log's drops.
type logState struct {
	dropping bool
	dropped  uint64
}

// wakeDrops asks reportDrops to look again; it never blocks, so a sink may call it
// from its write path.
func (k *Keeper) wakeDrops() {
	select {
	case k.dropWake <- struct{}{}:
	default:
	}
}

// reportDrops tells the connected core, each time a log starts or stops dropping
// lines (and once to each new core), how many lines each log dropped: the sinks'
// counts live here, in the keeper, while the core shows them. Runs for the keeper's
// life.
func (k *Keeper) reportDrops() {
	var (
		told   = map[string]logState{} // what conn was told, by sink name ("" is the supervisor's log)
		toldTo *coreConn
	)
	for range k.dropWake {
		k.mu.Lock()
		c := k.conn
		sinks := maps.Clone(k.sinks)
		k.mu.Unlock()
		if c == nil {
			continue
		}
		// Asked outside k.mu: Dropping waits for a write in progress.
		now := map[string]logState{"": k.supervisorLogState()}
		for name, s := range sinks {
			now[name] = logState{s.Dropping(), s.Dropped()}
		}
		if c != toldTo {
			toldTo, told = c, map[string]logState{}
		}
		for name, st := range now {
			if st != told[name] {
				told[name] = st
				c.out.push(&message{Op: opDrops, Name: name, Seq: st.dropped, Dropping: st.dropping})
			}
		}
	}
}

// supervisorLogState is the drops of the supervisor's own log.
func (k *Keeper) supervisorLogState() logState {
	st := logState{dropped: k.outDropped.Load(), dropping: k.outDropping.Load()}
	if w := k.opts.Log; w != nil {
		st.dropped += w.Dropped()
		st.dropping = st.dropping || w.Dropping()
	}
	return st
}
