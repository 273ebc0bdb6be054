// Package numfmt formats numbers for operators: integers with comma
// thousands separators (1234567 → "1,234,567"), as plans, offsets, diffs
// and benchmarks print them. golang.org/x/text/message would do the same
// with a locale; offsetctl's output is not localised, so a few lines do.
package numfmt

import "strconv"

// Thousands writes n with comma thousands separators: 1234567 →
// "1,234,567", -1234 → "-1,234".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return sign + string(out)
}

// Signed is Thousands with a "+" before a positive n: a difference.
func Signed(n int64) string {
	if n > 0 {
		return "+" + Thousands(n)
	}
	return Thousands(n)
}
