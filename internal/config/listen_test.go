package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestListenGood(t *testing.T) {
	src := `version: 1
defaults:
  backlog: 200
services:
  web:
    command: ./web
    listen:
      - tcp://127.0.0.1:8080
      - tcp://[::1]:8080
      - {address: "tcp://:8081", name: admin}
      - {address: unix:///run/web.sock, mode: "0660", owner: "1000", group: www}
    restart: {strategy: start-first}
    replicas: 2
  api:
    command: ./api
    listen: [unix:///run/api.sock]
    backlog: 5
`
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Service("web.1")
	want := []Listen{
		{Addr: "tcp://127.0.0.1:8080", Name: "web"},
		{Addr: "tcp://[::1]:8080", Name: "web"},
		{Addr: "tcp://:8081", Name: "admin"},
		{Addr: "unix:///run/web.sock", Name: "web", Mode: 0o660, Owner: "1000", Group: "www"},
	}
	if !reflect.DeepEqual(w.Listen, want) || w.Backlog != 200 || w.Restart.Strategy != StartFirst || w.Restart.MaxUnavailable != 1 {
		t.Errorf("web.1 = %+v %d %+v", w.Listen, w.Backlog, w.Restart)
	}
	if !reflect.DeepEqual(c.Service("web.2").Listen, want) {
		t.Error("replicas do not share the sockets")
	}
	a := c.Service("api")
	if a.Backlog != 5 || a.Restart.Strategy != StopFirst || len(a.Listen) != 1 || a.Listen[0].Name != "api" {
		t.Errorf("api = %+v", a)
	}
}

func TestListenBad(t *testing.T) {
	long := "unix:///" + strings.Repeat("d", 110)
	tests := []struct{ src, want string }{
		{"listen: [http://1.2.3.4:80]", `r.yaml:5:14: services.web.listen[0]: "http://1.2.3.4:80": expected tcp://HOST:PORT or unix:///PATH`},
		{"listen: [tcp://localhost:80]", `is not an IP address`},
		{"listen: [tcp://1.2.3.4:0]", `port must be 1 to 65535`},
		{"listen: [tcp://1.2.3.4]", `expected tcp://HOST:PORT`},
		{"listen: [unix://rel.sock]", `must be absolute`},
		{"listen: [" + long + "]", `socket path of 111 bytes, longer than 103`},
		{"listen: [tcp://:80, tcp://:80]", `r.yaml:5:25: services.web.listen[1]: tcp://:80 is listed twice`},
		{"listen: [{address: tcp://:80, mode: '0600'}]", `apply to a unix:// socket only`},
		{"listen: [{address: unix:///a, bogus: 1}]", `bogus`},
		{"listen: [{name: x}]", `address is missing`},
		{"listen: [{address: 'tcp://:80', name: 'a:b'}]", `without ':'`},
		{"listen: tcp://:80", `expected a list of addresses`},
		{"backlog: 0", `backlog`},
		{"restart: {strategy: blue-green}", `"blue-green" is not one of stop-first, start-first`},
		{"restart: {max_unavailable: 0}", `max_unavailable`},
		{"listen: [" + strings.Repeat("tcp://:1,", 65) + "]", `65 sockets, at most 64`},
	}
	for _, tt := range tests {
		src := "version: 1\nservices:\n  web:\n    command: ./web\n    " + tt.src + "\n"
		_, _, err := parseIn(t, src, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
	src := "version: 1\nservices:\n  a:\n    command: ./a\n    listen: [tcp://:80]\n  b:\n    command: ./b\n    listen: [tcp://:80]\n"
	_, _, err := parseIn(t, src, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "r.yaml:8:14: listen: tcp://:80 is also a socket of service a (line 5)") {
		t.Errorf("duplicate across services: %v", err)
	}
}

// A start-first service whose readiness probe goes through its own shared
// socket is warned about: the old run may answer for the new one.
func TestLintReadyThroughSharedSocket(t *testing.T) {
	src := `version: 1
services:
  web:
    command: /bin/true
    cwd: /
    listen: [tcp://:8080]
    ready: {http: "http://127.0.0.1:8080/healthz"}
    restart: {strategy: start-first}
  api:
    command: /bin/true
    cwd: /
    listen: [tcp://127.0.0.1:9090]
    ready: {log: ready}
    restart: {strategy: start-first}
`
	c, _, err := parseIn(t, src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Lint(c, func(string) (string, bool) { return "", false })
	if len(got) != 1 || !strings.Contains(got[0].Error(), "r.yaml:3:1: services.web: ready: the probe connects to tcp://:8080") {
		t.Errorf("lint = %v", got)
	}
}
