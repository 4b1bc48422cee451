package keeper

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAfterExitEveryRow walks every combination of the facts and checks the
// steps against rules written apart from afterExit.
func TestAfterExitEveryRow(t *testing.T) {
	rows := 0
	for bits := range 1 << 5 {
		for _, crashes := range []int{0, maxStopCrashes, maxStopCrashes + 1} {
			f := exitFacts{
				bye: bits&1 != 0, upgrading: bits&2 != 0, neverReady: bits&4 != 0,
				upgradeUnready: bits&8 != 0, stopping: bits&16 != 0, stopCrashes: crashes,
			}
			rows++
			got := afterExit(f)
			var want []exitStep
			switch {
			case f.bye: // the services are stopped: nothing else matters
				want = []exitStep{stepFinish}
			case f.upgrading:
				want = []exitStep{stepExecUpgrade}
			case f.neverReady:
				want = []exitStep{stepFailStart}
			default:
				if f.upgradeUnready {
					want = append(want, stepRollback)
				}
				if f.stopping && crashes > maxStopCrashes {
					want = append(want, stepKillAll)
				} else {
					want = append(want, stepRestart)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v: %v, want %v", f, got, want)
			}
			// Every answer ends the keeper or brings a core back.
			last := got[len(got)-1]
			if last == stepRollback {
				t.Errorf("%+v: ends with a rollback, which returns only when it failed", f)
			}
		}
	}
	if rows != 96 {
		t.Errorf("walked %d rows", rows)
	}
}

func TestRestartDelay(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	// A core that had been ready: at once.
	if d, _ := restartDelay(0, nil, t0); d != 0 {
		t.Errorf("after a ready core: %v, want 0", d)
	}
	// Cores dying before they are ready: 100ms, 200ms, ... up to 10s.
	var got []string
	for fails := 1; fails <= 9; fails++ {
		d, _ := restartDelay(fails, nil, t0)
		got = append(got, d.String())
	}
	if want := "100ms 200ms 400ms 800ms 1.6s 3.2s 6.4s 10s 10s"; strings.Join(got, " ") != want {
		t.Errorf("delays %s, want %s", strings.Join(got, " "), want)
	}
	if d, _ := restartDelay(1000, nil, t0); d != restartMax {
		t.Errorf("after 1000 failures: %v, want %v", d, restartMax)
	}
	// More than crashBurst ends within crashWindow: at least restartMax/2,
	// even after ready cores; ends older than the window are forgotten.
	var crashes []time.Time
	now := t0
	var d time.Duration
	for i := range crashBurst + 1 {
		now = t0.Add(time.Duration(i) * time.Second)
		d, crashes = restartDelay(0, crashes, now)
		if i < crashBurst && d != 0 {
			t.Fatalf("end %d within the burst: %v, want 0", i+1, d)
		}
	}
	if d != restartMax/2 || len(crashes) != crashBurst+1 {
		t.Errorf("end %d within a minute: %v (%d remembered), want %v", crashBurst+1, d, len(crashes), restartMax/2)
	}
	d, crashes = restartDelay(0, crashes, now.Add(crashWindow+time.Millisecond))
	if d != 0 || len(crashes) != 1 {
		t.Errorf("a minute later: %v with %d remembered, want 0 and 1", d, len(crashes))
	}
}

func TestHangAndPingPace(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		silent time.Duration
		hung   bool
	}{{0, false}, {29 * time.Second, false}, {30 * time.Second, false}, {30*time.Second + time.Millisecond, true}} {
		hung, silent := silentTooLong(t0, t0.Add(c.silent), 30*time.Second)
		if hung != c.hung || silent != c.silent {
			t.Errorf("silent %v: hung %v (%v), want %v", c.silent, hung, silent, c.hung)
		}
	}
	for _, c := range []struct{ timeout, watchdog, want time.Duration }{
		{30 * time.Second, 0, 15 * time.Second},
		{30 * time.Second, 10 * time.Second, 5 * time.Second},
		{30 * time.Second, time.Minute, 15 * time.Second},
		{2 * time.Second, 0, time.Second},
	} {
		if got := pingEvery(c.timeout, c.watchdog); got != c.want {
			t.Errorf("pingEvery(%v, %v) = %v, want %v", c.timeout, c.watchdog, got, c.want)
		}
	}
	if s := fmt.Sprint(stepRollback, exitStep(99)); s != "rollback exitStep(99)" {
		t.Errorf("step names: %q", s)
	}
}
