// Package bearer judges the HTTP listener's bearer tokens: what makes one strong
// enough, how to make one, and reading one from its file.
package bearer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// MinBits is the guessing work a bearer token must demand: at 20,000
// guesses a second, 2^128 takes longer than the universe has existed.
const MinBits = 128

// MaxLen bounds what is read of a token file: a token is a line, not a
// file.
const MaxLen = 4096

// Problem says why tok is too weak to guard the HTTP listener, or ""
// when it is strong enough. A token's strength is judged by its length and
// the alphabet it is written in, counting each character as if drawn at
// random from it: decimal digits give 3.3 bits each, hexadecimal digits 4,
// anything else 6 (base64). So a token needs at least 39 decimal digits, 32
// hexadecimal digits, or 22 other characters; "=" padding at its end does
// not count.
func Problem(tok string) string {
	body := strings.TrimRight(tok, "=")
	alphabet, perChar := "characters", 6.0
	switch {
	case body != "" && strings.Trim(body, "0123456789") == "":
		alphabet, perChar = "decimal digits", math.Log2(10)
	case body != "" && strings.Trim(body, "0123456789abcdefABCDEF") == "":
		alphabet, perChar = "hexadecimal digits", 4
	}
	need := int(math.Ceil(MinBits / perChar))
	if len(body) >= need {
		return ""
	}
	return fmt.Sprintf("the token is %d %s, about %d bits; it needs at least %d bits: %d %s or more",
		len(body), alphabet, int(float64(len(body))*perChar), MinBits, need, alphabet)
}

// Recipe is a shell command that writes a strong token to path,
// unreadable by others from the start.
func Recipe(path string) string {
	return "(umask 077; head -c 32 /dev/urandom | base64 > " + shellQuote(path) + ")"
}

// shellQuote quotes p for a POSIX shell unless it needs no quoting.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// ErrBadFile is wrapped by every error of Read about the file
// itself (its mode, type or content), as opposed to failing to read it.
var ErrBadFile = errors.New("unusable token file")

// Read reads the HTTP listener's bearer token: the file's content
// without surrounding whitespace. The file must be a regular file that
// neither group nor others may access (mode & 0o077 == 0), and the token
// must be printable ASCII without spaces, strong enough for
// Problem.
func Read(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s: %w: not a regular file", path, ErrBadFile)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: %w: group and others must have no access (chmod 600 %s)", path, perm, ErrBadFile, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxLen+1))
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	if len(data) > MaxLen {
		return "", fmt.Errorf("token file %s: %w: longer than %d bytes", path, ErrBadFile, MaxLen)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("token file %s: %w: it is empty", path, ErrBadFile)
	}
	for _, r := range tok {
		if r <= ' ' || r > '~' {
			return "", fmt.Errorf("token file %s: %w: the token must be printable ASCII without spaces", path, ErrBadFile)
		}
	}
	if why := Problem(tok); why != "" {
		return "", fmt.Errorf("token file %s: %w: it is too easy to guess: %s; make one with: %s", path, ErrBadFile, why, Recipe(path))
	}
	return tok, nil
}
