package config

import (
	"fmt"
	"strings"
)

// SplitCommand splits s into words the way a POSIX shell does, and nothing
// more: words are separated by unquoted spaces, tabs and newlines; '...'
// keeps everything literally; "..." keeps everything except that \" \\ \$
// \` stand for the second character and a backslash-newline vanishes; an
// unquoted backslash makes the next character literal. No shell runs and
// nothing is expanded: globs, #, and operators such as | ; & > < $( ` are
// ordinary characters. An empty or blank s gives no words. An unterminated
// quote or a trailing backslash is an error wrapping ErrCommandSyntax.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		word  strings.Builder
		// inWord is true once the current word has begun, so that '' and
		// "" make an empty word rather than nothing.
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: %q ends with a backslash", ErrCommandSyntax, shorten(s))
			}
			i++
			if s[i] != '\n' {
				word.WriteByte(s[i])
				inWord = true
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated single quote at byte %d of %q", ErrCommandSyntax, i, shorten(s))
			}
			word.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case '"':
			j, err := doubleQuoted(&word, s, i)
			if err != nil {
				return nil, err
			}
			inWord = true
			i = j
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// doubleQuoted copies the "..." string opening at s[open] into w and
// returns the index of its closing quote.
func doubleQuoted(w *strings.Builder, s string, open int) (int, error) {
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			i++
			w.WriteByte(s[i])
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i++
		default:
			w.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("%w: unterminated double quote at byte %d of %q", ErrCommandSyntax, open, shorten(s))
}
