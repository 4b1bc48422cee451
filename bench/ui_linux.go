package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// uiToken is the file holding the HTTP listener's token in a run's folder.
const uiToken = "token"

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// uiScenario is (e): the idle measurement of (c), for respawn alone, with
// the UIs a person leaves open attached for the whole window: one
// `respawn top` in tmux and one dashboard in headless chromium.
func (e *env) uiScenario(ctx context.Context) (*table, error) {
	t := e.newTable(fmt.Sprintf("(e) idle with N sleeping services and the UIs attached (one respawn top, one dashboard): respawn's own processes over %v", e.opts.idle))
	if e.respawn == "" {
		t.note("respawn unavailable: %v", e.respawnErr)
		return t, nil
	}
	for _, tool := range []string{"tmux", "chromium"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.note("not measured: no %s on PATH (apt-get install %s)", tool, tool)
			return t, nil
		}
	}
	for _, n := range e.opts.sizes {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		p := respawnPeer{bin: e.respawn, http: addr}
		res, err := e.fleetRun(ctx, t, p, n, e.opts.idle, func(ctx context.Context, dir string) (func(), error) {
			return attachUIs(ctx, e.respawn, dir, addr, fmt.Sprintf("s%05d", 0))
		})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Only respawn has these UIs; every other column reads n/a.
		cells := func(v float64) []figure {
			out := make([]figure, len(e.peers()))
			for i, sl := range e.peers() {
				out[i] = missing("no such UIs")
				if sl.name == "respawn" {
					out[i] = value(v)
				}
			}
			return out
		}
		if err != nil {
			t.note("respawn, N=%d: %v", n, err)
			continue
		}
		var cpuTarget *target
		if n == 1000 {
			cpuTarget = atMost(0.05, "0.05 CPU-s/min")
		}
		t.add(row{label: fmt.Sprintf("N=%d CPU (utime+stime)", n), unit: unitCPU, cells: cells(res.idle.cpuPerMin), target: cpuTarget})
		t.add(row{label: fmt.Sprintf("N=%d CPU (schedstat, ns)", n), unit: unitCPU, cells: cells(res.idle.runPerMin)})
		t.add(row{label: fmt.Sprintf("N=%d context switches", n), unit: unitRate, cells: cells(res.idle.switchesPS)})
	}
	return t, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// uiWait bounds the wait for each UI to show the first service.
const uiWait = 60 * time.Second

// attachUIs opens `respawn top` in a tmux session and the dashboard in
// headless chromium, and returns once both show the service first; the
// function it returns closes them.
func attachUIs(ctx context.Context, bin, dir, addr, first string) (func(), error) {
	cfg := filepath.Join(dir, "respawn.yaml")
	session := "respawn-bench-" + strconv.Itoa(os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "tmux", args...).CombinedOutput()
		return string(out), err
	}
	if out, err := tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", bin+" top -c "+cfg); err != nil {
		return nil, fmt.Errorf("tmux: %v: %s", err, out)
	}
	closeTop := func() { _, _ = tmux("kill-session", "-t", session) }
	deadline := time.Now().Add(uiWait)
	for {
		pane, _ := tmux("capture-pane", "-p", "-t", session)
		if strings.Contains(pane, first) {
			break
		}
		if time.Now().After(deadline) {
			closeTop()
			return nil, fmt.Errorf("top did not show %s within %v:\n%s", first, uiWait, pane)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			closeTop()
			return nil, err
		}
	}

	tok, err := os.ReadFile(filepath.Join(dir, uiToken))
	if err != nil {
		closeTop()
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("chromium"),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")), chromedp.WindowSize(1280, 800), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	closeAll := func() {
		cancelBrowser()
		cancelAlloc()
		closeTop()
	}
	wctx, cancel := context.WithTimeout(bctx, uiWait)
	defer cancel()
	err = chromedp.Do(wctx,
		chromedp.Navigate("http://"+addr+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("token"), strings.TrimSpace(string(tok))),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="`+first+`"]`)))
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return closeAll, nil
}
