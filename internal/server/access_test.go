package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/respawn-sh/respawn/internal/api"
)

// peerHelperEnv makes the test binary a socket client: it sends one
// request to the socket named by the variable and prints the answer.
const peerHelperEnv = "RESPAWN_TEST_PEER_SOCKET"

// TestPeerHelper is the client process run under another uid; it does
// nothing in a normal test run.
func TestPeerHelper(t *testing.T) {
	sock := os.Getenv(peerHelperEnv)
	if sock == "" {
		t.Skip("helper process only")
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(3)
	}
	fmt.Fprint(c, "POST "+api.PathStart+" HTTP/1.1\r\nHost: respawn\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"names\":[\"web\"]}")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(4)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, body)
	os.Exit(0)
}

// recorder collects audit events.
type recorder struct {
	mu     sync.Mutex
	events []api.Event
}

func (r *recorder) record(e api.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) ofType(typ string) []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []api.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wired returns a server set up to dispatch by listener, as New does once
// its http.Server has Handler: s.root() and ConnContext: connContext.
func wired(t *testing.T, b Backend, audit func(api.Event)) *Server {
	t.Helper()
	done := make(chan struct{})
	close(done)
	s := New(Options{Backend: b, Events: fuzzEvents{}, Audit: audit, Shutdown: func() {}, Done: done})
	s.http.Handler = s.root()
	s.http.ConnContext = connContext
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func TestPolicy(t *testing.T) {
	self := 1000
	tests := []struct {
		name  string
		gid   int
		peer  peer
		allow bool
	}{
		{"root", -1, peer{uid: 0, gid: 0}, true},
		{"own user", -1, peer{uid: self, gid: 5}, true},
		{"another user", -1, peer{uid: 1001, gid: 1001}, false},
		{"another user whose primary group is allowed", 4242, peer{uid: 1001, gid: 4242}, true},
		{"another user in another group", 4242, peer{uid: 1001, gid: 1001}, false},
		{"supplementary group reported by the kernel", 4242, peer{uid: 1001, gid: 1001, groups: []int{7, 4242}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy{self: self, gid: tt.gid, group: "g"}.check(tt.peer)
			if (err == nil) != tt.allow {
				t.Fatalf("check = %v, want allowed %v", err, tt.allow)
			}
			if err != nil && !strings.Contains(err.Error(), "uid 1000") {
				t.Errorf("message %q does not say who may", err)
			}
		})
	}
}

func TestMembershipFromGroupDatabase(t *testing.T) {
	name, group := groupMember(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("member %s of %s has no passwd entry", name, group.Name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(group.Gid)
	pol := policy{self: -2, gid: gid, group: group.Name}
	if err := pol.check(peer{uid: uid, gid: -3}); err != nil {
		t.Fatalf("%s is listed in group %s but was refused: %v", name, group.Name, err)
	}
	if err := pol.check(peer{uid: 65534, gid: -3}); err == nil && !memberOf(65534, gid) {
		t.Fatal("a non-member was allowed")
	}
}

// groupMember finds a user listed as a member in /etc/group.
func groupMember(t *testing.T) (string, *user.Group) {
	t.Helper()
	data, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Skip("no /etc/group")
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) == 4 && f[3] != "" {
			g, err := user.LookupGroup(f[0])
			if err == nil {
				return strings.Split(f[3], ",")[0], g
			}
		}
	}
	t.Skip("no group with listed members")
	return "", nil
}

func TestListenSocketUnknownGroup(t *testing.T) {
	s := wired(t, &fuzzBackend{}, nil)
	_, err := s.ListenSocket(filepath.Join(t.TempDir(), "s.sock"), Access{AllowGroup: "no-such-group-respawn"})
	if !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("err = %v, want ErrUnknownGroup", err)
	}
	if !strings.Contains(err.Error(), `"no-such-group-respawn"`) {
		t.Errorf("message %q does not name the group", err)
	}
}

