package config

import (
	"errors"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": "", "B_2": "two"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"${A}", "1"},
		{"x${A}y${B_2}z", "x1ytwoz"},
		{"${UNSET}", ""},
		{"${UNSET:-d}", "d"},
		{"${EMPTY:-d}", "d"},
		{"${EMPTY-d}", ""},
		{"${UNSET-d}", "d"},
		{"${A:-d}", "1"},
		{"${UNSET:-}", ""},
		{"${UNSET:-a b:c-d}", "a b:c-d"},
		{"${UNSET:-${A}}", "1"},
		{"${UNSET:-${NOPE:-${B_2}}!}", "two!"},
		{"$$", "$"},
		{"$${A}", "${A}"},
		{"$$$${A}", "$${A}"},
		{"$A $1 $ end$", "$A $1 $ end$"},
		{"a}b", "a}b"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, lookup)
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"${", `missing closing "}"`},
		{"${A", `missing closing "}"`},
		{"${A:-x", `missing closing "}"`},
		{"${}", `"${" must be followed by a variable name`},
		{"${9}", `"${" must be followed by a variable name`},
		{"${A B}", `unexpected ' ' after "${A"`},
		{"${A:?x}", `unexpected ':' after "${A"`},
		{"${A:-${}", `"${" must be followed by a variable name`},
		{strings.Repeat("${A:-", 20) + strings.Repeat("}", 20), "nested more than 16 deep"},
	}
	for _, tt := range tests {
		_, err := expand(tt.in, noEnv)
		if !errors.Is(err, errExpand) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("expand(%q) error = %v; want one containing %q", tt.in, err, tt.msg)
		}
	}
}
