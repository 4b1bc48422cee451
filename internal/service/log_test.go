package service

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLoggerPutsTheServiceFirst(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("component", "supervisor")
	l := logger{base: base, name: "web"}
	l.Info("started", "pid", 42)
	l.Debug("hidden", "pid", 43)
	got := buf.String()
	if !strings.Contains(got, `msg=started component=supervisor service=web pid=42`) {
		t.Errorf("line = %q, want the service's name before the line's own attributes", got)
	}
	if strings.Contains(got, "hidden") {
		t.Errorf("a debug line was written at level info: %q", got)
	}
	if l.enabled(slog.LevelDebug) || !l.enabled(slog.LevelWarn) {
		t.Error("enabled does not follow the handler's level")
	}
}
