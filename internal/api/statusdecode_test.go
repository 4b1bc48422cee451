package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// decodedAlike decodes data with DecodeStatus and with json.Unmarshal and
// fails unless both give the same Status and both fail or neither does.
func decodedAlike(t *testing.T, name string, data []byte) {
	t.Helper()
	var got, want Status
	gerr := DecodeStatus(data, &got)
	werr := json.Unmarshal(data, &want)
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		t.Errorf("%s: error %v, json.Unmarshal's %v", name, gerr, werr)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
	}
}

func TestDecodeStatusMatchesUnmarshal(t *testing.T) {
	var full Status
	fill(reflect.ValueOf(&full.Supervisor).Elem(), 1)
	for i := range 12 {
		var s Service
		fill(reflect.ValueOf(&s).Elem(), i*5)
		full.Services = append(full.Services, s)
	}
	plain := plainStatus(20)
	for name, st := range map[string]Status{"every field": full, "plain": plain, "no rows": {Services: []Service{}}, "nil rows": {}} {
		decodedAlike(t, name+", indented", AppendStatusJSON(nil, &st))
		compact, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		decodedAlike(t, name+", compact", compact)
	}
	row := `{"name": "web", "pid": 7, "cpu_percent": 1.5, "memory_bytes": 4096, "started_at": "2026-12-04T08:00:00.5+01:00"}`
	for name, data := range map[string]string{
		"keys in another order":  `{"services": [` + row + `], "supervisor": {"pid": 1}}`,
		"a key in another case":  `{"services": [{"Name": "web", "PID": 7}]}`,
		"an unknown key":         `{"services": [{"name": "web", "colour": "red"}], "extra": 1}`,
		"escapes":                `{"services": [{"name": "w\u00e9b\n", "error": "a \"b\""}]}`,
		"nulls":                  `{"supervisor": null, "services": [null, {"name": null, "pid": null, "exit_code": null, "started_at": null, "cpu_percent": null, "blocked": null}]}`,
		"null services":          `{"services": null}`,
		"duplicate keys":         `{"services": [{"name": "a", "name": "b", "pid": 1, "pid": 2}]}`,
		"supervisor twice":       `{"supervisor": {"pid": 1, "version": "a"}, "supervisor": {"Version": "b", "config": "c"}}`,
		"empty":                  `{}`,
		"null":                   `null`,
		"white space":            " \t\n{ \"services\" : [ { \"name\" : \"x\" } ] } \r\n",
		"not json":               `{"services": [`,
		"trailing comma":         `{"services": [{"name": "x"},]}`,
		"trailing garbage":       `{"services": []} x`,
		"wrong type":             `{"services": [{"pid": "7", "name": "x"}]}`,
		"fraction for an int":    `{"services": [{"pid": 7.5}]}`,
		"leading zero":           `{"services": [{"pid": 07}]}`,
		"plus sign":              `{"services": [{"pid": +7}]}`,
		"huge":                   `{"services": [{"pid": 99999999999999999999}]}`,
		"negative memory":        `{"services": [{"memory_bytes": -1}]}`,
		"hex float":              `{"services": [{"cpu_percent": 0x1p-2}]}`,
		"exponent":               `{"services": [{"cpu_percent": 1.5E+3, "log_dropped": 1e3}]}`,
		"bad time":               `{"services": [{"since": "yesterday"}]}`,
		"bool":                   `{"services": [{"blocked": true}, {"blocked": false}, {"blocked": truex}]}`,
		"nul":                    `{"services": [{"exit_code": nul}]}`,
		"DEL and non-ASCII":      "{\"services\": [{\"name\": \"a\x7fb\", \"error\": \"\xff\"}]}",
		"supervisor wrong types": `{"supervisor": {"pid": "one"}, "services": []}`,
	} {
		decodedAlike(t, name, []byte(data))
	}
}

func FuzzDecodeStatus(f *testing.F) {
	st := plainStatus(2)
	f.Add(AppendStatusJSON(nil, &st))
	f.Add([]byte(`{"services": [{"name": "web", "pid": 7, "cpu_percent": 1.5, "exit_code": null}]}`))
	f.Add([]byte(`{"supervisor": {"pid": 1}, "services": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		decodedAlike(t, "fuzz", data)
	})
}

// Reading the rows does not go through reflection: a few allocations a
// row (its strings and pointers), not dozens.
func TestDecodeStatusAllocations(t *testing.T) {
	st := plainStatus(200)
	data := AppendStatusJSON(nil, &st)
	var out Status
	allocs := testing.AllocsPerRun(10, func() {
		if err := DecodeStatus(data, &out); err != nil {
			t.Fatal(err)
		}
	})
	if perRow := allocs / 200; perRow > 10 {
		t.Errorf("%.1f allocations a row, want at most 10 (json.Unmarshal makes some 19)", perRow)
	}
	if !strings.Contains(string(data), `"plain"`) || len(out.Services) != 200 {
		t.Fatalf("decoded %d rows", len(out.Services))
	}
}

func BenchmarkDecodeStatus(b *testing.B) {
	st := plainStatus(200)
	data := AppendStatusJSON(nil, &st)
	for b.Loop() {
		var out Status
		_ = DecodeStatus(data, &out)
	}
	b.SetBytes(int64(len(data)))
}

func BenchmarkUnmarshalStatus(b *testing.B) {
	st := plainStatus(200)
	data := AppendStatusJSON(nil, &st)
	for b.Loop() {
		var out Status
		_ = json.Unmarshal(data, &out)
	}
	b.SetBytes(int64(len(data)))
}

// A supervisor's key the decoder does not know costs a reflective read of
// that object alone, not of every row.
func TestDecodeStatusUnknownSupervisorKey(t *testing.T) {
	st := plainStatus(200)
	data := AppendStatusJSON(nil, &st)
	data = []byte(strings.Replace(string(data), `"supervisor": {`, `"supervisor": {"added_later": [1, {"x": "y"}],`, 1))
	decodedAlike(t, "unknown supervisor key", data)
	var out Status
	allocs := testing.AllocsPerRun(10, func() {
		if err := DecodeStatus(data, &out); err != nil {
			t.Fatal(err)
		}
	})
	if perRow := allocs / 200; perRow > 10 {
		t.Errorf("%.1f allocations a row, want at most 10", perRow)
	}
}

// DecodeStatus reads every field of Supervisor itself: a field added to it
// fails here until the decoder knows it.
func TestDecodeStatusKnowsEverySupervisorField(t *testing.T) {
	var sup Supervisor
	fill(reflect.ValueOf(&sup).Elem(), 3)
	b, err := json.Marshal(sup)
	if err != nil {
		t.Fatal(err)
	}
	d := statusDecoder{b: b}
	var got Supervisor
	if !d.supervisor(&got) || !d.end() {
		t.Fatalf("the decoder left the supervisor's object to json.Unmarshal: a field it does not know?\n%s", b)
	}
	var want Supervisor
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
