package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSupervisorAccessKeys(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantAPI  APISettings
		wantHTTP *HTTPSettings // TokenFile relative to the config dir
	}{
		{
			name: "absent: socket only, no group, HTTP off",
			src:  "version: 1\nservices: {}\n",
		},
		{
			name: "null http counts as absent",
			src:  "version: 1\nsupervisor: {http: ~, api: ~}\nservices: {}\n",
		},
		{
			name:     "full",
			src:      "version: 1\nsupervisor:\n  api: {allow_group: wheel}\n  http: {listen: \"0.0.0.0:9000\", token_file: secret.token}\nservices: {}\n",
			wantAPI:  APISettings{AllowGroup: "wheel"},
			wantHTTP: &HTTPSettings{Listen: "0.0.0.0:9000", TokenFile: "secret.token"},
		},
		{
			name:     "numeric gid, no host binds loopback",
			src:      "version: 1\nsupervisor:\n  api: {allow_group: 1000}\n  http: {listen: \":9181\", token_file: t/tok}\nservices: {}\n",
			wantAPI:  APISettings{AllowGroup: "1000"},
			wantHTTP: &HTTPSettings{Listen: "127.0.0.1:9181", TokenFile: "t/tok"},
		},
		{
			name:     "default listen",
			src:      "version: 1\nsupervisor: {http: {token_file: /etc/respawn.token}}\nservices: {}\n",
			wantHTTP: &HTTPSettings{Listen: "127.0.0.1:9180", TokenFile: "/etc/respawn.token"},
		},
		{
			name:     "IPv6 and ${VAR}",
			src:      "version: 1\nsupervisor: {http: {listen: \"[::1]:${PORT}\", token_file: tok}}\nservices: {}\n",
			wantHTTP: &HTTPSettings{Listen: "[::1]:9182", TokenFile: "tok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := parseIn(t, tt.src, map[string]string{"PORT": "9182"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Supervisor.API != tt.wantAPI {
				t.Errorf("API = %+v, want %+v", c.Supervisor.API, tt.wantAPI)
			}
			want := tt.wantHTTP
			if want != nil && !filepath.IsAbs(want.TokenFile) {
				want.TokenFile = filepath.Join(dir, want.TokenFile)
			}
			if !reflect.DeepEqual(c.Supervisor.HTTP, want) {
				t.Errorf("HTTP = %+v, want %+v", c.Supervisor.HTTP, want)
			}
		})
	}
}

func TestSupervisorAccessKeysInvalid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "http without a token file",
			src:  "version: 1\nsupervisor:\n  http: {listen: \"127.0.0.1:9180\"}\nservices: {}\n",
			want: []string{`r.yaml:3:9: supervisor.http: missing required key "token_file"`},
		},
		{
			name: "empty values",
			src:  "version: 1\nsupervisor:\n  api: {allow_group: \"\"}\n  http: {token_file: \"\"}\nservices: {}\n",
			want: []string{
				`r.yaml:3:22: supervisor.api.allow_group: must not be empty`,
				`r.yaml:4:22: supervisor.http.token_file: must not be empty`,
			},
		},
		{
			name: "listen without a colon",
			src:  "version: 1\nsupervisor:\n  http: {listen: 9180, token_file: t}\nservices: {}\n",
			want: []string{`r.yaml:3:18: supervisor.http.listen: "9180" is not HOST:PORT (e.g. 127.0.0.1:9180, or :9180 for loopback)`},
		},
		{
			name: "port out of range",
			src:  "version: 1\nsupervisor:\n  http: {listen: \"h:70000\", token_file: t}\nservices: {}\n",
			want: []string{`r.yaml:3:18: supervisor.http.listen: port "70000" is not a number from 1 to 65535`},
		},
		{
			name: "named port",
			src:  "version: 1\nsupervisor:\n  http: {listen: \"localhost:http\", token_file: t}\nservices: {}\n",
			want: []string{`r.yaml:3:18: supervisor.http.listen: port "http" is not a number from 1 to 65535`},
		},
		{
			name: "wrong shapes",
			src:  "version: 1\nsupervisor:\n  http: true\n  api: [wheel]\nservices: {}\n",
			want: []string{
				`r.yaml:3:9: supervisor.http: expected a mapping, got "true"`,
				`r.yaml:4:8: supervisor.api: expected a mapping, got a list`,
			},
		},
		{
			name: "unknown key under http",
			src:  "version: 1\nsupervisor:\n  http: {token_file: t, tokenfile: u}\nservices: {}\n",
			want: []string{`r.yaml:3:25: supervisor.http: unknown key "tokenfile" (did you mean "token_file"?)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir, err := parseIn(t, tt.src, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errorLines(err, dir); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSupervisorContainment(t *testing.T) {
	for src, want := range map[string]string{
		"version: 1\nservices: {}\n":                                           "auto",
		"version: 1\nsupervisor: {containment: cgroup}\nservices: {}\n":        "cgroup",
		"version: 1\nsupervisor: {containment: process-group}\nservices: {}\n": "process-group",
		"version: 1\nsupervisor: {containment: auto}\nservices: {}\n":          "auto",
	} {
		c, _, err := parseIn(t, src, nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if c.Supervisor.Containment != want {
			t.Errorf("%q: containment %q, want %q", src, c.Supervisor.Containment, want)
		}
	}
	_, dir, err := parseIn(t, "version: 1\nsupervisor:\n  containment: pgroup\nservices: {}\n", nil, nil)
	if err == nil {
		t.Fatal("containment: pgroup accepted")
	}
	got := errorLines(err, dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], "r.yaml:3:16: supervisor.containment:") || !strings.Contains(got[0], "auto, cgroup, process-group") {
		t.Errorf("errors: %q", got)
	}
}

func TestSupervisorPlatform(t *testing.T) {
	for src, want := range map[string]string{
		"version: 1\nservices: {}\n":                                                            "auto",
		"version: 1\nsupervisor: {platform: posix}\nservices: {}\n":                             "posix",
		"version: 1\nsupervisor: {platform: auto}\nservices: {}\n":                              "auto",
		"version: 1\nsupervisor: {platform: posix, containment: process-group}\nservices: {}\n": "posix",
	} {
		c, _, err := parseIn(t, src, nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if c.Supervisor.Platform != want {
			t.Errorf("%q: platform %q, want %q", src, c.Supervisor.Platform, want)
		}
	}
	for src, wantErr := range map[string]string{
		"version: 1\nsupervisor:\n  platform: windows\nservices: {}\n":                      "r.yaml:3:13: supervisor.platform:",
		"version: 1\nsupervisor:\n  platform: posix\n  containment: cgroup\nservices: {}\n": "r.yaml:4:16: supervisor.containment: cgroup needs",
	} {
		_, dir, err := parseIn(t, src, nil, nil)
		if err == nil {
			t.Errorf("%q accepted", src)
			continue
		}
		got := errorLines(err, dir)
		if len(got) != 1 || !strings.HasPrefix(got[0], wantErr) {
			t.Errorf("%q: errors %q, want one starting %q", src, got, wantErr)
		}
	}
}
