package platform

import (
	"runtime"
	"testing"
)

func TestChoose(t *testing.T) {
	for _, s := range []string{"", "auto"} {
		f, err := Choose(s)
		if err != nil || f != Native() {
			t.Errorf("Choose(%q) = %+v, %v; want Native", s, f, err)
		}
	}
	f, err := Choose("posix")
	if err != nil || f != (Features{Name: "posix"}) {
		t.Errorf("Choose(posix) = %+v, %v; want every facility off", f, err)
	}
	f, err = Choose("linux")
	if runtime.GOOS == "linux" {
		if err != nil || !f.Cgroups || !f.Subreaper || !f.Pidfd || !f.Pdeathsig || !f.SeqPacket {
			t.Errorf("Choose(linux) = %+v, %v; want every facility on", f, err)
		}
	} else if err == nil {
		t.Errorf("Choose(linux) accepted on %s", runtime.GOOS)
	}
	if _, err := Choose("windows"); err == nil {
		t.Error("Choose(windows) accepted")
	}
}

func TestSetAndCurrent(t *testing.T) {
	defer current.Store(nil)
	if Current() != Native() {
		t.Fatalf("Current before Set = %+v, want Native", Current())
	}
	Set(Portable())
	if Current() != Portable() {
		t.Fatalf("Current after Set(Portable) = %+v", Current())
	}
}
