package config

import "testing"

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]string{
		"TERM": "TERM", "SIGTERM": "TERM", "term": "TERM", "sigterm": "TERM", "15": "TERM",
		"KILL": "KILL", "9": "KILL", "HUP": "HUP", "1": "HUP", "INT": "INT", "QUIT": "QUIT", "USR1": "USR1",
	} {
		if got, ok := parseSignal(in); !ok || got != want {
			t.Errorf("parseSignal(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "SIG", "NOPE", "SIGNOPE", "0", "-15", "100000", "TERM "} {
		if got, ok := parseSignal(in); ok {
			t.Errorf("parseSignal(%q) = %q; want an error", in, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"command", "cwd", "env", "env_file", "restart"}
	for typed, want := range map[string]string{
		"comand": "command", "restat": "restart", "envfile": "env_file", "ENV": "", "cw": "cwd", "xyz": "", "e": "",
	} {
		if got := suggest(typed, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", typed, got, want)
		}
	}
}
