//go:build amd64 || arm64 || riscv64

package observe

import (
	"errors"
	"testing"
	"unsafe"
)

// encode lays k out as the kernel writes it.
func (k *kinfoProc) encode() []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(k)), kinfoProcSize)...)
}

func TestDecodeKinfos(t *testing.T) {
	const boot = 1_700_000_000_000_000 // µs since the epoch
	a := kinfoProc{Structsize: kinfoProcSize, Pid: 4242, Ppid: 1, Pgid: 4240, Sid: 4200, Rssize: 300, Stat: 3,
		Runtime: 1_500_000, Childtime: timeval{Sec: 2, Usec: 250_000},
		Start: timeval{Sec: boot/1e6 + 77, Usec: 5}}
	copy(a.Comm[:], "nginx\x00junk")
	b := kinfoProc{Structsize: kinfoProcSize, Pid: 7, Stat: 5, Start: timeval{Sec: boot / 1e6}}
	copy(b.Comm[:], "a name of exactly19")
	sts, err := decodeKinfos(append(a.encode(), b.encode()...), boot)
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{Pid: 4242, State: 'S', Ppid: 1, Pgrp: 4240, Session: 4200, Ticks: 375, RSS: 300 * PageSize, Start: 77_000_005, Comm: "nginx"}
	if len(sts) != 2 || sts[0] != want {
		t.Fatalf("decoded %+v, want %+v first", sts, want)
	}
	if sts[1].State != 'Z' || sts[1].Comm != "a name of exactly19" || sts[1].Start != 0 {
		t.Fatalf("second record %+v", sts[1])
	}

	short := kinfoProc{Structsize: 1000}
	if _, err := decodeKinfos(short.encode(), boot); !errors.Is(err, ErrLayout) {
		t.Errorf("a record of another size: %v, want ErrLayout", err)
	}
	if _, err := decodeKinfos(a.encode()[:100], boot); err == nil {
		t.Error("a truncated record decoded")
	}
	if sts, err := decodeKinfos(nil, boot); err != nil || len(sts) != 0 {
		t.Errorf("no records: %v, %v", sts, err)
	}
}

// TestKinfoOffsets pins the offsets of the fields read to those of
// FreeBSD's struct kinfo_proc on 64-bit systems.
func TestKinfoOffsets(t *testing.T) {
	var k kinfoProc
	for _, f := range []struct {
		name     string
		got, off uintptr
	}{
		{"ki_pid", unsafe.Offsetof(k.Pid), 72},
		{"ki_sid", unsafe.Offsetof(k.Sid), 88},
		{"ki_rssize", unsafe.Offsetof(k.Rssize), 264},
		{"ki_runtime", unsafe.Offsetof(k.Runtime), 328},
		{"ki_start", unsafe.Offsetof(k.Start), 336},
		{"ki_childtime", unsafe.Offsetof(k.Childtime), 352},
		{"ki_stat", unsafe.Offsetof(k.Stat), 388},
		{"ki_comm", unsafe.Offsetof(k.Comm), 447},
	} {
		if f.got != f.off {
			t.Errorf("%s at %d, want %d", f.name, f.got, f.off)
		}
	}
}
