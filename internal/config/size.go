package config

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// sizeUnit maps an upper-cased unit to its multiplier. A bare letter or a
// letter with B is decimal (K = KB = 1000), as in SI and Kubernetes; an "i"
// makes it binary (Ki = KiB = 1024).
// A switch rather than a map: a map at package level is built at every
// start of the binary.
func sizeUnit(unit string) (int64, bool) {
	switch unit {
	case "", "B":
		return 1, true
	case "K", "KB":
		return 1e3, true
	case "M", "MB":
		return 1e6, true
	case "G", "GB":
		return 1e9, true
	case "T", "TB":
		return 1e12, true
	case "KI", "KIB":
		return 1 << 10, true
	case "MI", "MIB":
		return 1 << 20, true
	case "GI", "GIB":
		return 1 << 30, true
	case "TI", "TIB":
		return 1 << 40, true
	}
	return 0, false
}

// ParseSize parses a byte count: a number, optionally with a fraction, and
// an optional unit, case-insensitive, optionally after a space. Decimal
// units: B, K or KB (1000), M or MB (1000²), G or GB, T or TB. Binary units:
// Ki or KiB (1024), Mi or MiB (1024²), Gi or GiB, Ti or TiB. So "100" is
// 100 bytes, "10MB" is 10,000,000 and "512KiB" is 524,288. The result must
// be a whole, non-negative number of bytes that fits in an int64. Errors
// wrap ErrInvalidSize.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && (t[end] >= '0' && t[end] <= '9' || t[end] == '.') {
		end++
	}
	num, unit := t[:end], strings.TrimSpace(t[end:])
	whole, frac, hasDot := strings.Cut(num, ".")
	if whole == "" || strings.Contains(frac, ".") || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w %q: want a number such as 100, 10MB or 1.5GiB", ErrInvalidSize, s)
	}
	mult, ok := sizeUnit(strings.ToUpper(unit))
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", ErrInvalidSize, s, unit)
	}
	// value = whole.frac × mult, computed exactly.
	n, _ := new(big.Int).SetString(whole+frac, 10)
	n.Mul(n, big.NewInt(mult))
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	q, r := new(big.Int).QuoRem(n, scale, new(big.Int))
	if r.Sign() != 0 {
		return 0, fmt.Errorf("%w %q: not a whole number of bytes", ErrInvalidSize, s)
	}
	if q.Cmp(big.NewInt(math.MaxInt64)) > 0 {
		return 0, fmt.Errorf("%w %q: too large", ErrInvalidSize, s)
	}
	return q.Int64(), nil
}
