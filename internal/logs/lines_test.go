package logs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLineWriterReads drives the line assembly with exact read boundaries, which a real
// pipe does not let a test choose.
func TestLineWriterReads(t *testing.T) {
	big := strings.Repeat("b", maxLine)
	tests := []struct {
		name  string
		reads []string
		want  []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"line across reads", []string{"hel", "lo wo", "rld\nnext\n"}, []string{"hello world", "next"}},
		{"newline alone", []string{"abc", "\n", "\n"}, []string{"abc", ""}},
		{"partial kept to EOF", []string{"x\ny"}, []string{"x", "y"}},
		{"exactly maxLine", []string{big[:100], big[100:], "\n"}, []string{big}},
		{"maxLine plus one", []string{big, "c\n"}, []string{big, "c"}},
		{"piece from carry", []string{"s" + big[1:maxLine-10], strings.Repeat("t", 20) + "\n"}, []string{"s" + big[1:maxLine-10] + strings.Repeat("t", 10), strings.Repeat("t", 10)}},
		{"empty lines", []string{"\n\n\n"}, []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(t)
			s := openSink(t, c, Options{})
			st := &attachment{sink: s, kind: Stderr}
			w := newLineWriter()
			now := time.Now()
			for _, r := range tt.reads {
				w.feed(st, []byte(r), now)
				if len(st.carry) > maxLine || cap(st.carry) > maxLine {
					t.Fatalf("carry %d bytes (cap %d), over %d", len(st.carry), cap(st.carry), maxLine)
				}
			}
			w.finish(st, now)
			if st.carry != nil {
				t.Errorf("carry still allocated after finish")
			}
			got := texts(readLog(t, s.Path()), Stderr)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %d lines %.40q, want %d lines %.40q", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestLineWriterFreesCarryWhenIdle(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	st := &attachment{sink: s, kind: Stdout}
	w := newLineWriter()
	w.feed(st, []byte("partial"), time.Now())
	if st.carry == nil || cap(st.carry) >= maxLine {
		t.Fatalf("carry for a 7-byte partial line: cap %d", cap(st.carry))
	}
	w.feed(st, []byte(" done\n"), time.Now())
	if st.carry != nil {
		t.Fatalf("carry kept (cap %d) with no partial line pending", cap(st.carry))
	}
}

func TestLineWriterSplitsHugeOutput(t *testing.T) {
	c := newCapture(t)
	s := openSink(t, c, Options{})
	st := &attachment{sink: s, kind: Stdout}
	w := newLineWriter()
	// A read of bare newlines expands 33-fold: it must go out in several bounded writes.
	w.feed(st, []byte(strings.Repeat("\n", readSize)), time.Now())
	w.flush()
	if cap(w.out) != outSize {
		t.Fatalf("output buffer grew to %d, want %d", cap(w.out), outSize)
	}
	if got := len(readLog(t, s.Path())); got != readSize {
		t.Fatalf("%d lines, want %d", got, readSize)
	}
}
