package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/respawn-sh/respawn/internal/config"
)

type fakeSockets struct {
	open map[string]Socket
	log  []string
	fail string // address whose Listen fails
}

func (f *fakeSockets) Listen(s Socket) error {
	if s.Addr == f.fail {
		return errors.New("address in use")
	}
	f.log = append(f.log, "listen "+s.Service+" "+s.Addr)
	f.open[s.key()] = s
	return nil
}

func (f *fakeSockets) Unlisten(service, addr string) error {
	f.log = append(f.log, "unlisten "+service+" "+addr)
	delete(f.open, service+"\x00"+addr)
	return nil
}

func (f *fakeSockets) Held() []Socket { return nil }

func loadSockets(t *testing.T, src string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Replicas share their service's sockets; a reload opens what is new
// before anything changes and closes what is gone, never one that stays;
// a socket that cannot be opened undoes the ones just opened.
func TestSocketsFollowTheConfig(t *testing.T) {
	old := loadSockets(t, `version: 1
services:
  web: {command: ./web, replicas: 2, listen: ["tcp://:8080", "tcp://:8081"]}
  api: {command: ./api, listen: ["unix:///run/api.sock"], backlog: 7}
`)
	cur := loadSockets(t, `version: 1
services:
  web: {command: ./web, replicas: 3, listen: ["tcp://:8080", "tcp://:9090"]}
`)
	want := []Socket{
		{Service: "web", Addr: "tcp://:8080", Backlog: 1024},
		{Service: "web", Addr: "tcp://:8081", Backlog: 1024},
		{Service: "api", Addr: "unix:///run/api.sock", Backlog: 7},
	}
	if got := socketsOf(old); !reflect.DeepEqual(got, want) {
		t.Fatalf("socketsOf = %+v", got)
	}
	f := &fakeSockets{open: map[string]Socket{}}
	s := &Supervisor{opts: Options{Sockets: f}}
	if err := s.openSockets(socketsOf(old), nil); err != nil {
		t.Fatal(err)
	}
	f.log = nil
	if err := s.openSockets(socketsOf(cur), socketsOf(old)); err != nil {
		t.Fatal(err)
	}
	if err := s.closeSockets(socketsOf(cur), socketsOf(old)); err != nil {
		t.Fatal(err)
	}
	wantLog := []string{"listen web tcp://:8080", "listen web tcp://:9090", "unlisten web tcp://:8081", "unlisten api unix:///run/api.sock"}
	if !reflect.DeepEqual(f.log, wantLog) {
		t.Errorf("reload did %q, want %q", f.log, wantLog)
	}
	// A port in use: nothing new stays open, nothing old is closed.
	f.fail, f.log = "tcp://:9191", nil
	next := loadSockets(t, `version: 1
services:
  web: {command: ./web, listen: ["tcp://:7070", "tcp://:8080", "tcp://:9191"]}
`)
	if err := s.openSockets(socketsOf(next), socketsOf(cur)); err == nil {
		t.Fatal("a socket that cannot be opened went unnoticed")
	}
	if _, ok := f.open["web\x00tcp://:7070"]; ok || len(f.open) != 2 {
		t.Errorf("after a failed open: %v (log %q)", f.open, f.log)
	}
	if got := listenersOf(cur.Service("web.2")); len(got) != 2 || got[0].Owner != "web" || got[0].Name != "web" {
		t.Errorf("listenersOf(web.2) = %+v", got)
	}
}
