package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLintFindsWhatIsMissingOnTheHost(t *testing.T) {
	src := `version: 1
defaults:
  user: nobody
services:
  web:
    command: no-such-program-here --port 1
    cwd: /nonexistent/dir
  api:
    command: ./bin/api
    user: ghost-user-x:ghost-group-x
  plain:
    command: ./data.txt
  dir:
    command: ./bin
  ok:
    command: sh -c "exit 0"
  local:
    command: ./run.sh
  ids:
    command: sh
    user: "12345:23456"
  file-cwd:
    command: sh
    cwd: data.txt
  own-path:
    command: tool
    env:
      PATH: /nonexistent-a:relative/dir
  many:
    command: also-missing
    replicas: 3
`
	c, dir, err := parseIn(t, src, map[string]string{"PATH": "/usr/bin:/bin"}, map[string]string{
		"data.txt":  "x",
		"run.sh":    "#!/bin/sh\n",
		"bin/.keep": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := errorLines(Lint(c, env(map[string]string{"PATH": "/usr/bin:/bin"})), dir)
	want := []string{
		`r.yaml:6:14: services.web: command: "no-such-program-here" is not found on PATH (/usr/bin:/bin)`,
		`r.yaml:7:10: services.web: cwd: /nonexistent/dir does not exist`,
		`r.yaml:9:14: services.api: command: bin/api does not exist`,
		`r.yaml:10:11: services.api: user: user "ghost-user-x" does not exist`,
		`r.yaml:10:11: services.api: user: group "ghost-group-x" does not exist`,
		`r.yaml:12:14: services.plain: command: data.txt is not executable`,
		`r.yaml:14:14: services.dir: command: bin is a directory, not a program`,
		`r.yaml:24:10: services.file-cwd: cwd: data.txt is not a directory`,
		`r.yaml:26:14: services.own-path: command: "tool" is not found on PATH (/nonexistent-a:relative/dir)`,
		`r.yaml:30:14: services.many: command: "also-missing" is not found on PATH (/usr/bin:/bin)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLintIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nservices:\n")
	n := MaxErrors + 30
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    command: missing-%d\n", i, i)
	}
	c, _, err := parseIn(t, b.String(), map[string]string{"PATH": "/usr/bin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Lint(c, env(map[string]string{"PATH": "/usr/bin"}))
	if len(got) != MaxErrors+1 {
		t.Fatalf("%d problems listed, want %d and a count", len(got), MaxErrors)
	}
	if last := got[len(got)-1].Msg; last != "and 30 more (only the first 100 are listed)" {
		t.Errorf("last line %q", last)
	}
}

func TestLintCleanConfig(t *testing.T) {
	c, _, err := parseIn(t, "version: 1\nservices:\n  a:\n    command: sh -c true\n", map[string]string{"PATH": "/usr/bin:/bin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Lint(c, env(map[string]string{"PATH": "/usr/bin:/bin"})); len(got) != 0 {
		t.Errorf("a config whose program, user and cwd exist: %v", got)
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
