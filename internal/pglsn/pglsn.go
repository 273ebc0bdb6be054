// Package pglsn reads and writes PostgreSQL log sequence numbers as
// PostgreSQL prints them, "X/Y": for the configuration's lsn() function and
// the Debezium PostgreSQL offset codec alike.
package pglsn

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse parses an LSN written as two hexadecimal numbers of at most 8
// digits, "X/Y", into (X<<32)+Y, the integer Debezium stores. Its errors
// say what is wrong with the text, for the operator who wrote it.
func Parse(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("%q is not an LSN: write it as two hexadecimal numbers separated by a slash, like \"0/2360E30\"", s)
	}
	parse := func(part, which string) (uint64, error) {
		if part == "" || len(part) > 8 {
			return 0, fmt.Errorf("%q is not an LSN: the %s part must be 1 to 8 hexadecimal digits", s, which)
		}
		for _, r := range part {
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return 0, fmt.Errorf("%q is not an LSN: %q is not a hexadecimal digit", s, r)
			}
		}
		return strconv.ParseUint(part, 16, 32)
	}
	x, err := parse(hi, "first")
	if err != nil {
		return 0, err
	}
	y, err := parse(lo, "second")
	if err != nil {
		return 0, err
	}
	return x<<32 | y, nil
}

// Format writes an LSN the way PostgreSQL does: "X/Y", upper-case
// hexadecimal without leading zeros.
func Format(lsn uint64) string {
	return fmt.Sprintf("%X/%X", lsn>>32, lsn&0xFFFFFFFF)
}
