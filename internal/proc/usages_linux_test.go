package proc

import (
	"errors"
	"os"
	"testing"

	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// Usages gives each process group its own members' figures, read in one
// pass over the process table, and says which trees are gone.
func TestUsagesMeasuresEachGroupOnce(t *testing.T) {
	m := newManager(t, true)
	// A tree of two in one group, a single process in another.
	pair := spawn(t, m, shSpec("pair", "sleep 1041 & exec sleep 1042"))
	one := spawn(t, m, shSpec("one", "exec sleep 1043"))
	gone := spawn(t, m, shSpec("gone", "exit 0"))
	waitDone(t, gone)
	treeGone(t, gone)
	waitMembers(t, pair.pgid, 2)
	waitMembers(t, one.pgid, 1)

	got := Usages([]*Process{pair, one, gone, nil})
	for i, p := range []*Process{pair, one} {
		if got[i].Err != nil {
			t.Fatalf("Usages[%d]: %v", i, got[i].Err)
		}
		_, mem, err := p.Usage()
		if err != nil {
			t.Fatal(err)
		}
		// Resident sets move by a few pages between the two reads.
		if d := int64(got[i].Mem) - int64(mem); got[i].Mem == 0 || d > 1<<20 || d < -(1<<20) {
			t.Errorf("Usages[%d].Mem = %d, Usage says %d", i, got[i].Mem, mem)
		}
	}
	if got[0].Mem <= got[1].Mem {
		t.Errorf("a group of two sleeps holds %d bytes, one sleep %d: the pair's members were not summed", got[0].Mem, got[1].Mem)
	}
	for i := 2; i < 4; i++ {
		if !errors.Is(got[i].Err, os.ErrProcessDone) {
			t.Errorf("Usages[%d].Err = %v, want os.ErrProcessDone", i, got[i].Err)
		}
	}
}

// waitMembers waits until process group pgid has n live members, each
// with resident pages counted: the kernel folds a process's per-CPU page
// counts in batches (Linux 6.2 on), so one just exec'd may read 0.
func waitMembers(t *testing.T, pgid, n int) {
	t.Helper()
	waitFor(t, "the group's members", func() bool {
		live := 0
		members, err := observe.Group(pgid)
		for _, st := range members {
			if st.State != 'Z' && st.RSS > 0 {
				live++
			}
		}
		return err == nil && live == n
	})
}
