package exporter

import (
	"strings"
	"testing"
)

func TestStandardCron(t *testing.T) {
	t.Parallel()
	for cron, want := range map[string]string{
		"@weekly":                "0 0 * * 0",
		"30 8 * jan-mar mon-fri": "30 8 * 1,2,3 1,2,3,4,5",
		"0 0 */10 * sun,7":       "0 0 */10 * 0",
		"0 0 * * */2,fri":        "0 0 * * */2,5",
		"*/5 1-3/2 1 * *":        "*/5 1,3 1 * *",
	} {
		spec, err := parseCron(cron)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.standard(); got != want {
			t.Errorf("%q: %q, want %q", cron, got, want)
		}
	}
}

func TestCalendar(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cron string
		want []string
	}{
		{"@daily", []string{"*-*-* 00:00:00"}},
		{"*/15 * * * *", []string{"*-*-* *:00,15,30,45:00"}},
		{"0 8 * jan-mar sun,7", []string{"Sun *-01,02,03-* 08:00:00"}},
		{"0 0 */10 * mon", []string{"Mon *-*-01,11,21,31 00:00:00"}},
		{"0 0 13 * fri", []string{"*-*-13 00:00:00", "Fri *-*-* 00:00:00"}},
		{"5 4-6/2 * * *", []string{"*-*-* 04,06:05:00"}},
	} {
		spec, err := parseCron(c.cron)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.calendar(); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: %q, want %q", c.cron, got, c.want)
		}
	}
}
