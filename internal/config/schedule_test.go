package config

import (
	"errors"
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	// 2024-01-15 is a Monday; 2024 is a leap year.
	from := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		expr string
		from time.Time
		want []time.Time // successive firings
	}{
		{"* * * * *", from, []time.Time{at(2024, 1, 15, 10, 31), at(2024, 1, 15, 10, 32)}},
		{"* * * * *", from.Add(59 * time.Second), []time.Time{at(2024, 1, 15, 10, 31)}},
		{"30 * * * *", from, []time.Time{at(2024, 1, 15, 11, 30), at(2024, 1, 15, 12, 30)}},
		{"*/15 * * * *", from, []time.Time{at(2024, 1, 15, 10, 45), at(2024, 1, 15, 11, 0)}},
		{"5-20/5 3 * * *", from, []time.Time{at(2024, 1, 16, 3, 5), at(2024, 1, 16, 3, 10), at(2024, 1, 16, 3, 15), at(2024, 1, 16, 3, 20), at(2024, 1, 17, 3, 5)}},
		{"10/20 * * * *", from, []time.Time{at(2024, 1, 15, 10, 50), at(2024, 1, 15, 11, 10)}},
		{"0 9,17 * * *", from, []time.Time{at(2024, 1, 15, 17, 0), at(2024, 1, 16, 9, 0)}},
		{"0 0 * * mon-FRI", at(2024, 1, 19, 12, 0), []time.Time{at(2024, 1, 22, 0, 0), at(2024, 1, 23, 0, 0)}},
		{"0 0 * * 7", from, []time.Time{at(2024, 1, 21, 0, 0), at(2024, 1, 28, 0, 0)}},
		{"0 0 * * 0", from, []time.Time{at(2024, 1, 21, 0, 0)}},
		{"0 0 * * 5-7", from, []time.Time{at(2024, 1, 19, 0, 0), at(2024, 1, 20, 0, 0), at(2024, 1, 21, 0, 0), at(2024, 1, 26, 0, 0)}},
		{"0 12 1 Jun,dec *", from, []time.Time{at(2024, 6, 1, 12, 0), at(2024, 12, 1, 12, 0), at(2025, 6, 1, 12, 0)}},
		{"0 0 1 */6 *", from, []time.Time{at(2024, 7, 1, 0, 0), at(2025, 1, 1, 0, 0)}},
		// Both days restricted: either fires (the 13th, or any Friday).
		{"0 0 13 * fri", from, []time.Time{at(2024, 1, 19, 0, 0), at(2024, 1, 26, 0, 0), at(2024, 2, 2, 0, 0), at(2024, 2, 9, 0, 0), at(2024, 2, 13, 0, 0)}},
		// A day of month starting with "*" counts as unrestricted: both must match.
		{"0 0 */10 * mon", from, []time.Time{at(2024, 3, 11, 0, 0), at(2024, 4, 1, 0, 0)}},
		{"0 0 29 2 *", from, []time.Time{at(2024, 2, 29, 0, 0), at(2028, 2, 29, 0, 0)}},
		{"0 0 29 2 *", at(2096, 3, 1, 0, 0), []time.Time{at(2104, 2, 29, 0, 0)}},
		{"0 0 31 * *", from, []time.Time{at(2024, 1, 31, 0, 0), at(2024, 3, 31, 0, 0), at(2024, 5, 31, 0, 0)}},
		{"59 23 31 12 *", from, []time.Time{at(2024, 12, 31, 23, 59), at(2025, 12, 31, 23, 59)}},
		{"@hourly", from, []time.Time{at(2024, 1, 15, 11, 0)}},
		{"@daily", from, []time.Time{at(2024, 1, 16, 0, 0)}},
		{"@midnight", from, []time.Time{at(2024, 1, 16, 0, 0)}},
		{"@weekly", from, []time.Time{at(2024, 1, 21, 0, 0)}},
		{"@monthly", from, []time.Time{at(2024, 2, 1, 0, 0)}},
		{"@yearly", from, []time.Time{at(2025, 1, 1, 0, 0)}},
		{"@ANNUALLY", from, []time.Time{at(2025, 1, 1, 0, 0)}},
		{"@every 90s", from.Add(5 * time.Second), []time.Time{from.Add(95 * time.Second), from.Add(185 * time.Second)}},
		{"  0  3 * * *  ", from, []time.Time{at(2024, 1, 16, 3, 0)}},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.expr, err)
			continue
		}
		if s.String() != tt.expr {
			t.Errorf("ParseSchedule(%q).String() = %q", tt.expr, s.String())
		}
		cur := tt.from
		for i, want := range tt.want {
			got := s.Next(cur)
			if !got.Equal(want) {
				t.Errorf("%q: firing %d after %s = %s, want %s", tt.expr, i+1, cur, got, want)
				break
			}
			cur = got
		}
	}
}

