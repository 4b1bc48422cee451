package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" \t\n ", nil},
		{"a", []string{"a"}},
		{"  a   b\tc\nd  ", []string{"a", "b", "c", "d"}},
		{`'a b' "c d"`, []string{"a b", "c d"}},
		{`'' ""`, []string{"", ""}},
		{`a''b x""y`, []string{"ab", "xy"}},
		{`'it'\''s'`, []string{"it's"}},
		{`'\n \ "$HOME"'`, []string{`\n \ "$HOME"`}},
		{`"a \" \\ \$ \` + "`" + ` \n \x"`, []string{`a " \ $ ` + "`" + ` \n \x`}},
		{"\"line\\\ncontinued\"", []string{"linecontinued"}},
		{`a\ b \'c\' \"d\" \\`, []string{"a b", "'c'", `"d"`, `\`}},
		{"a\\\nb", []string{"ab"}},
		{`echo hi | wc; ls & x > y < z $(id) ` + "`id`" + ` *.go #c`,
			[]string{"echo", "hi", "|", "wc;", "ls", "&", "x", ">", "y", "<", "z", "$(id)", "`id`", "*.go", "#c"}},
		{`--opt="a b"c`, []string{"--opt=a bc"}},
		{"héllo 'wörld'", []string{"héllo", "wörld"}},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitCommandErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{`echo 'x`, `invalid command: unterminated single quote at byte 5 of "echo 'x"`},
		{`echo "x`, `invalid command: unterminated double quote at byte 5 of "echo \"x"`},
		{`"a\"`, `invalid command: unterminated double quote at byte 0 of "\"a\\\""`},
		{`a \`, `invalid command: "a \\" ends with a backslash`},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if !errors.Is(err, ErrCommandSyntax) || err.Error() != tt.msg {
			t.Errorf("SplitCommand(%q) = %q, %v; want error %q", tt.in, got, err, tt.msg)
		}
	}
}
