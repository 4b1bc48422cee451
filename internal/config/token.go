package config

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MinTokenBits is the guessing work a bearer token must demand: at 20,000
// guesses a second, 2^128 takes longer than the universe has existed.
const MinTokenBits = 128

// MaxTokenLen bounds what is read of a token file: a token is a line, not a
// file.
const MaxTokenLen = 4096

// TokenProblem says why tok is too weak to guard the HTTP listener, or ""
// when it is strong enough. A token's strength is judged by its length and
// the alphabet it is written in, counting each character as if drawn at
// random from it: decimal digits give 3.3 bits each, hexadecimal digits 4,
// anything else 6 (base64). So a token needs at least 39 decimal digits, 32
// hexadecimal digits, or 22 other characters; "=" padding at its end does
// not count.
func TokenProblem(tok string) string {
	body := strings.TrimRight(tok, "=")
	alphabet, perChar := "characters", 6.0
	switch {
	case body != "" && strings.Trim(body, "0123456789") == "":
		alphabet, perChar = "decimal digits", math.Log2(10)
	case body != "" && strings.Trim(body, "0123456789abcdefABCDEF") == "":
		alphabet, perChar = "hexadecimal digits", 4
	}
	need := int(math.Ceil(MinTokenBits / perChar))
	if len(body) >= need {
		return ""
	}
	return fmt.Sprintf("the token is %d %s, about %d bits; it needs at least %d bits: %d %s or more",
		len(body), alphabet, int(float64(len(body))*perChar), MinTokenBits, need, alphabet)
}

// TokenRecipe is a shell command that writes a strong token to path,
// unreadable by others from the start.
func TokenRecipe(path string) string {
	return "(umask 077; head -c 32 /dev/urandom | base64 > " + shellQuote(path) + ")"
}

// shellQuote quotes p for a POSIX shell unless it needs no quoting.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// checkTokenFile refuses a token file whose token is too weak. A file that
// cannot be read is not an error here: commands other than up load the
// config too, often as a user who may not read the token, and up reads the
// file itself (server.ReadToken) and refuses it with the reason.
func (d *decoder) checkTokenFile(v *yaml.Node, p, path string) {
	// Looked at before it is opened: opening a FIFO would block the load.
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTokenLen+1))
	if err != nil || len(data) > MaxTokenLen {
		return
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		d.errorf(resolve(v), "%s: %s is empty; make a token with: %s", p, path, TokenRecipe(path))
		return
	}
	if why := TokenProblem(tok); why != "" {
		d.errorf(resolve(v), "%s: %s is too easy to guess: %s; make one with: %s", p, path, why, TokenRecipe(path))
	}
}
