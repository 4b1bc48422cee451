//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
	"github.com/respawn-sh/respawn/internal/proc/observe"
)

// The real-daemon suite: Debian's postgresql, redis-server, nginx and
// memcached run under respawn (never as the packages' system services), on
// loopback ports, with their data in the test's folder. Each is made ready,
// killed with SIGKILL and respawned, stopped and started, restarts a
// dependent, and leaves no process after `down`. A test skips only when its
// daemon is not installed (CI installs them: see .ci/run).

// daemonDeadline bounds each wait on a real daemon: an initdb on a loaded
// 2-core machine takes tens of seconds.
const daemonDeadline = 120 * time.Second

// daemonBinary returns the first of paths that exists, or skips the test.
func daemonBinary(t *testing.T, pkg string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if matches, _ := filepath.Glob(p); len(matches) > 0 {
			return matches[len(matches)-1] // the newest version's, in glob order
		}
	}
	t.Skipf("%s is not installed (%s): apt-get install %s", pkg, strings.Join(paths, ", "), pkg)
	return ""
}

// daemonUser checks that the daemon's system user exists and that we may
// switch to it.
func daemonUser(t *testing.T, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the real-daemon suite runs the daemons as their own users: it needs root")
	}
	if _, err := user.Lookup(name); err != nil {
		t.Fatalf("user %s: %v (the package creates it)", name, err)
	}
}

