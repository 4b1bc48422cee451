// Package lines defines the numbered fixed-size lines the capture benchmark writes and checks.
package lines

import (
	"bytes"
	"strconv"
)

// Size is the length of every line, newline included.
const Size = 100

// digits is how many leading characters hold the zero-padded line number.
const digits = 12

// Put writes line n into dst, which must hold at least Size bytes. The
// filler after the number is a pure function of n, so a checker can rebuild
// any line and compare it byte for byte without sharing state with the writer.
func Put(dst []byte, n int) {
	s := strconv.Itoa(n)
	for i := 0; i < digits-len(s); i++ {
		dst[i] = '0'
	}
	copy(dst[digits-len(s):digits], s)
	dst[digits] = ' '
	for j := digits + 1; j < Size-1; j++ {
		dst[j] = byte('a' + (n*7+j)%26)
	}
	dst[Size-1] = '\n'
}

// Line returns line n, newline included.
func Line(n int) []byte {
	b := make([]byte, Size)
	Put(b, n)
	return b
}

// Number parses the number at the start of text, a line without its
// newline. It reports false when text is not exactly line n for some n.
func Number(text []byte) (int, bool) {
	if len(text) != Size-1 {
		return 0, false
	}
	n := 0
	for _, c := range text[:digits] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	var want [Size]byte
	Put(want[:], n)
	if !bytes.Equal(text, want[:Size-1]) {
		return 0, false
	}
	return n, true
}
