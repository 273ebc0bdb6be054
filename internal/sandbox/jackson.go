package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
)

// jacksonSyntaxError words a JSON syntax error of a request body the way
// Jackson does where the two are known to match the real worker: a bare
// word (not json, nope, tru) is Jackson's "Unrecognized token"; anything
// else keeps the generic wording.
func jacksonSyntaxError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		at := int(se.Offset) - 1
		if at >= len(body) {
			at = len(body) - 1
		}
		start := at
		for start > 0 && javaIdentifierPart(rune(body[start-1])) {
			start--
		}
		end := start
		for end < len(body) && javaIdentifierPart(rune(body[end])) && end-start < 256 {
			end++
		}
		if start >= 0 && end > start && unicode.IsLetter(rune(body[start])) {
			return fmt.Errorf("Unrecognized token '%s': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", body[start:end])
		}
	}
	return fmt.Errorf("Unexpected character or end-of-input: %v", err)
}

// javaIdentifierPart approximates Character.isJavaIdentifierPart for ASCII,
// which Jackson uses to collect an unrecognized token.
func javaIdentifierPart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
