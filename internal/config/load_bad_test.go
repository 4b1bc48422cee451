package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		env   map[string]string
		files map[string]string
		want  []string
	}{
		{
			name: "not YAML",
			src:  "version: 1\nservices:\n  web: [a, b\n",
			want: []string{"r.yaml:3:1: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "bad indentation",
			src:  "version: 1\nservices:\n  web:\n    command: x\n   bad: y\n",
			want: []string{"r.yaml:5:1: invalid YAML: did not find expected key"},
		},
		{
			name: "YAML error without a line",
			src:  "version: 1\nservices: *nowhere\n",
			want: []string{"r.yaml:2:1: invalid YAML: unknown anchor 'nowhere' referenced"},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{"r.yaml:1:1: the file is empty"},
		},
		{
			name: "comments only",
			src:  "# nothing here\n",
			want: []string{"r.yaml:1:1: the file is empty"},
		},
		{
			name: "two documents",
			src:  "version: 1\nservices: {}\n---\nversion: 1\n",
			want: []string{"r.yaml:3:1: only one YAML document is allowed, found a second"},
		},
		{
			name: "top level is a list",
			src:  "- version: 1\n",
			want: []string{"r.yaml:1:1: top level: expected a mapping, got a list"},
		},
		{
			name: "top level is null",
			src:  "~\n",
			want: []string{
				`r.yaml:1:1: missing required key "version"`,
				`r.yaml:1:1: missing required key "services"`,
			},
		},
		{
			name: "missing keys, unknown keys, bad version",
			src: `servics: {}
supervisor:
  htp: {listen: "127.0.0.1:9180"}
  api: {allow_groups: wheel}
  log: {level: verbose, format: xml, colour: true}
  state_dir: ""
`,
			want: []string{
				`r.yaml:1:1: top level: unknown key "servics" (did you mean "services"?)`,
				`r.yaml:1:1: missing required key "version"`,
				`r.yaml:1:1: missing required key "services"`,
				`r.yaml:3:3: supervisor: unknown key "htp" (did you mean "http"?)`,
				`r.yaml:4:9: supervisor.api: unknown key "allow_groups" (did you mean "allow_group"?)`,
				`r.yaml:5:16: supervisor.log.level: "verbose" is not one of debug, info, warn, error`,
				`r.yaml:5:33: supervisor.log.format: "xml" is not one of text, json`,
				`r.yaml:5:38: supervisor.log: unknown key "colour"`,
				`r.yaml:6:14: supervisor.state_dir: must not be empty`,
			},
		},
		{
			name: "version",
			src:  "version: 2\nservices: {}\n",
			want: []string{"r.yaml:1:10: version: unsupported version 2 (this release reads version 1)"},
		},
		{
			name: "version not a number",
			src:  "version: one\nservices: []\n",
			want: []string{
				`r.yaml:1:10: version: expected an integer, got "one"`,
				`r.yaml:2:11: services: expected a mapping, got a list`,
			},
		},
		{
			name: "version null",
			src:  "version:\nservices: {}\n",
			want: []string{`r.yaml:1:1: version: expected 1, got null`},
		},
		{
			name: "service names",
			src: `version: 1
services:
  all: {command: a}
  bad name: {command: a}
  -x: {command: a}
  a..b: {command: a}
  ` + strings.Repeat("n", 65) + `: {command: a}
  ok: {command: a}
  ok: {command: b}
`,
			want: []string{
				`r.yaml:3:3: services: "all" cannot name a service: commands use it to mean every service`,
				`r.yaml:4:3: services: invalid service name "bad name" (use letters, digits, '_', '.' and '-', starting with a letter or digit)`,
				`r.yaml:5:3: services: invalid service name "-x" (use letters, digits, '_', '.' and '-', starting with a letter or digit)`,
				`r.yaml:6:3: services: service name "a..b" must not contain ".."`,
				`r.yaml:7:3: services: service name "` + strings.Repeat("n", 57) + `..." is longer than 64 characters`,
				`r.yaml:9:3: services: duplicate key "ok" (first at line 8)`,
			},
		},
		{
			name: "service shapes and commands",
			src: `version: 1
services:
  list: [a]
  none:
  nocmd: {cwd: /}
  blank: {command: "  "}
  emptylist: {command: []}
  map: {command: {a: b}}
  quote: {command: "echo 'oops"}
  trailing: {command: 'echo \'}
  item: {command: [echo, [x]]}
  noprog: {command: ["", x]}
  vanish: {command: "${UNSET}"}
`,
			want: []string{
				`r.yaml:3:9: services.list: expected a mapping, got a list`,
				`r.yaml:4:3: services.none: missing required key "command"`,
				`r.yaml:5:3: services.nocmd: missing required key "command"`,
				`r.yaml:6:20: services.blank.command: must not be empty`,
				`r.yaml:7:24: services.emptylist.command: must not be empty`,
				`r.yaml:8:18: services.map.command: expected a string or a list of strings, got a mapping`,
				`r.yaml:9:20: services.quote.command: invalid command: unterminated single quote at byte 5 of "echo 'oops"`,
				`r.yaml:10:23: services.trailing.command: invalid command: "echo \\" ends with a backslash`,
				`r.yaml:11:26: services.item.command[1]: expected a string, got a list`,
				`r.yaml:12:21: services.noprog.command: the program name is empty`,
				`r.yaml:13:21: services.vanish.command: empty once variables are expanded`,
			},
		},
		{
			name: "kinds",
			src: `version: 1
services:
  a: {command: a, kind: forking}
  b: {command: b, kind: external}
  c: {command: c, kind: daemon}
  d: {command: d, kind: [process]}
`,
			want: []string{
				`r.yaml:3:3: services.a: kind forking needs pidfile, the file its daemon writes its pid to`,
				`r.yaml:4:3: services.b: kind external needs one of pidfile, match, unit to find its process`,
				"r.yaml:4:16: services.b.command: an external service is started by `start`, not `command`",
				`r.yaml:5:25: services.c.kind: "daemon" is not one of process, oneshot, forking, external`,
				`r.yaml:6:25: services.d.kind: expected a kind, got a list`,
			},
		},
		{
			name: "keys of other kinds are told apart from unknown ones",
			src: `version: 1
defaults:
  health: {tcp: ":1"}
services:
  a:
    command: a
    ready: {tcp: ":1"}
    replicas: 2
    kind: oneshot
    pidfile: /run/a.pid
    match: a
    unit: a.service
    start: [a]
    stop: {command: [x], sginal: TERM}
    raedy: {}
    comand: a
`,
			want: []string{
				`r.yaml:10:14: services.a.pidfile: pidfile needs kind: forking or external`,
				`r.yaml:11:12: services.a.match: match needs kind: external`,
				`r.yaml:12:11: services.a.unit: unit needs kind: external`,
				`r.yaml:13:12: services.a.start: start needs kind: external (a oneshot service is started by command)`,
				`r.yaml:14:26: services.a.stop: unknown key "sginal" (did you mean "signal"?)`,
				`r.yaml:15:5: services.a: unknown key "raedy" (did you mean "ready"?)`,
				`r.yaml:16:5: services.a: unknown key "comand" (did you mean "command"?)`,
			},
		},
		{
			name: "env",
			src: `version: 1
services:
  a:
    command: a
    env:
      1BAD: x
      OK-NOT: y
      LIST: [1]
      GOOD: ${oops
    env_file: {a: b}
`,
			want: []string{
				`r.yaml:6:7: services.a.env: invalid variable name "1BAD" (use letters, digits and '_', not starting with a digit)`,
				`r.yaml:7:7: services.a.env: invalid variable name "OK-NOT" (use letters, digits and '_', not starting with a digit)`,
				`r.yaml:8:13: services.a.env.LIST: expected a string, got a list`,
				`r.yaml:9:13: services.a.env.GOOD: malformed ${...} reference in "${oops": missing closing "}"`,
				`r.yaml:10:15: services.a.env_file: expected a path or a list of paths, got a mapping`,
			},
		},
		{
			name:  "env files that are missing or malformed",
			files: map[string]string{"bad.env": "OK=1\nno equals sign\n9X=1\n"},
			src: `version: 1
services:
  a:
    command: a
    env_file: [missing.env, bad.env]
`,
			want: []string{
				`r.yaml:5:16: services.a.env_file: open missing.env: no such file or directory`,
				`r.yaml:5:29: services.a.env_file: bad.env:2: expected KEY=VALUE, got "no equals sign"`,
				`r.yaml:5:29: services.a.env_file: bad.env:3: invalid variable name "9X"`,
			},
		},
		{
			name: "malformed references",
			src: `version: 1
supervisor: {state_dir: "${}"}
services:
  a:
    command: "run ${X:-unterminated"
    cwd: ${1X}
    user: ${X:?no}
    group: ${X
`,
			want: []string{
				`r.yaml:2:25: supervisor.state_dir: malformed ${...} reference in "${}": "${" must be followed by a variable name (letters, digits and '_', not starting with a digit)`,
				`r.yaml:5:14: services.a.command: malformed ${...} reference in "run ${X:-unterminated": missing closing "}"`,
				`r.yaml:6:10: services.a.cwd: malformed ${...} reference in "${1X}": "${" must be followed by a variable name (letters, digits and '_', not starting with a digit)`,
				`r.yaml:7:11: services.a.user: malformed ${...} reference in "${X:?no}": unexpected ':' after "${X" (want "}", ":-" or "-")`,
				`r.yaml:8:12: services.a.group: malformed ${...} reference in "${X": missing closing "}"`,
			},
		},
		{
			name: "umask and rlimits",
			src: `version: 1
services:
  a:
    command: a
    umask: 1777
  b:
    command: b
    umask: "0999"
    rlimits:
      nofiles: 1
      bogus: 1
      core: -1
      nproc: {soft: 10, hard: 5}
      stack: {soft: 10}
      cpu: {soft: x, hard: 1, max: 2}
      data: [1]
`,
			want: []string{
				`r.yaml:5:12: services.a.umask: 1777 is more than 0777`,
				`r.yaml:8:12: services.b.umask: expected an octal number such as 022, got "0999"`,
				`r.yaml:10:7: services.b.rlimits: unknown limit "nofiles" (did you mean "nofile"?)`,
				`r.yaml:11:7: services.b.rlimits: unknown limit "bogus" (known: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rtprio, sigpending, stack)`,
				`r.yaml:12:13: services.b.rlimits.core: expected a non-negative integer or "unlimited", got "-1"`,
				`r.yaml:13:21: services.b.rlimits.nproc: soft limit is above the hard limit`,
				`r.yaml:14:14: services.b.rlimits.stack: needs both soft and hard`,
				`r.yaml:15:19: services.b.rlimits.cpu.soft: expected a non-negative integer or "unlimited", got "x"`,
				`r.yaml:15:31: services.b.rlimits.cpu: unknown key "max"`,
				`r.yaml:16:13: services.b.rlimits.data: expected an integer or "unlimited", got a list`,
			},
		},
		{
			name: "restart",
			src: `version: 1
services:
  a:
    command: a
    autostart: yes
    restart:
      policy: sometimes
      success_codes: [0, 256, x]
      backoff: {initial: -1s, max: [1s], factor: 0.5, jitter: 1.5}
      limit: {burst: -1, window: 10}
      reset_after: soon
      cooldown: {}
  b:
    command: b
    restart: {success_codes: [], backoff: {initial: 1m}, limit: {window: 0}}
  c:
    command: c
    restart: {success_codes: 0, backoff: {factor: nan, jitter: .inf}}
`,
			want: []string{
				`r.yaml:5:16: services.a.autostart: expected true or false, got "yes"`,
				`r.yaml:7:15: services.a.restart.policy: "sometimes" is not one of always, on-failure, never`,
				`r.yaml:8:26: services.a.restart.success_codes[1]: 256 is out of range (0 to 255)`,
				`r.yaml:8:31: services.a.restart.success_codes[2]: expected an integer, got "x"`,
				`r.yaml:9:26: services.a.restart.backoff.initial: duration -1s is negative`,
				`r.yaml:9:36: services.a.restart.backoff.max: expected a duration, got a list`,
				`r.yaml:9:50: services.a.restart.backoff.factor: 0.5 is out of range (at least 1)`,
				`r.yaml:9:63: services.a.restart.backoff.jitter: 1.5 is out of range (0 to 1)`,
				`r.yaml:10:22: services.a.restart.limit.burst: -1 is out of range (at least 0)`,
				`r.yaml:10:34: services.a.restart.limit.window: "10" needs a unit, such as "10s"`,
				`r.yaml:11:20: services.a.restart.reset_after: expected a duration such as "100ms", "5m" or "1h30m", got "soon"`,
				`r.yaml:12:17: services.a.restart.cooldown: expected a duration, got a mapping`,
				`r.yaml:15:30: services.b.restart.success_codes: must list at least one exit code`,
				`r.yaml:15:53: services.b: restart.backoff.max 30s is less than restart.backoff.initial 1m0s`,
				`r.yaml:15:74: services.b: restart.limit.window must be more than 0 when restart.limit.burst is 10`,
				`r.yaml:18:30: services.c.restart.success_codes: expected a list of exit codes, got "0"`,
				`r.yaml:18:51: services.c.restart.backoff.factor: expected a number, got "nan"`,
				`r.yaml:18:64: services.c.restart.backoff.jitter: expected a number, got ".inf"`,
			},
		},
		{
			name: "stop and logs",
			src: `version: 1
services:
  a:
    command: a
    stop: {signal: SIGNOPE, timeout: 1d}
    logs: {max_size: 10XB, max_files: 0}
  b:
    command: b
    stop: {signal: 0}
    logs: {max_size: 0, max_files: many}
  c:
    command: c
    stop: [TERM]
    logs: {max_size: -5}
`,
			want: []string{
				`r.yaml:5:20: services.a.stop.signal: unknown signal "SIGNOPE"`,
				`r.yaml:5:38: services.a.stop.timeout: expected a duration such as "100ms", "5m" or "1h30m", got "1d"`,
				`r.yaml:6:22: services.a.logs.max_size: invalid size "10XB": unknown unit "XB" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`,
				`r.yaml:6:39: services.a.logs.max_files: 0 is out of range (at least 1)`,
				`r.yaml:9:20: services.b.stop.signal: unknown signal "0"`,
				`r.yaml:10:22: services.b.logs.max_size: must be more than 0`,
				`r.yaml:10:36: services.b.logs.max_files: expected an integer, got "many"`,
				`r.yaml:13:11: services.c.stop: expected a mapping, got a list`,
				`r.yaml:14:22: services.c.logs.max_size: invalid size "-5": want a number such as 100, 10MB or 1.5GiB`,
			},
		},
		{
			name: "defaults are checked once, not once per service",
			src: `version: 1
defaults:
  command: a
  restart: {policy: bad, backoff: {initial: 1m}}
  env: {A: "${"}
services:
  a: {command: a}
  b: {command: b}
`,
			want: []string{
				`r.yaml:3:12: defaults.command: a command cannot be set in defaults; give each service its own`,
				`r.yaml:4:21: defaults.restart.policy: "bad" is not one of always, on-failure, never`,
				`r.yaml:4:45: defaults: restart.backoff.max 30s is less than restart.backoff.initial 1m0s`,
				`r.yaml:5:12: defaults.env.A: malformed ${...} reference in "${": missing closing "}"`,
			},
		},
		{
			name: "a service fixing what the defaults got wrong is still reported at the defaults",
			src: `version: 1
defaults: {restart: {backoff: {initial: 1m}}}
services:
  a: {command: a, restart: {backoff: {max: 2m}}}
  b: {command: b, restart: {backoff: {max: 1s}}}
`,
			want: []string{
				`r.yaml:2:41: defaults: restart.backoff.max 30s is less than restart.backoff.initial 1m0s`,
				`r.yaml:5:44: services.b: restart.backoff.max 1s is less than restart.backoff.initial 1m0s`,
			},
		},
		{
			name: "merge keys gone wrong",
			src: `version: 1
x-self: &self
  <<: *self
x-bad: &bad [1]
services:
  a:
    <<: *bad
    command: a
  b:
    <<: [*bad]
    command: b
  c:
    <<: *self
    command: c
  ? [x]
  : {command: d}
`,
			want: []string{
				`r.yaml:2:9: services.c: merge key (<<) makes this mapping include itself`,
				`r.yaml:4:8: services.b: a merge key (<<) takes a mapping or a list of mappings, got a list`,
				`r.yaml:4:14: services.a: a merge key (<<) takes a mapping or a list of mappings, got "1"`,
				`r.yaml:15:5: services: a key must be a plain string, got a list`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, tt.env, tt.files)
			if err == nil {
				t.Fatalf("no error; services %+v", c.Services)
			}
			if c != nil {
				t.Errorf("a config came back with the error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			got := errorLines(err, dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestErrorListUnwraps(t *testing.T) {
	_, _, err := parseIn(t, "version: 1\nservices:\n  a: {command: a, env_file: nope.env}\n", nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	var one *Error
	if !errors.As(err, &one) {
		t.Fatalf("errors.As(*Error) failed for %v", err)
	}
	if one.Line != 3 || one.Col != 29 || !strings.HasPrefix(one.Msg, "services.a.env_file: ") {
		t.Errorf("got %d:%d %q", one.Line, one.Col, one.Msg)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nservices:\n  web: {command: \"serve ${P}\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(k string) (string, bool) { return map[string]string{"P": "80"}[k], k == "P" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || !reflect.DeepEqual(c.Services[0].Command, []string{"serve", "80"}) {
		t.Errorf("Path %q Command %q", c.Path, c.Services[0].Command)
	}

	// The file's name appears in messages as the caller gave it.
	if err := os.WriteFile(path, []byte("version: 1\nservices: {a: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err = Load("respawn.yaml", nil)
	if err == nil || err.Error() != `respawn.yaml:2:12: services.a: missing required key "command"` {
		t.Errorf("got %v", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	var list ErrorList
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &list) {
		t.Errorf("missing file: got %v, want a wrapped fs.ErrNotExist and no ErrorList", err)
	}
}

// A file with a great many mistakes lists the first MaxErrors and counts
// the rest, rather than collecting every one.
func TestErrorsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nservices:\n")
	const services = 5000
	for i := range services {
		fmt.Fprintf(&b, "  s%d: {command: x, a: 1, b: 2, c: 3, d: 4}\n", i)
	}
	_, err := Parse("r.yaml", []byte(b.String()), nil)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v is no ErrorList", err)
	}
	if len(list) != MaxErrors+1 {
		t.Fatalf("%d errors listed, want %d and a count of the rest", len(list), MaxErrors+1)
	}
	// Four errors a service: checking stops after the 25th.
	want := fmt.Sprintf("checking stopped after %d errors: %d more services were not checked", MaxErrors, services-MaxErrors/4)
	if last := list[len(list)-1]; !strings.Contains(last.Msg, want) {
		t.Errorf("last entry %q, want it to say %q", last.Error(), want)
	}
	if first := list[0].Error(); first != `r.yaml:3:20: services.s0: unknown key "a"` {
		t.Errorf("first error %q", first)
	}
}