// daemonDir returns a fresh folder the daemon users can search, and a
// sub-folder data owned by who.
func daemonDir(t *testing.T, who string) (dir, data string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data = filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(who)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// loopbackPort returns a loopback TCP port nobody listens on now.
func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSupIn runs `respawn up` on config written into dir.
func startSupIn(t *testing.T, dir, config string) *sup {
	t.Helper()
	path := filepath.Join(dir, "respawn.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sup{t: t, dir: dir, config: path, stderr: &syncBuffer{}, exited: make(chan struct{})}
	s.start()
	return s
}

// waitLong is sup.waitFor with the real daemons' deadline.
func (s *sup) waitLong(name, what string, cond func(api.Service) bool) api.Service {
	s.t.Helper()
	end := time.Now().Add(daemonDeadline)
	var last api.Service
	for time.Now().Before(end) {
		for _, svc := range s.status().Services {
			if svc.Name == name {
				last = svc
				if cond(last) {
					return last
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("%s: never %s within %s; last %+v\nwhy:\n%s", name, what, daemonDeadline, last, s.why(name))
	return last
}

func (s *sup) why(name string) string {
	out, errs, _ := s.run("why", name)
	return out + errs
}

// procID is a process told from a later one that reuses its pid.
type procID struct {
	pid   int
	start uint64
}

// treeOf returns root and every process below it, by /proc's parent links.
func treeOf(root int) []procID {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []procID
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		if st, err := observe.StartTime(pid); err == nil {
			out = append(out, procID{pid, st})
		}
		queue = append(queue, children[pid]...)
	}
	return out
}

// liveOf returns those of ids that still run (zombies have ended).
func liveOf(ids []procID) []procID {
	var out []procID
	for _, id := range ids {
		if st, err := observe.StartTime(id.pid); err == nil && st == id.start && alive(id.pid) {
			out = append(out, id)
		}
	}
	return out
}

// procsUnder lists live processes whose working directory is dir or below:
// every daemon process here starts in the test's folder (and a daemon that
// changes directory changes to its data folder, inside it).
func procsUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitNoneLeft waits until none of ids runs and no process works in dir.
func waitNoneLeft(t *testing.T, what string, ids []procID, dir string) {
	t.Helper()
	end := time.Now().Add(daemonDeadline)
	for {
		left, under := liveOf(ids), []int(nil)
		if dir != "" {
			under = procsUnder(dir)
		}
		if len(left) == 0 && len(under) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: processes left: %v; working in %s: %v", what, left, dir, under)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exerciseDaemon runs the suite's script on service name, whose dependent
// "dependent" has depends_on {name: {condition: ready, restart: true}};
// check, when set, proves the daemon serves.
func exerciseDaemon(t *testing.T, s *sup, name string, check func() error) {
	t.Helper()
	serves := func(when string) {
		t.Helper()
		if check == nil {
			return
		}
		if err := check(); err != nil {
			t.Fatalf("%s: %s does not serve: %v", when, name, err)
		}
	}
	running := func(x api.Service) bool { return x.State == "running" && x.Pid != 0 }

	// Ready.
	first := s.waitLong(name, "ready", running)
	dep := s.waitLong("dependent", "running", running)
	serves("ready")

	// kill -9 of the main process: respawned and ready again; the dependent
	// is restarted; nothing of the killed instance is left.
	tree := treeOf(first.Pid)
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	again := s.waitLong(name, "respawned and ready after kill -9", func(x api.Service) bool {
		return running(x) && x.Pid != first.Pid && x.Restarts > first.Restarts
	})
	s.waitLong("dependent", "restarted after its dependency", func(x api.Service) bool {
		return running(x) && x.Pid != dep.Pid
	})
	waitNoneLeft(t, "after kill -9 and respawn", tree, "")
	serves("respawned")

	// stop (the dependent first), then start (the daemon, then the
	// dependent: starting the dependent starts what it needs first).
	tree = treeOf(again.Pid)
	if out, errs, code := s.run("stop", name); code != 0 {
		t.Fatalf("stop %s: exit %d %q %q", name, code, out, errs)
	}
	for _, n := range []string{name, "dependent"} {
		if got := s.service(n); got.State != "stopped" || got.Pid != 0 {
			t.Fatalf("after stop %s: %+v", name, got)
		}
	}
	waitNoneLeft(t, "after stop", tree, "")
	if check != nil && check() == nil {
		t.Fatalf("%s still serves after stop", name)
	}
	if out, errs, code := s.run("start", name); code != 0 || !strings.Contains(out, name+": running") {
		t.Fatalf("start %s: exit %d %q %q\n%s", name, code, out, errs, s.why(name))
	}
	started := s.service(name)
	if !running(started) {
		t.Fatalf("after start: %+v", started)
	}
	serves("started")
	if out, errs, code := s.run("start", "dependent"); code != 0 || !strings.Contains(out, "dependent: running") {
		t.Fatalf("start dependent: exit %d %q %q", code, out, errs)
	}

	// down leaves no process.
	tree = append(treeOf(started.Pid), treeOf(s.service("dependent").Pid)...)
	if out, errs, code := s.run("down"); code != 0 {
		t.Fatalf("down: exit %d %q %q", code, out, errs)
	}
	s.waitExit()
	waitNoneLeft(t, "after down", tree, s.dir)
}

// dependent is the service that restarts with the daemon.
func dependent(name, m string) string {
	return fmt.Sprintf(`
  dependent:
    command: sleep 9%s
    depends_on: {%s: {condition: ready, restart: true}}
`, m, name)
}

func TestDaemonPostgres(t *testing.T) {
	t.Parallel()
	postgres := daemonBinary(t, "postgresql", "/usr/lib/postgresql/*/bin/postgres")
	bin := filepath.Dir(postgres)
	daemonUser(t, "postgres")
	dir, data := daemonDir(t, "postgres")
	port := loopbackPort(t)
	s := startSupIn(t, dir, fmt.Sprintf(`
version: 1
services:
  initdb:
    kind: oneshot
    user: postgres
    # Once: a later start of postgres starts this again, and finds the cluster.
    command: [sh, -c, 'test -f "$0/PG_VERSION" || exec %[1]s -D "$0" -U postgres --auth=trust --no-sync --encoding=UTF8 --locale=C', %[2]q]
  postgres:
    user: postgres
    command: [%[3]q, -D, %[2]q, -p, "%[4]d", -k, %[2]q, -c, listen_addresses=127.0.0.1, -c, fsync=off, -c, dynamic_shared_memory_type=mmap]
    depends_on: {initdb: completed}
    ready: {exec: [%[5]q, -h, 127.0.0.1, -p, "%[4]d"], interval: 100ms, deadline: 120s}
    stop: {signal: INT, timeout: 60s}
`+dependent("postgres", marker(t)), filepath.Join(bin, "initdb"), data, postgres, port, filepath.Join(bin, "pg_isready")))
	psql := filepath.Join(bin, "psql")
	exerciseDaemon(t, s, "postgres", func() error {
		out, err := exec.Command(psql, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-tAc", "select 40+2").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "42" {
			return fmt.Errorf("psql: %v: %s", err, out)
		}
		return nil
	})
}

func TestDaemonRedis(t *testing.T) {
	t.Parallel()
	redis := daemonBinary(t, "redis-server", "/usr/bin/redis-server")
	daemonUser(t, "redis")
	dir, data := daemonDir(t, "redis")
	port := loopbackPort(t)
	s := startSupIn(t, dir, fmt.Sprintf(`
version: 1
services:
  redis:
    user: redis
    command: [%[1]q, --port, "%[2]d", --bind, 127.0.0.1, --supervised, systemd, --daemonize, "no", --dir, %[3]q, --save, "", --appendonly, "no", --logfile, ""]
    ready: {notify: true, deadline: 120s}
`+dependent("redis", marker(t)), redis, port, data))
	exerciseDaemon(t, s, "redis", func() error {
		return lineProtocol(port, "PING\r\n", "+PONG")
	})
	// Redis sets its process title over its environment; its READY=1 counted.
	out, _, _ := s.run("why", "redis")
	if strings.Contains(out, "sd_notify messages dropped") {
		t.Errorf("redis's own notify messages were dropped:\n%s", out)
	}
}

// nginxConf writes an nginx config serving 200 on port, with every path
// inside dir, and returns its path.
func nginxConf(t *testing.T, dir string, port int, daemon bool) string {
	t.Helper()
	onOff := "off"
	if daemon {
		onOff = "on"
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon %[1]s;
master_process on;
worker_processes 2;
user www-data;
pid %[2]s/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[3]s/body;
    proxy_temp_path %[3]s/proxy;
    fastcgi_temp_path %[3]s/fastcgi;
    uwsgi_temp_path %[3]s/uwsgi;
    scgi_temp_path %[3]s/scgi;
    server {
        listen 127.0.0.1:%[4]d;
        location / { return 200 "respawned nginx\n"; }
    }
}
`, onOff, dir, tmp, port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// httpGet checks that port answers GET / with 200 and want in the body.
func httpGet(port int, want string) error {
	return lineProtocol(port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", "HTTP/1.1 200 OK", want)
}

// lineProtocol sends req to the loopback port and checks that the answer
// holds every one of want.
func lineProtocol(port int, req string, want ...string) error {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		return err
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		done := true
		for _, w := range want {
			done = done && strings.Contains(string(got), w)
		}
		if done {
			return nil
		}
		if err != nil {
			return fmt.Errorf("answer %q: %w", got, err)
		}
	}
}

func TestDaemonNginxForeground(t *testing.T) {
	t.Parallel()
	nginx := daemonBinary(t, "nginx", "/usr/sbin/nginx")
	daemonUser(t, "www-data")
	dir, _ := daemonDir(t, "www-data")
	port := loopbackPort(t)
	conf := nginxConf(t, dir, port, false)
	s := startSupIn(t, dir, fmt.Sprintf(`
version: 1
services:
  nginx:
    command: [%[1]q, -p, %[2]q, -e, stderr, -c, %[3]q]
    ready: {http: "http://127.0.0.1:%[4]d/", interval: 100ms, deadline: 120s}
    stop: {signal: QUIT, timeout: 30s}
`+dependent("nginx", marker(t)), nginx, dir+"/", conf, port))
	exerciseDaemon(t, s, "nginx", func() error { return httpGet(port, "respawned nginx") })
}

func TestDaemonNginxForking(t *testing.T) {
	t.Parallel()
	nginx := daemonBinary(t, "nginx", "/usr/sbin/nginx")
	daemonUser(t, "www-data")
	dir, _ := daemonDir(t, "www-data")
	port := loopbackPort(t)
	conf := nginxConf(t, dir, port, true)
	s := startSupIn(t, dir, fmt.Sprintf(`
version: 1
services:
  nginx:
    kind: forking
    command: [%[1]q, -p, %[2]q, -e, stderr, -c, %[3]q]
    pidfile: %[4]q
    ready: {http: "http://127.0.0.1:%[5]d/", interval: 100ms, deadline: 120s}
    stop: {signal: QUIT, timeout: 30s}
`+dependent("nginx", marker(t)), nginx, dir+"/", conf, filepath.Join(dir, "nginx.pid"), port))
	exerciseDaemon(t, s, "nginx", func() error { return httpGet(port, "respawned nginx") })
	// The daemon, not its launcher, was the service's process.
	if _, err := os.Stat(filepath.Join(dir, "nginx.pid")); err == nil {
		t.Error("nginx's pidfile is left after down: nginx did not stop cleanly")
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Error(err)
	}
}

func TestDaemonMemcached(t *testing.T) {
	t.Parallel()
	memcached := daemonBinary(t, "memcached", "/usr/bin/memcached")
	daemonUser(t, "memcache")
	dir, _ := daemonDir(t, "memcache")
	port := loopbackPort(t)
	s := startSupIn(t, dir, fmt.Sprintf(`
version: 1
services:
  memcached:
    user: memcache
    command: [%[1]q, -l, 127.0.0.1, -p, "%[2]d", -U, "0", -m, "16", -c, "64"]
    ready: {tcp: "127.0.0.1:%[2]d", interval: 100ms, deadline: 120s}
`+dependent("memcached", marker(t)), memcached, port))
	exerciseDaemon(t, s, "memcached", func() error {
		return lineProtocol(port, "version\r\n", "VERSION ")
	})
}
