package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/respawn-sh/respawn/internal/statedir"
)

func TestReadyReportRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReady(&b, nil); err != nil || parseReady(b.Bytes()) != nil {
		t.Errorf("ready: wrote %q (%v), parsed %v", b.String(), err, parseReady(b.Bytes()))
	}
	b.Reset()
	_ = WriteReady(&b, &AlreadyRunningError{Pid: 42})
	var running *AlreadyRunningError
	if err := parseReady(b.Bytes()); !errors.As(err, &running) || running.Pid != 42 {
		t.Errorf("running: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	_ = WriteReady(&b, &AlreadyRunningError{Pid: 42, Config: "/srv/a b.yaml"})
	if err := parseReady(b.Bytes()); !errors.As(err, &running) || running.Pid != 42 || running.Config != "/srv/a b.yaml" {
		t.Errorf("running with config: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	unsafe := fmt.Errorf("wrapped: %w", &statedir.UnsafeError{Path: "/srv/.respawn", Reason: "is a symlink"})
	_ = WriteReady(&b, unsafe)
	if err := parseReady(b.Bytes()); !errors.Is(err, statedir.ErrUnsafe) || err.Error() != unsafe.Error() {
		t.Errorf("unsafe: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	_ = WriteReady(&b, errors.New("bad token file\nsecond line"))
	if err := parseReady(b.Bytes()); err == nil || err.Error() != "bad token file\nsecond line" {
		t.Errorf("failure: wrote %q, parsed %v", b.String(), err)
	}
	if err := parseReady(nil); !errors.Is(err, errNoReport) {
		t.Errorf("nothing written: parsed %v, want errNoReport", err)
	}
	for _, junk := range []string{"okay", "running x", "??"} {
		if err := parseReady([]byte(junk)); err == nil {
			t.Errorf("%q parsed as ready", junk)
		}
	}
}
