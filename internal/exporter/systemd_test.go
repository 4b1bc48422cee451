package exporter

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// verifySystemd writes the units and runs systemd-analyze verify on them:
// any line it prints about one of them is a failure.
func verifySystemd(t *testing.T, r Result) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (install the Debian package \"systemd\"): %v", err)
	}
	dir := t.TempDir()
	var paths []string
	for _, f := range r.Files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("systemd-analyze: %s", line)
		}
	}
}

func TestSystemdWebapp(t *testing.T) {
	t.Parallel()
	r, err := Systemd(load(t, webapp), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range r.Files {
		names = append(names, f.Name)
	}
	want := "db.service migrate.service api.service worker.1.service worker.2.service webapp.target"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	hasLines(t, "api.service", file(t, r, "api.service"),
		"After=db.service", "BindsTo=db.service", "PartOf=db.service",
		"After=migrate.service", "Requires=migrate.service",
		"Type=exec", "Environment=\"GREETING=hello from the api\"",
		"Restart=always", "RestartSec=500ms", "TimeoutStopSec=5s", "KillSignal=SIGTERM",
		"StartLimitIntervalSec=300s", "StartLimitBurst=10")
	hasLines(t, "migrate.service", file(t, r, "migrate.service"),
		"Type=oneshot", "RemainAfterExit=yes", "Restart=on-failure")
	hasLines(t, "worker.2.service", file(t, r, "worker.2.service"), "Environment=RESPAWN_INSTANCE=2")
	hasLines(t, "webapp.target", file(t, r, "webapp.target"), "Wants=worker.2.service", "WantedBy=multi-user.target")
	noted(t, r, "api", "ready.http")
	noted(t, r, "api", "health.http")
	noted(t, r, "api", "depends_on.db.restart")
	noted(t, r, "migrate", "depends_on.db")
	verifySystemd(t, r)
}

func TestSystemdEveryFeature(t *testing.T) {
	t.Parallel()
	r, err := Systemd(load(t, full), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	hasLines(t, "db.service", file(t, r, "db.service"),
		"KillSignal=SIGINT", "TimeoutStopSec=20s", "MemoryMax=268435456", "LimitNOFILE=4096:4096",
		"StartLimitIntervalSec=60s", "StartLimitBurst=5", "RestartSec=1s")
	hasLines(t, "migrate.service", file(t, r, "migrate.service"),
		"ExecStart="+filepath.Join(dir, "migrate.sh")+" up", "WorkingDirectory="+dir)
	hasLines(t, "api.service", file(t, r, "api.service"),
		"User=daemon", "Group=daemon", "UMask=0027", "Environment=FROM_FILE=yes", "Environment=PORT=8080",
		// systemd expands % in every value, $ on Exec lines only.
		`Environment="PRICE=100%% of $5"`, `Environment="SHELLISH=$(date) ${HOME}"`)
	hasLines(t, "notifier.service", file(t, r, "notifier.service"),
		"Type=notify", "NotifyAccess=all", "TimeoutStartSec=20s", "WatchdogSec=30s")
	hasLines(t, "tailer.service", file(t, r, "tailer.service"), "Restart=on-failure", "SuccessExitStatus=3")
	hasLines(t, "legacy.service", file(t, r, "legacy.service"),
		"Type=forking", "PIDFile="+filepath.Join(dir, "run/legacy.pid"), "ExecStop=/usr/bin/kill -TERM 0")
	hasLines(t, "proxy.service", file(t, r, "proxy.service"), "After=nginx.service", "Requires=nginx.service")
	// Both day fields restricted: cron's either-day rule takes two events.
	hasLines(t, "nightly.timer", file(t, r, "nightly.timer"),
		"OnCalendar=*-*-01,15 03:30:00", "OnCalendar=Mon,Tue,Wed,Thu,Fri *-*-* 03:30:00")
	hasLines(t, "nightly.service", file(t, r, "nightly.service"), "Type=oneshot")
	if strings.Contains(file(t, r, "nightly.service"), "RemainAfterExit") {
		t.Error("a scheduled oneshot must not remain active: its timer could not start it again")
	}
	hasLines(t, "poll.timer", file(t, r, "poll.timer"), "OnActiveSec=300s", "OnUnitActiveSec=300s")
	target := file(t, r, "full.target")
	hasLines(t, "full.target", target, "Wants=nightly.timer", "Wants=poll.timer", "Wants=worker.3.service")
	for _, not := range []string{"tailer.service", "nightly.service", "nginx"} {
		if strings.Contains(target, not) {
			t.Errorf("the target wants %s, which respawn up would not start:\n%s", not, target)
		}
	}
	for _, f := range r.Files {
		if strings.HasPrefix(f.Name, "nginx.") {
			t.Errorf("an external service got %s", f.Name)
		}
	}
	noted(t, r, "nginx", "kind")
	noted(t, r, "tailer", "ready.log")
	noted(t, r, "db", "ready.tcp")
	noted(t, r, "db", "health.exec")
	verifySystemd(t, r)
}