func TestScheduleNextKeepsLocation(t *testing.T) {
	loc := time.FixedZone("X", 5*3600+30*60)
	s, err := ParseSchedule("0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Next(time.Date(2024, 1, 15, 3, 0, 0, 0, loc))
	if want := time.Date(2024, 1, 16, 3, 0, 0, 0, loc); !got.Equal(want) || got.Location() != loc {
		t.Fatalf("Next = %s, want %s in %s", got, want, loc)
	}
}

func TestScheduleNextGivesUp(t *testing.T) {
	// Built by hand, past ParseSchedule's check: it must end, with the zero time.
	s := &Schedule{minute: 1, hour: 1, dom: 1 << 30, month: 1 << 2, dow: 0x7f, dowAny: true}
	if got := s.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Fatalf("Next = %s, want the zero time", got)
	}
	var none *Schedule
	if !none.Next(time.Now()).IsZero() || none.String() != "" {
		t.Fatal("a nil schedule fires")
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "invalid schedule: empty"},
		{"   ", "invalid schedule: empty"},
		{"* * * *", "invalid schedule: expected 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily, got 4 fields"},
		{"* * * * * *", "invalid schedule: expected 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily, got 6 fields"},
		{"60 * * * *", `invalid schedule: minute "60": 60 is out of range (0 to 59)`},
		{"* 24 * * *", `invalid schedule: hour "24": 24 is out of range (0 to 23)`},
		{"* * 0 * *", `invalid schedule: day of month "0": 0 is out of range (1 to 31)`},
		{"* * * 13 *", `invalid schedule: month "13": 13 is out of range (1 to 12)`},
		{"* * * * 8", `invalid schedule: day of week "8": 8 is out of range (0 to 7)`},
		{"* * * foo *", `invalid schedule: month "foo": "foo" is not a number from 1 to 12 nor a name jan..dec`},
		{"* * * * monday", `invalid schedule: day of week "monday": "monday" is not a number from 0 to 7 nor a name sun..sat`},
		{"x * * * *", `invalid schedule: minute "x": "x" is not a number`},
		{"*/0 * * * *", `invalid schedule: minute "*/0": step "0" is not a whole number of at least 1`},
		{"*/x * * * *", `invalid schedule: minute "*/x": step "x" is not a whole number of at least 1`},
		{"30-10 * * * *", `invalid schedule: minute "30-10": range 30-10 goes backwards`},
		{"* * * * fri-sun", `invalid schedule: day of week "fri-sun": range fri-sun goes backwards`},
		{"1,,2 * * * *", `invalid schedule: minute "1,,2": empty list item`},
		{"60 24 * * *", `invalid schedule: minute "60": 60 is out of range (0 to 59); hour "24": 24 is out of range (0 to 23)`},
		{"0 0 30 2 *", `invalid schedule: "0 0 30 2 *" never fires: no month it names has any of the days it names`},
		{"0 0 31 apr,jun,sep,nov *", `invalid schedule: "0 0 31 apr,jun,sep,nov *" never fires: no month it names has any of the days it names`},
		{"@every", `invalid schedule: @every needs a duration, such as "@every 5m"`},
		{"@every 500ms", "invalid schedule: @every 500ms is less than 1s"},
		{"@every 5", `invalid schedule: @every: expected a duration such as "30s" or "1h30m", got "5"`},
		{"@every -1m", "invalid schedule: @every -1m is less than 1s"},
		{"@often", `invalid schedule: unknown descriptor "@often" (use @every DUR, @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)`},
		{"@daily 3", `invalid schedule: @daily takes nothing after it, got "3"`},
	}
	for _, tt := range tests {
		_, err := ParseSchedule(tt.expr)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSchedule(%q) = %v, want %s", tt.expr, err, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidSchedule) {
			t.Errorf("ParseSchedule(%q): error does not wrap ErrInvalidSchedule", tt.expr)
		}
	}
}
