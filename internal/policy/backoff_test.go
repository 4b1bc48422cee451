package policy

import (
	"math"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	grow := Params{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Factor: 2}
	jitter := Params{Initial: time.Second, Max: 5 * time.Second, Factor: 2, Jitter: 0.5}
	tests := []struct {
		name    string
		p       Params
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{"first", grow, 1, 0, 100 * time.Millisecond},
		{"second", grow, 2, 0, 200 * time.Millisecond},
		{"third", grow, 3, 0, 400 * time.Millisecond},
		{"sixth", grow, 6, 0, 3200 * time.Millisecond},
		{"capped at max", grow, 7, 0, 5 * time.Second},
		{"overflow", Params{Initial: time.Second, Max: time.Hour, Factor: 10}, 1000, 0, time.Hour},
		{"overflow without max", Params{Initial: time.Second, Factor: 10}, 1000, 0, math.MaxInt64},
		{"no max", Params{Initial: time.Second, Factor: 10}, 4, 0, 1000 * time.Second},
		{"initial above max", Params{Initial: time.Minute, Max: time.Second, Factor: 2}, 1, 0, time.Second},
		{"initial zero", Params{Max: time.Second, Factor: 2, Jitter: 0.5}, 5, 0.9, 0},
		{"initial negative", Params{Initial: -time.Second, Max: time.Second, Factor: 2}, 1, 0, 0},
		{"attempt zero counts as one", grow, 0, 0, 100 * time.Millisecond},
		{"attempt negative counts as one", grow, -3, 0, 100 * time.Millisecond},
		{"factor one is constant", Params{Initial: time.Second, Max: time.Minute, Factor: 1}, 9, 0, time.Second},
		{"factor below one is constant", Params{Initial: time.Second, Max: time.Minute, Factor: 0.5}, 9, 0, time.Second},
		{"factor zero is constant", Params{Initial: time.Second, Max: time.Minute}, 9, 0, time.Second},
		{"factor NaN is constant", Params{Initial: time.Second, Max: time.Minute, Factor: math.NaN()}, 9, 0, time.Second},
		{"jitter low end", jitter, 1, 0, 500 * time.Millisecond},
		{"jitter middle", jitter, 1, 0.5, time.Second},
		{"jitter high end", jitter, 1, 0.75, 1250 * time.Millisecond},
		{"jitter still spreads at max", jitter, 10, 0, 2500 * time.Millisecond},
		{"jitter never exceeds max", jitter, 10, 0.999, 5 * time.Second},
		{"jitter above one clamps", Params{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: 3}, 1, 0, 0},
		{"jitter negative ignored", Params{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: -1}, 1, 0, time.Second},
		{"jitter NaN ignored", Params{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: math.NaN()}, 1, 0, time.Second},
		{"rnd NaN is low end", jitter, 1, math.NaN(), 500 * time.Millisecond},
		{"rnd above one clamps", jitter, 1, 7, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Delay(tt.attempt, tt.rnd); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
			}
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	const j = 0.1
	p := Params{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, Jitter: j}
	plain := p
	plain.Jitter = 0
	for attempt := 1; attempt <= 12; attempt++ {
		d := float64(plain.Delay(attempt, 0))
		lo := time.Duration(math.Floor(d * (1 - j)))
		hi := min(p.Max, time.Duration(math.Ceil(d*(1+j))))
		for _, rnd := range []float64{0, 0.5, 0.999} {
			if got := p.Delay(attempt, rnd); got < lo || got > hi {
				t.Errorf("Delay(%d, %v) = %v, want within [%v, %v]", attempt, rnd, got, lo, hi)
			}
		}
	}
}

// TestDelayWithinMax sweeps many settings: whatever the input, the delay stays in [0, Max].
func TestDelayWithinMax(t *testing.T) {
	for _, factor := range []float64{0, 0.5, 1, 1.5, 2, 10, 1e300, math.Inf(1), math.NaN()} {
		for _, jitter := range []float64{0, 0.1, 0.5, 1, 2} {
			p := Params{Initial: 250 * time.Millisecond, Max: 30 * time.Second, Factor: factor, Jitter: jitter}
			for attempt := -2; attempt <= 2000; attempt += 7 {
				for rnd := 0.0; rnd < 1; rnd += 0.0625 {
					if got := p.Delay(attempt, rnd); got < 0 || got > p.Max {
						t.Fatalf("%+v: Delay(%d, %v) = %v, outside [0, %v]", p, attempt, rnd, got, p.Max)
					}
				}
			}
		}
	}
}

func FuzzDelay(f *testing.F) {
	f.Add(int64(100*time.Millisecond), int64(30*time.Second), 2.0, 0.1, 3, 0.5)
	f.Add(int64(time.Second), int64(time.Hour), 10.0, 0.0, 1000, 0.0)
	f.Add(int64(time.Second), int64(0), 10.0, 1.0, 1<<40, 0.999)
	f.Fuzz(func(t *testing.T, initial, maxDelay int64, factor, jitter float64, attempt int, rnd float64) {
		p := Params{Initial: time.Duration(initial), Max: time.Duration(maxDelay), Factor: factor, Jitter: jitter}
		got := p.Delay(attempt, rnd)
		if got < 0 {
			t.Fatalf("%+v: Delay(%d, %v) = %v, negative", p, attempt, rnd, got)
		}
		if p.Max > 0 && got > p.Max {
			t.Fatalf("%+v: Delay(%d, %v) = %v, above Max", p, attempt, rnd, got)
		}
	})
}
