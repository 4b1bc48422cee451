package logs

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pushLines pushes lines to r as one chunk, the way lineWriter hands them over.
func pushLines(r *ring, when time.Time, kind Stream, lines ...string) {
	var out []byte
	var starts [ringLines]int32
	for i, l := range lines {
		starts[i%ringLines] = int32(len(out))
		out = FormatLine(out, Line{Time: when, Stream: kind, Text: l})
	}
	r.push(out, 0, len(lines), &starts, when, kind)
}

func TestRingBounds(t *testing.T) {
	var r ring
	when := time.Date(2025, 1, 1, 0, 0, 0, 1500, time.UTC)
	var all []string
	for i := range 500 {
		// Lengths 0..599 cycle through every case: empty, short, and over 512.
		text := strings.Repeat(string(rune('a'+i%26)), (i*37)%600)
		all = append(all, text)
		pushLines(&r, when, Stdout, text)

		lines := r.last(1000)
		total := 0
		for _, l := range lines {
			total += len(l.Text)
			if len(l.Text) > ringLineMax {
				t.Fatalf("line of %d bytes kept", len(l.Text))
			}
		}
		if len(lines) > ringLines || total > ringBytes || len(r.buf) > ringBytes {
			t.Fatalf("after %d pushes: %d lines, %d bytes, buffer %d", i+1, len(lines), total, len(r.buf))
		}
		// The ring holds a suffix of what was pushed.
		for j, l := range lines {
			want := all[len(all)-len(lines)+j]
			if l.Text != want[:min(len(want), ringLineMax)] {
				t.Fatalf("after %d pushes, line %d = %.20q..., want %.20q...", i+1, j, l.Text, want)
			}
			if !l.Time.Equal(when.Truncate(time.Microsecond)) {
				t.Fatalf("time %v", l.Time)
			}
		}
	}
}

func TestRingTakesTailOfBigChunk(t *testing.T) {
	var r ring
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	pushLines(&r, time.Now(), Stderr, lines...)
	got := r.last(ringLines)
	if len(got) != ringLines || got[0].Text != lines[1000-ringLines] || got[ringLines-1].Text != "line 999" {
		t.Fatalf("got %d lines from %q to %q", len(got), got[0].Text, got[len(got)-1].Text)
	}
}

func TestRingStartsSmall(t *testing.T) {
	var r ring
	pushLines(&r, time.Now(), Stdout, "hello")
	if len(r.buf) > ringMinBuf {
		t.Fatalf("one short line took a %d-byte buffer", len(r.buf))
	}
}

func TestTruncateTextKeepsUTF8(t *testing.T) {
	for _, s := range []string{strings.Repeat("é", 400), strings.Repeat("€", 300), strings.Repeat("😀", 200), "x" + strings.Repeat("😀", 200)} {
		got := truncateText([]byte(s))
		if len(got) > ringLineMax || len(got) < ringLineMax-3 || !utf8.Valid(got) {
			t.Errorf("truncate %q...: %d bytes, valid %v", s[:8], len(got), utf8.Valid(got))
		}
	}
	bin := []byte(strings.Repeat("\x80", 600))
	if got := truncateText(bin); len(got) != ringLineMax {
		t.Errorf("binary cut to %d bytes, want %d", len(got), ringLineMax)
	}
}
