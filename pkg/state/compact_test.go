package state

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzIsCompact: isCompact says yes exactly when encoding/json finds the
// input valid and already compact (nesting within its bound).
func FuzzIsCompact(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.5e+10`, `1E3`, `true`, `false`, `null`,
		`{"id":1,"name":"a \"quoted\" \\ name\n","tags":["x","y"],"meta":{"n":[1,2.5,-3e-2]},"none":null}`,
		`{"a":"\u00e9\u2028\ud83d\ude00","b":"é","c":"\/"}`,
		`{"a": 1}`, ` {}`, `{} `, "{\"a\":\n1}", `[1,]`, `{"a":1,}`, `{"a"}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", `"abc`, `tru`, `nul`, `[`, `{"a":[}`, `{"a":1}{}`,
		"\"\xff\xfe\"", strings.Repeat("[", 1100) + strings.Repeat("]", 1100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := isCompact(b)
		var buf bytes.Buffer
		want := json.Valid(b) && json.Compact(&buf, b) == nil && bytes.Equal(buf.Bytes(), b)
		if got && !want {
			t.Fatalf("isCompact(%q) = true, but encoding/json says valid %v, compact %q", b, json.Valid(b), buf.Bytes())
		}
		if !got && want && depth(b) <= maxCompactDepth {
			t.Fatalf("isCompact(%q) = false for compact valid JSON", b)
		}
	})
}

// depth is the deepest nesting of b's containers (strings skipped).
func depth(b []byte) int {
	d, m := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			d++
			m = max(m, d)
		case '}', ']':
			d--
		}
	}
	return m
}
