package logs

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFormatLine(t *testing.T) {
	at := time.Date(2024, 3, 9, 7, 5, 3, 123456789, time.FixedZone("X", 3600))
	tests := []struct {
		l    Line
		want string
	}{
		{Line{Time: at, Stream: Stdout, Text: "hello"}, "2024-03-09T06:05:03.123456Z out hello\n"},
		{Line{Time: at, Stream: Stderr, Text: ""}, "2024-03-09T06:05:03.123456Z err \n"},
		{Line{Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Stream: 0, Text: "a\x00b"}, "0001-01-01T00:00:00.000000Z out a\x00b\n"},
	}
	for _, tt := range tests {
		got := FormatLine([]byte("keep:"), tt.l)
		if string(got) != "keep:"+tt.want {
			t.Errorf("FormatLine(%+v) = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	good := []struct {
		in   string
		want Line
	}{
		{"2024-03-09T06:05:03.123456Z out hello\n", Line{time.Date(2024, 3, 9, 6, 5, 3, 123456000, time.UTC), Stdout, "hello"}},
		{"2024-03-09T06:05:03.000000Z err  two  spaces ", Line{time.Date(2024, 3, 9, 6, 5, 3, 0, time.UTC), Stderr, " two  spaces "}},
		{"2024-03-09T06:05:03.000000Z err ", Line{time.Date(2024, 3, 9, 6, 5, 3, 0, time.UTC), Stderr, ""}},
	}
	for _, tt := range good {
		got, err := ParseLine([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseLine(%q): %v", tt.in, err)
			continue
		}
		if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream || got.Text != tt.want.Text {
			t.Errorf("ParseLine(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	bad := []string{
		"",
		"\n",
		"2024-03-09T06:05:03.123456Z out",
		"2024-03-09T06:05:03.123456Z  out x",
		"2024-03-09T06:05:03.123456Z bad x",
		"2024-03-09 06:05:03.123456Z out x",
		"2024-13-09T06:05:03.123456Z out x",
		"2024-03-09T06:05:03.1234567 out x",
		"2024-03-09T06:05:03.123456Z out a\nb",
		"2024-03-09T06:05:03.123456Z out x\n\n",
		"2024-03-09T06:05:03,123456Z out x",
		"2023-02-29T06:05:03.123456Z out x",
		"2024-03-09T24:05:03.123456Z out x",
		"2024-03-09T06:05:03.12345 Z out x",
	}
	for _, in := range bad {
		if l, err := ParseLine([]byte(in)); !errors.Is(err, ErrMalformedLine) {
			t.Errorf("ParseLine(%q) = %+v, %v; want ErrMalformedLine", in, l, err)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	at := time.Date(2024, 3, 9, 6, 5, 3, 123456000, time.UTC)
	f.Add(FormatLine(nil, Line{Time: at, Stream: Stdout, Text: "hello"}), at.UnixMicro(), false, "hello")
	f.Add([]byte("2024-03-09T06:05:03.000000Z err \n"), int64(0), true, "")
	f.Add([]byte("garbage"), int64(-62135596800000000), true, "\x00\xff\n")
	f.Fuzz(func(t *testing.T, raw []byte, micros int64, stderr bool, text string) {
		// Whatever ParseLine accepts, FormatLine writes back byte for byte.
		if l, err := ParseLine(raw); err == nil {
			want := raw
			if !bytes.HasSuffix(want, []byte{'\n'}) {
				want = append(want[:len(want):len(want)], '\n')
			}
			if got := FormatLine(nil, l); !bytes.Equal(got, want) {
				t.Fatalf("FormatLine(ParseLine(%q)) = %q", raw, got)
			}
		} else if !errors.Is(err, ErrMalformedLine) {
			t.Fatalf("ParseLine(%q) error %v does not wrap ErrMalformedLine", raw, err)
		}

		// And every Line capture can produce survives FormatLine then ParseLine.
		const minMicros, maxMicros = -62135596800000000, 253402300799999999 // years 0001..9999
		micros = minMicros + (micros%(maxMicros-minMicros)+(maxMicros-minMicros))%(maxMicros-minMicros)
		in := Line{Time: time.UnixMicro(micros).UTC(), Stream: Stdout, Text: strings.ReplaceAll(text, "\n", " ")}
		if stderr {
			in.Stream = Stderr
		}
		out, err := ParseLine(FormatLine(nil, in))
		if err != nil {
			t.Fatalf("ParseLine(FormatLine(%+v)): %v", in, err)
		}
		if !out.Time.Equal(in.Time) || out.Stream != in.Stream || out.Text != in.Text {
			t.Fatalf("round trip: %+v became %+v", in, out)
		}
	})
}
