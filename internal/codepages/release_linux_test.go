package codepages

import (
	_ "embed"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident is how many bytes of this test binary's read-only mappings are
// mapped now.
func resident(t *testing.T) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		t.Fatal(err)
	}
	regions, err := readOwn(uint64(st.Dev), st.Ino)
	if err != nil {
		t.Fatal(err)
	}
	if len(regions) == 0 {
		t.Fatal("no read-only mapping of the executable found in /proc/self/smaps")
	}
	n := 0
	for _, r := range regions {
		n += r.rss
	}
	return n
}

// table is 256 KiB of the binary's read-only data that nothing but this
// test reads.
//
//go:embed testdata/table.txt
var table string

// present counts the pages of table mapped in this process, from
// /proc/self/pagemap (bit 63 of each page's entry).
func present(t *testing.T) (in, all int) {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const page = 4096
	start := uintptr(unsafe.Pointer(unsafe.StringData(table)))
	first, last := (start+page-1)/page, (start+uintptr(len(table)))/page // whole pages only
	buf := make([]byte, 8*(last-first))
	if _, err := f.ReadAt(buf, int64(first*8)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(buf); i += 8 {
		if buf[i+7]&0x80 != 0 {
			in++
		}
	}
	return in, len(buf) / 8
}

func sum(s string) (n int) {
	for i := 0; i < len(s); i++ {
		n += int(s[i])
	}
	return n
}

func TestReleaseUnmapsTheBinarysPages(t *testing.T) {
	want := sum(table)
	if in, all := present(t); in != all {
		t.Fatalf("after reading the table %d of its %d pages are mapped", in, all)
	}
	before := resident(t)
	n, err := release()
	if err != nil {
		t.Fatal(err)
	}
	in, all := present(t)
	t.Logf("read-only mappings held %d KiB, Release reports %d KiB; %d of the table's %d pages mapped after", before/1024, n/1024, in, all)
	if n < before/2 {
		t.Errorf("Release reports %d bytes, the mappings held %d", n, before)
	}
	// Faults of code near the table's ends map the 64 KiB around them
	// (fault-around): at most 16 pages at each end.
	if in > 32 {
		t.Errorf("after Release %d of the table's %d pages are still mapped", in, all)
	}
	// What was unmapped comes back from the file, unchanged.
	if got := sum(table); got != want {
		t.Errorf("the table reads %d after Release, %d before", got, want)
	}
	if in, all := present(t); in != all {
		t.Errorf("after reading the table again %d of its %d pages are mapped", in, all)
	}
}

func TestParseSmapsKeepsOnlyUnmodifiedReadOnlyMappingsOfTheFile(t *testing.T) {
	const dev, ino = 0xfe00, 42 // fe:00
	text := `00400000-00aa8000 r-xp 00000000 fe:00 42                           /usr/bin/respawn
Size:               6816 kB
Rss:                2864 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00aa8000-011c0000 r--p 006a8000 fe:00 42                           /usr/bin/respawn
Rss:                2928 kB
Anonymous:             0 kB
011c0000-01293000 rw-p 00dc0000 fe:00 42                           /usr/bin/respawn
Rss:                 216 kB
Anonymous:           216 kB
01293000-01300000 r--p 00e93000 fe:00 42                           /usr/bin/respawn
Rss:                   8 kB
Anonymous:             4 kB
02000000-02001000 r--p 00000000 fe:00 43                           /usr/lib/other
Rss:                   4 kB
Anonymous:             0 kB
02001000-02002000 r--p 00000000 fe:01 42                           /mnt/same-inode
Rss:                   4 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Rss:                1024 kB
Anonymous:          1024 kB
not a header at all
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
Rss:                   0 kB
`
	got, err := parseSmaps(strings.NewReader(text), dev, ino)
	if err != nil {
		t.Fatal(err)
	}
	want := []region{
		{start: 0x400000, end: 0xaa8000, rss: 2864 * 1024},
		{start: 0xaa8000, end: 0x11c0000, rss: 2928 * 1024},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