func TestOwnUserPassesAndIsAudited(t *testing.T) {
	rec := &recorder{}
	s := wired(t, &fuzzBackend{}, rec.record)
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := s.ListenSocket(sock, Access{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %04o, want 0600", perm)
	}
	resp, err := unixClient(sock).Post("http://respawn"+api.PathStart, "application/json", strings.NewReader(`{"names":["web"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cmds := rec.ofType(api.EventCommand)
	if len(cmds) != 1 || cmds[0].UID == nil || *cmds[0].UID != os.Geteuid() || cmds[0].CallerPid != os.Getpid() {
		t.Fatalf("audit %+v, want one command with uid %d pid %d", cmds, os.Geteuid(), os.Getpid())
	}
}

// runPeer runs the helper client against sock as uid:gid and returns its
// pid and what it printed.
func runPeer(t *testing.T, sock string, uid, gid int) (int, string) {
	t.Helper()
	// The test binary lives in a directory only root can enter: copy it
	// where the other uid can run it.
	exe := filepath.Join(filepath.Dir(sock), "peer.test")
	if _, err := os.Stat(exe); err != nil {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(exe, "-test.run=^TestPeerHelper$")
	cmd.Env = append(os.Environ(), peerHelperEnv+"="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("peer as %d:%d: %v: %s", uid, gid, err, errOut.String())
	}
	return cmd.Process.Pid, out.String()
}

// openDir makes a temporary dir and socket reachable by anyone, so that
// only the peer check stands in the way.
func openDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client under another uid")
	}
	if runtime.GOOS != "linux" {
		t.Skip("Linux test")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOtherUserIsRefusedWhateverTheSocketMode(t *testing.T) {
	dir := openDir(t)
	rec := &recorder{}
	b := &fuzzBackend{}
	s := wired(t, b, rec.record)
	sock := filepath.Join(dir, "s.sock")
	l, err := s.ListenSocket(sock, Access{AllowGroup: "4242"})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}

	pid, out := runPeer(t, sock, 65534, 65534)
	code, body, _ := strings.Cut(out, " ")
	if code != "403" {
		t.Fatalf("answer %q, want 403", out)
	}
	var e api.Error
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != api.CodeForbidden ||
		!strings.HasPrefix(e.Error.Message, "uid 65534 may not use this socket: ") || !strings.Contains(e.Error.Message, "group 4242") {
		t.Fatalf("body %q (%v), want a forbidden error naming uid 65534 and the group", body, err)
	}
	if b.count() != 0 {
		t.Fatal("a refused peer reached the backend")
	}
	refused := rec.ofType(api.EventRefused)
	if len(refused) != 1 || refused[0].UID == nil || *refused[0].UID != 65534 || refused[0].CallerPid != pid || !strings.HasPrefix(refused[0].Message, e.Error.Message) {
		t.Fatalf("audit %+v, want one refused event for uid 65534 pid %d", refused, pid)
	}
	if cmds := rec.ofType(api.EventCommand); len(cmds) != 0 {
		t.Fatalf("a refused peer's command was audited: %+v", cmds)
	}

	// The allowed group, as the peer's primary group, opens the socket.
	_, out = runPeer(t, sock, 65534, 4242)
	if !strings.HasPrefix(out, "200 ") {
		t.Fatalf("peer in the allowed group got %q", out)
	}
	cmds := rec.ofType(api.EventCommand)
	if len(cmds) != 1 || cmds[0].UID == nil || *cmds[0].UID != 65534 {
		t.Fatalf("audit %+v, want the command of uid 65534", cmds)
	}
}

func TestMemberOfAllowedGroupPasses(t *testing.T) {
	dir := openDir(t)
	name, group := groupMember(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("member %s has no passwd entry", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	s := wired(t, &fuzzBackend{}, nil)
	sock := filepath.Join(dir, "s.sock")
	l, err := s.ListenSocket(sock, Access{AllowGroup: group.Name})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	os.Chmod(sock, 0o666)
	// A primary gid other than the group: only the membership can grant it.
	if _, out := runPeer(t, sock, uid, 65534); !strings.HasPrefix(out, "200 ") {
		t.Fatalf("%s, a member of %s, got %q", name, group.Name, out)
	}
}

func TestRefusalFloodLeavesNoGoroutines(t *testing.T) {
	rec := &recorder{}
	s := wired(t, &fuzzBackend{}, rec.record)
	l, err := s.ListenSocket(filepath.Join(t.TempDir(), "s.sock"), Access{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pl := l.(*peerListener)
	before := runtime.NumGoroutine()
	// Clients that never read their answer: synchronous pipes block every
	// write, so only the deadline frees the goroutine.
	var clients []net.Conn
	for range 3 * maxRefusing {
		c, srv := net.Pipe()
		clients = append(clients, c)
		pl.refuse(srv, peer{uid: 65534, pid: 1}, errors.New("test"))
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if n := runtime.NumGoroutine(); n > before+maxRefusing {
		t.Fatalf("%d goroutines answering refusals, at most %d allowed", n-before, maxRefusing)
	}
	// One event at once, the rest counted: a flood from one uid cannot
	// rotate the journal's history out.
	if got := rec.ofType(api.EventRefused); len(got) != 1 || got[0].UID == nil || *got[0].UID != 65534 {
		t.Fatalf("refusals audited: %+v, want the first alone", got)
	}
	s.FlushRefusals()
	want := fmt.Sprintf("refused %d more control-socket connections from uid 65534 in ", 3*maxRefusing-1)
	if got := rec.ofType(api.EventRefused); len(got) != 2 || !strings.HasPrefix(got[1].Message, want) {
		t.Fatalf("refusals audited after the flush: %+v, want a second one starting %q", got, want)
	}
	deadline := time.Now().Add(refuseTimeout + 10*time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, %d before the refusals", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testToken is strong enough for ListenHTTP.
const testToken = "tok-en-0123456789abcdefghij"

func writeToken(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.token")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestHTTPListenerNeedsTheToken(t *testing.T) {
	rec := &recorder{}
	b := &fuzzBackend{}
	s := wired(t, b, rec.record)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "respawn_service_up{service=\"web\"} 1\n")
	})
	l, err := s.ListenHTTP("127.0.0.1:0", testToken, metrics)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	base := "http://" + l.Addr().String()
	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, auth, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}

	for _, auth := range []string{"", "Bearer wrong", "Basic dG9rLWVu", "Bearer " + testToken + "2", "Bearer"} {
		resp, body := do("POST", api.PathStart, auth, `{"names":["web"]}`)
		var e api.Error
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != api.CodeUnauthorized {
			t.Fatalf("Authorization %q: %d %s, want 401 unauthorized", auth, resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	if b.count() != 0 {
		t.Fatal("an unauthorized request reached the backend")
	}
	// The first refusal is recorded at once; the others are counted.
	if refused := rec.ofType(api.EventRefused); len(refused) != 1 || refused[0].UID != nil || !strings.Contains(refused[0].Message, "127.0.0.1") {
		t.Fatalf("audit %+v, want 1 refused event naming the remote address", refused)
	}

	if resp, body := do("GET", api.PathStatus, "Bearer "+testToken, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"web"`) {
		t.Fatalf("status with the token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do("POST", api.PathStart, "bearer "+testToken, `{"names":["web"]}`); resp.StatusCode != http.StatusOK || b.count() != 1 {
		t.Fatalf("start with the token: %d, %d changes", resp.StatusCode, b.count())
	}
	if cmds := rec.ofType(api.EventCommand); len(cmds) != 1 || cmds[0].UID != nil {
		t.Fatalf("audit %+v, want one command without a uid", cmds)
	}
	if resp, body := do("GET", PathMetrics, "Bearer "+testToken, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, "respawn_service_up") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do("GET", PathMetrics, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("metrics without the token: %d", resp.StatusCode)
	}
	if resp, body := do("POST", PathMetrics, "Bearer "+testToken, ""); resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(body, api.CodeMethod) {
		t.Fatalf("POST metrics: %d %s", resp.StatusCode, body)
	}
	if resp, body := do("GET", "/v1/../v1/status", "Bearer "+testToken, ""); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, api.CodeNotFound) {
		t.Fatalf("unclean path: %d %s", resp.StatusCode, body)
	}
}

func TestListenHTTPRefusesAnUnwiredServer(t *testing.T) {
	s := wired(t, &fuzzBackend{}, nil)
	s.http.Handler = s.handler() // as if the root handler were missing
	if l, err := s.ListenHTTP("127.0.0.1:0", testToken, nil); err == nil {
		l.Close()
		t.Fatal("ListenHTTP accepted a server that would skip the token check")
	}
}

func TestListenHTTPDefaultsToLoopback(t *testing.T) {
	s := wired(t, &fuzzBackend{}, nil)
	l, err := s.ListenHTTP(":0", testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if host, _, _ := net.SplitHostPort(l.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("listening on %s, want 127.0.0.1", l.Addr())
	}
}
