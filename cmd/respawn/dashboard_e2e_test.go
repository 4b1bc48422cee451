//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/respawn-sh/respawn/internal/api"
)

// screenshotEnv names a folder where the dashboard test leaves its
// screenshots (docs/ keeps one for the README).
const screenshotEnv = "RESPAWN_SCREENSHOTS"

// chromium finds Debian's chromium (which .ci/run installs).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// browser starts a headless chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
		// Root in a container has no user namespaces for the sandbox.
		chromedp.NoSandbox,
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

type step = chromedp.Action[chromedp.Void]

// within runs steps with a deadline.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...step) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
}

// value runs one action that returns a value, with a deadline.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// until polls the text of the element sel selects until ok says so.
func until(sel string, ok func(text string) bool) step {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			// An error is a row not there yet: the next poll sees.
			got, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
			if err == nil && ok(strings.TrimSpace(got)) {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// cellIs polls until the text of the element sel selects is want.
func cellIs(sel, want string) step {
	return until(sel, func(got string) bool { return got == want })
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(screenshotEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	png := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDashboard(t *testing.T) {
	ctx := browser(t)
	const token = "dashboard-token-0123456789abcdef"
	tokFile := writeTokenFile(t, token, 0o600)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := startSup(t, `version: 1
supervisor:
  http: {listen: "`+addr+`", token_file: `+tokFile+`}
services:
  api-gateway:
    command: ["sh", "-c", "while true; do echo GET /orders 200; sleep 1; done"]
  billing-worker:
    command: ["sh", "-c", "echo billing started; exec sleep 4721"]
  nightly-report:
    kind: oneshot
    command: ["sh", "-c", "echo report written"]
`)
	for _, name := range []string{"api-gateway", "billing-worker"} {
		s.waitFor(name, "running", func(svc api.Service) bool { return svc.State == "running" })
	}
	url := "http://" + addr + "/"
	names := []string{"api-gateway", "billing-worker", "nightly-report"}
	noNames := func(what string) {
		t.Helper()
		html := value(t, ctx, what, chromedp.OuterHTML(chromedp.CSS("html")))
		for _, n := range names {
			if strings.Contains(html, n) {
				t.Fatalf("%s: the page holds %q", what, n)
			}
		}
	}

	// Without the token: the login prompt, and no data.
	within(t, ctx, deadline, "open the page", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("login")))
	noNames("before the token")
	// A wrong token is refused, and still shows nothing.
	within(t, ctx, deadline, "a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token-0123456789"),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		cellIs("#login-msg", "That token was refused."))
	noNames("after a wrong token")

	// The token: every service within 2 s.
	within(t, ctx, deadline, "the token",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)))
	within(t, ctx, 2*time.Second, "every service listed",
		cellIs(`tr[data-name="api-gateway"] td.state`, "running"),
		cellIs(`tr[data-name="billing-worker"] td.state`, "running"),
		cellIs(`tr[data-name="nightly-report"] td.state`, "exited"))
	screenshot(t, ctx, "dashboard.png")

	// A state change shows within 2 s, without a reload: a mark set on the
	// page now is still there after.
	value(t, ctx, "mark the page", chromedp.Evaluate[int](`window.stillHere = 1`))
	worker := s.service("billing-worker")
	if err := syscall.Kill(worker.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, _, code := s.run("stop", "api-gateway"); code != 0 {
		t.Fatal("stop api-gateway failed")
	}
	within(t, ctx, 2*time.Second, "the stop shows",
		cellIs(`tr[data-name="api-gateway"] td.state`, "stopped"))
	s.waitFor("billing-worker", "respawned", func(svc api.Service) bool { return svc.State == "running" && svc.Pid != worker.Pid })
	within(t, ctx, 2*time.Second, "the respawn shows",
		cellIs(`tr[data-name="billing-worker"] td:nth-child(5)`, "1"))
	if !value(t, ctx, "the mark", chromedp.Evaluate[bool](`window.stillHere === 1`)) {
		t.Fatal("the page was reloaded")
	}

	// The restart button restarts the service.
	before := s.service("billing-worker")
	within(t, ctx, deadline, "press restart",
		chromedp.Click(chromedp.CSS(`tr[data-name="billing-worker"] button[data-action="restart"]`)))
	s.waitFor("billing-worker", "restarted", func(svc api.Service) bool { return svc.State == "running" && svc.Pid != before.Pid })
	// And start brings the stopped one back.
	within(t, ctx, deadline, "press start",
		chromedp.Click(chromedp.CSS(`tr[data-name="api-gateway"] button[data-action="start"]`)),
		cellIs(`tr[data-name="api-gateway"] td.state`, "running"))

	// A service's page: its timeline and its log, live.
	within(t, ctx, deadline, "the service page",
		chromedp.Click(chromedp.CSS(`tr[data-name="billing-worker"] a`)),
		chromedp.WaitVisible(chromedp.ID("detail")),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li.ev-exit`)),
		until("#log", func(log string) bool { return strings.Count(log, "billing started") >= 3 }))
	timeline := value(t, ctx, "read the timeline", chromedp.Text(chromedp.ID("timeline")))
	if !strings.Contains(timeline, "killed by SIGKILL") {
		t.Errorf("timeline %q, want the SIGKILL exit", timeline)
	}
	screenshot(t, ctx, "dashboard-service.png")

	// Logging out forgets the token and the data.
	within(t, ctx, deadline, "log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login")))
	noNames("after logging out")
}
