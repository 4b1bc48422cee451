package config

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and it
// must return either a config or an ErrorList with positioned entries.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\nservices:\n  web: {command: ./api --port ${PORT:-8080}}\n"))
	f.Add([]byte("version: 1\nx: &a {<<: *a}\nservices: {a: {<<: *a, command: [a]}}\n"))
	f.Add([]byte("version: 1\ndefaults: {restart: {backoff: {initial: 1m}}}\nservices: {a: {command: \"'x\"}}\n"))
	lookup := func(k string) (string, bool) { return "v " + k, k != "UNSET" }
	f.Fuzz(func(t *testing.T, data []byte) {
		// A directory that does not exist: relative env files are missing.
		c, err := Parse("/nonexistent/respawn-fuzz/r.yaml", data, lookup)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			for _, s := range c.Services {
				if len(s.Command) == 0 || s.Command[0] == "" {
					t.Fatalf("service %q has no program: %q", s.Name, s.Command)
				}
			}
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
		}
		for _, e := range list {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("badly positioned error: %+v", e)
			}
		}
	})
}
