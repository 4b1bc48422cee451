package config

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// sizeUnits maps an upper-cased unit to its multiplier. A bare letter or a
// letter with B is decimal (K = KB = 1000), as in SI and Kubernetes; an "i"
// makes it binary (Ki = KiB = 1024).
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
	"KI": 1 << 10, "KIB": 1 << 10, "MI": 1 << 20, "MIB": 1 << 20,
	"GI": 1 << 30, "GIB": 1 << 30, "TI": 1 << 40, "TIB": 1 << 40,
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
	mult, ok := sizeUnits[strings.ToUpper(unit)]
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
