package config

import (
	"errors"
	"math"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"100", 100},
		{"100B", 100},
		{"1k", 1000},
		{"1K", 1000},
		{"1KB", 1000},
		{"1kb", 1000},
		{"10MB", 10_000_000},
		{"1G", 1_000_000_000},
		{"2TB", 2_000_000_000_000},
		{"1Ki", 1024},
		{"512KiB", 512 * 1024},
		{"512kib", 512 * 1024},
		{"1MiB", 1 << 20},
		{"3GiB", 3 << 30},
		{"1TiB", 1 << 40},
		{"1.5KiB", 1536},
		{"1.5MB", 1_500_000},
		{"0.5GiB", 1 << 29},
		{" 10 MB ", 10_000_000},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", `invalid size "": want a number such as 100, 10MB or 1.5GiB`},
		{"MB", `invalid size "MB": want a number such as 100, 10MB or 1.5GiB`},
		{"-1", `invalid size "-1": want a number such as 100, 10MB or 1.5GiB`},
		{"1.", `invalid size "1.": want a number such as 100, 10MB or 1.5GiB`},
		{".5K", `invalid size ".5K": want a number such as 100, 10MB or 1.5GiB`},
		{"1.2.3", `invalid size "1.2.3": want a number such as 100, 10MB or 1.5GiB`},
		{"10XB", `invalid size "10XB": unknown unit "XB" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"10 M B", `invalid size "10 M B": unknown unit "M B" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1.5B", `invalid size "1.5B": not a whole number of bytes`},
		{"9223372036854775808", `invalid size "9223372036854775808": too large`},
		{"10000000TiB", `invalid size "10000000TiB": too large`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if !errors.Is(err, ErrInvalidSize) || err.Error() != tt.msg {
			t.Errorf("ParseSize(%q) = %d, %v; want error %q", tt.in, got, err, tt.msg)
		}
	}
}
