package policy

import (
	"math"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// at gives t0 plus the given number of seconds.
func at(seconds ...float64) []time.Time {
	ts := make([]time.Time, len(seconds))
	for i, s := range seconds {
		ts[i] = t0.Add(time.Duration(math.Round(s * float64(time.Second))))
	}
	return ts
}

func TestRecordStart(t *testing.T) {
	limited := Params{Burst: 3, Window: time.Minute}
	tests := []struct {
		name   string
		p      Params
		before []time.Time
		now    time.Time
		want   []time.Time
	}{
		{"first start", limited, nil, t0, at(0)},
		{"within window", limited, at(0, 10), at(20)[0], at(0, 10, 20)},
		{"old starts fall out", limited, at(0, 10, 30), at(65)[0], at(10, 30, 65)},
		{"window edge falls out", limited, at(0, 30), at(60)[0], at(30, 60)},
		{"keeps newest burst", limited, at(1, 2, 3), at(4)[0], at(2, 3, 4)},
		{"no limit keeps nothing", Params{Window: time.Minute}, at(0, 1), at(2)[0], nil},
		{"negative burst keeps nothing", Params{Burst: -1, Window: time.Minute}, at(0), at(1)[0], nil},
		{"zero window keeps nothing", Params{Burst: 3}, at(0), at(1)[0], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := History{Starts: slices.Clone(tt.before), Attempt: 2}
			h.RecordStart(tt.p, tt.now)
			if !slices.Equal(h.Starts, tt.want) {
				t.Errorf("Starts = %v, want %v", h.Starts, tt.want)
			}
			if h.Attempt != 2 {
				t.Errorf("Attempt = %d, want it untouched (2)", h.Attempt)
			}
		})
	}
}

func TestReset(t *testing.T) {
	h := History{Starts: at(0, 1, 2), Attempt: 7}
	h.Reset()
	if len(h.Starts) != 0 || h.Attempt != 0 {
		t.Errorf("after Reset: %+v, want the zero History", h)
	}
}
