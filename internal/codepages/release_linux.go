package codepages

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Release unmaps, from this process, the pages of its own executable that
// are mapped read-only and that it has not copied (a relocation or a
// debugger's breakpoint makes a private copy, which dropping would undo).
// The pages stay in the page cache: code that runs again faults them back
// in, 4 KiB at a time plus the kernel's fault-around.
//
// A process that has just started touched most of the binary it will ever
// run (option parsing, the config, every path of start-up) and keeps all of
// it mapped: about 11 MB of a respawn binary, counted again in each of the
// keeper and the core, of which a few MB are what they run at rest.
//
// Failing only leaves the pages mapped: log says why, at debug level.
func Release(log *slog.Logger) {
	n, err := release()
	if err != nil {
		log.Debug("binary pages stay mapped", "err", err)
		return
	}
	log.Debug("binary pages unmapped", "bytes", n)
}

// release is Release, returning how many bytes were mapped before.
func release() (int, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("stat the executable: %w", err)
	}
	regions, err := readOwn(uint64(st.Dev), st.Ino)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, r := range regions {
		// A syscall on the raw range: the pages are the program's own code,
		// never a Go slice.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
		}
		total += r.rss
	}
	return total, nil
}

// region is one mapping of the executable that Release may drop.
type region struct {
	start, end uintptr
	rss        int
}

// readOwn lists the read-only, unmodified mappings of the file with the given
// device and inode in /proc/self/smaps.
func readOwn(dev, ino uint64) ([]region, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, fmt.Errorf("open smaps: %w", err)
	}
	defer f.Close()
	regions, err := parseSmaps(f, dev, ino)
	if err != nil {
		return nil, fmt.Errorf("read smaps: %w", err)
	}
	return regions, nil
}

// maxRegions bounds what parseSmaps keeps: an executable maps a handful of
// segments, the rest of a process's mappings are never kept.
const maxRegions = 16

// parseSmaps reads an smaps listing and returns the mappings of (dev, ino)
// that are not writable and hold no private copy ("Anonymous: 0 kB").
func parseSmaps(f io.Reader, dev, ino uint64) ([]region, error) {
	var out []region
	var cur region
	candidate, clean := false, true
	flush := func() {
		if candidate && clean && len(out) < maxRegions {
			out = append(out, cur)
		}
		candidate, clean = false, true
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if h, ok := parseHeader(line); ok {
			flush()
			cur = region{start: h.start, end: h.end}
			candidate = !h.writable && h.dev == dev && h.ino == ino && h.ino != 0
			continue
		}
		if !candidate {
			continue
		}
		if kb, ok := field(line, "Anonymous:"); ok && kb != 0 {
			clean = false
		}
		if kb, ok := field(line, "Rss:"); ok {
			cur.rss = kb * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

type header struct {
	start, end uintptr
	writable   bool
	dev, ino   uint64
}

// parseHeader reads a mapping's first line:
// "start-end perms offset major:minor inode [path]".
func parseHeader(line []byte) (header, bool) {
	fs := bytes.Fields(line)
	if len(fs) < 5 || len(fs[1]) != 4 {
		return header{}, false
	}
	lo, hi, ok := bytes.Cut(fs[0], []byte("-"))
	if !ok {
		return header{}, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	maj, min, ok := bytes.Cut(fs[3], []byte(":"))
	if err1 != nil || err2 != nil || !ok || end <= start {
		return header{}, false
	}
	major, err1 := strconv.ParseUint(string(maj), 16, 32)
	minor, err2 := strconv.ParseUint(string(min), 16, 32)
	ino, err3 := strconv.ParseUint(string(fs[4]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return header{}, false
	}
	return header{
		start:    uintptr(start),
		end:      uintptr(end),
		writable: fs[1][1] == 'w',
		dev:      unix.Mkdev(uint32(major), uint32(minor)),
		ino:      ino,
	}, true
}

// field reads "Name:   N kB".
func field(line []byte, name string) (int, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(name))
	if !ok {
		return 0, false
	}
	fs := bytes.Fields(rest)
	if len(fs) != 2 || string(fs[1]) != "kB" {
		return 0, false
	}
	n, err := strconv.Atoi(string(fs[0]))
	return n, err == nil
}
