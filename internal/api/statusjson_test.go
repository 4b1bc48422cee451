package api

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// encoded is what the server wrote before AppendStatusJSON: encoding/json,
// indented by two spaces.
func encoded(t *testing.T, st Status) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fill sets every field of the struct v points to, pointers included, to a
// value that is not its zero, different for each seed: a field added to
// Service shows up here without anyone remembering it.
func fill(v reflect.Value, seed int) {
	for i := 0; i < v.NumField(); i++ {
		fillValue(v.Field(i), seed+i)
	}
}

func fillValue(f reflect.Value, n int) {
	switch f.Kind() {
	case reflect.String:
		f.SetString([]string{"web", "a \"quoted\" <html> & tab\t", "ünïcødé ✓", "line\nbreak\u2028", "\x7f\x01", "bad \xff utf-8"}[n%6])
	case reflect.Int, reflect.Int64:
		f.SetInt(int64(n*7919 - 3))
	case reflect.Uint64:
		f.SetUint(uint64(n) * 1 << 33)
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Float64:
		f.SetFloat([]float64{0.5, 12.345678901234, 1e-7, 3e21, 100, 0.000001}[n%6])
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		fillValue(p.Elem(), n)
		f.Set(p)
	case reflect.Struct:
		if f.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.FixedZone("X", -(3*3600 + 30*60)), time.FixedZone("Y", 14*3600)}
			f.Set(reflect.ValueOf(time.Date(2026, 12, 4, 8, n%60, 7, n*1_000_003, zones[n%3])))
			return
		}
		fill(f, n)
	default:
		panic("fill: add a case for " + f.Kind().String())
	}
}

func TestAppendStatusJSONMatchesEncoder(t *testing.T) {
	var full Status
	fill(reflect.ValueOf(&full.Supervisor).Elem(), 1)
	for i := range 12 {
		var s Service
		fill(reflect.ValueOf(&s).Elem(), i*5)
		full.Services = append(full.Services, s)
	}
	zero := full
	zero.Services = []Service{{}, {Name: "only-name"}}
	exit := 0
	pct, mem := 0.0, uint64(0)
	zeros := full
	zeros.Services = []Service{{Name: "z", ExitCode: &exit, CPUPercent: &pct, MemoryBytes: &mem}}
	cases := map[string]Status{
		"every field":       full,
		"zero rows":         zero,
		"zero values":       zeros,
		"no services (nil)": {Supervisor: full.Supervisor},
		"no services":       {Supervisor: full.Supervisor, Services: []Service{}},
		"empty":             {},
	}
	for name, st := range cases {
		want := encoded(t, st)
		if got := string(AppendStatusJSON(nil, &st)); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// What encoding/json refuses is written null rather than failing the answer.
func TestAppendStatusJSONUnencodable(t *testing.T) {
	nan, far := math.NaN(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	st := Status{Services: []Service{{Name: "x", CPUPercent: &nan, StartedAt: &far}}}
	var v struct {
		Services []map[string]any `json:"services"`
	}
	if err := json.Unmarshal(AppendStatusJSON(nil, &st), &v); err != nil {
		t.Fatal(err)
	}
	if row := v.Services[0]; row["cpu_percent"] != nil || row["started_at"] != nil {
		t.Errorf("NaN and year 10000: %v, %v; want null, null", row["cpu_percent"], row["started_at"])
	}
}

// plainStatus is a status of n services whose every field is set, the
// strings to plain ASCII, as a real status mostly is.
func plainStatus(n int) Status {
	var st Status
	fill(reflect.ValueOf(&st.Supervisor).Elem(), 1)
	st.Supervisor.Version, st.Supervisor.Config, st.Supervisor.StateDir = "v1.2.3", "/srv/respawn.yaml", "/srv/.respawn"
	for i := range n {
		var s Service
		v := reflect.ValueOf(&s).Elem()
		fill(v, i)
		for f := range v.NumField() {
			if v.Field(f).Kind() == reflect.String {
				v.Field(f).SetString("plain")
			}
		}
		st.Services = append(st.Services, s)
	}
	return st
}

// A row costs no allocation: only the supervisor's object does.
func TestAppendStatusJSONAllocations(t *testing.T) {
	st := plainStatus(200)
	buf := make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(20, func() { buf = AppendStatusJSON(buf[:0], &st) })
	// Some 5 (the supervisor's object); more under the race detector, whose
	// sync.Pool drops buffers at random. encoding/json makes some 830.
	if allocs > 20 {
		t.Errorf("%.0f allocations for a status of 200 services, want at most 20", allocs)
	}
}

func BenchmarkAppendStatusJSON(b *testing.B) {
	st := plainStatus(200)
	var buf []byte
	for b.Loop() {
		buf = AppendStatusJSON(buf[:0], &st)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncoderStatus(b *testing.B) {
	st := plainStatus(200)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	}
	b.SetBytes(int64(buf.Len()))
}
