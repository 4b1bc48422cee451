package instance

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/respawn-sh/respawn/internal/statedir"
)

func TestReadyReportRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReady(&b, nil); err != nil || ParseReady(b.Bytes()) != nil {
		t.Errorf("ready: wrote %q (%v), parsed %v", b.String(), err, ParseReady(b.Bytes()))
	}
	b.Reset()
	_ = WriteReady(&b, &AlreadyRunningError{Pid: 42})
	var running *AlreadyRunningError
	if err := ParseReady(b.Bytes()); !errors.As(err, &running) || running.Pid != 42 {
		t.Errorf("running: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	_ = WriteReady(&b, &AlreadyRunningError{Pid: 42, Config: "/srv/a b.yaml"})
	if err := ParseReady(b.Bytes()); !errors.As(err, &running) || running.Pid != 42 || running.Config != "/srv/a b.yaml" {
		t.Errorf("running with config: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	unsafe := fmt.Errorf("wrapped: %w", &statedir.UnsafeError{Path: "/srv/.respawn", Reason: "is a symlink"})
	_ = WriteReady(&b, unsafe)
	if err := ParseReady(b.Bytes()); !errors.Is(err, statedir.ErrUnsafe) || err.Error() != unsafe.Error() {
		t.Errorf("unsafe: wrote %q, parsed %v", b.String(), err)
	}
	b.Reset()
	_ = WriteReady(&b, errors.New("bad token file\nsecond line"))
	if err := ParseReady(b.Bytes()); err == nil || err.Error() != "bad token file\nsecond line" {
		t.Errorf("failure: wrote %q, parsed %v", b.String(), err)
	}
	if err := ParseReady(nil); !errors.Is(err, ErrNoReport) {
		t.Errorf("nothing written: parsed %v, want ErrNoReport", err)
	}
	for _, junk := range []string{"okay", "running x", "??"} {
		if err := ParseReady([]byte(junk)); err == nil {
			t.Errorf("%q parsed as ready", junk)
		}
	}
}

func TestParseHolder(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Holder
		ok   bool
	}{
		{"4242\n/srv/app/respawn.yaml\nstart 98765\n", Holder{4242, "/srv/app/respawn.yaml", 98765}, true},
		{"4242\n/srv/app/respawn.yaml\n", Holder{4242, "/srv/app/respawn.yaml", 0}, true},
		{"4242\n/x.yaml\nstart x\n", Holder{4242, "/x.yaml", 0}, true},
		{"4242\n/x.yaml\nsomething else\n", Holder{4242, "/x.yaml", 0}, true},
		{"4242\n", Holder{Pid: 4242}, true},
		{"4242", Holder{Pid: 4242}, true},
		{"", Holder{}, false},
		{"0\n/x.yaml\n", Holder{}, false},
		{"-1\n", Holder{}, false},
		{"pid\n/x.yaml\n", Holder{}, false},
	} {
		h, ok := ParseHolder([]byte(c.in))
		if h != c.want || ok != c.ok {
			t.Errorf("ParseHolder(%q) = %+v, %v; want %+v, %v", c.in, h, ok, c.want, c.ok)
		}
	}
}
