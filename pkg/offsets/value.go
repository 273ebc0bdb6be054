package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of primitive JSON values an offset or partition may hold.
const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	}
	return "unknown"
}

// Value is one primitive JSON value, kept exactly: a number keeps its literal
// text, a string its decoded text.
type Value struct {
	kind Kind
	text string
}

// Null returns the JSON null.
func Null() Value { return Value{kind: KindNull} }

// Bool returns a JSON boolean.
func Bool(b bool) Value { return Value{kind: KindBool, text: strconv.FormatBool(b)} }

// Int returns a JSON integer.
func Int(n int64) Value { return Value{kind: KindNumber, text: strconv.FormatInt(n, 10)} }

// Uint returns a JSON integer from an unsigned value (for LSNs above 2^63 the
// caller must decide whether Connect can hold it: it parses integers as Java
// longs).
func Uint(n uint64) Value { return Value{kind: KindNumber, text: strconv.FormatUint(n, 10)} }

// String returns a JSON string.
func String(s string) Value { return Value{kind: KindString, text: s} }

// Number returns a JSON number from its literal text, which must be a valid
// JSON number.
func Number(literal string) (Value, error) {
	if !isJSONNumber(literal) {
		return Value{}, fmt.Errorf("%q is not a JSON number", literal)
	}
	return Value{kind: KindNumber, text: literal}, nil
}

// Kind returns the value's JSON type.
func (v Value) Kind() Kind { return v.kind }

// Text returns a number's literal, a string's text, "true"/"false", or "" for null.
func (v Value) Text() string { return v.text }

// IsNull reports whether v is JSON null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Int64 returns v as a 64-bit integer when it is an integer number that fits.
// Java-side readers also accept numeric strings for some fields; use
// Int64Lenient for those.
func (v Value) Int64() (int64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(v.text, 10, 64)
	return n, err == nil
}

// Int64Lenient is Int64 that also accepts a string holding a decimal integer,
// as Connect's sink offsets parser and Debezium's OffsetUtils do.
func (v Value) Int64Lenient() (int64, bool) {
	if v.kind == KindString {
		n, err := strconv.ParseInt(v.text, 10, 64)
		return n, err == nil
	}
	return v.Int64()
}

// IsInteger reports whether v is a number written without fraction or exponent.
func (v Value) IsInteger() bool {
	if v.kind != KindNumber {
		return false
	}
	_, ok := new(big.Int).SetString(v.text, 10)
	return ok
}

// Equal reports whether two values are the same JSON value. Numbers are equal
// when their values are equal (1500 = 1500.0 is false, as Java's Long and
// Double differ; 1e3 = 1000.0 is true), strings and booleans by text.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	if v.kind != KindNumber || v.text == o.text {
		return v.text == o.text
	}
	if v.IsInteger() != o.IsInteger() {
		return false
	}
	a, ok1 := new(big.Float).SetPrec(200).SetString(v.text)
	b, ok2 := new(big.Float).SetPrec(200).SetString(o.text)
	return ok1 && ok2 && a.Cmp(b) == 0
}

// JSON returns the value's compact JSON bytes, escaped as Jackson does.
func (v Value) JSON() []byte {
	var b bytes.Buffer
	v.writeTo(&b)
	return b.Bytes()
}

// String renders the value as JSON text (for messages).
func (v Value) String() string { return string(v.JSON()) }

// MarshalJSON implements json.Marshaler with the exact bytes.
func (v Value) MarshalJSON() ([]byte, error) { return v.JSON(), nil }

// UnmarshalJSON implements json.Unmarshaler for a primitive JSON value.
func (v *Value) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	val, err := valueFromToken(tok)
	if err != nil {
		return err
	}
	*v = val
	return nil
}

func (v Value) writeTo(b *bytes.Buffer) {
	switch v.kind {
	case KindNull:
		b.WriteString("null")
	case KindBool, KindNumber:
		b.WriteString(v.text)
	case KindString:
		writeJacksonString(b, v.text)
	}
}

func valueFromToken(tok json.Token) (Value, error) {
	switch t := tok.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(t), nil
	case json.Number:
		return Value{kind: KindNumber, text: string(t)}, nil
	case string:
		return String(t), nil
	case json.Delim:
		if t == '{' {
			return Value{}, errNested("an object")
		}
		return Value{}, errNested("an array")
	}
	return Value{}, fmt.Errorf("unexpected JSON token %v", tok)
}

type nestedError struct{ what string }

func (e *nestedError) Error() string {
	return "offsets and partitions may only hold primitive values (string, number, boolean, null), not " + e.what
}

func errNested(what string) error { return &nestedError{what: what} }

// writeJacksonString writes s as a JSON string the way Jackson's default
// generator does: quote and backslash escaped, \b \t \n \f \r short forms,
// other control characters as \u00XX with upper-case hex, everything else
// (including '/', '<', '>', '&', U+2028 and non-ASCII) written raw as UTF-8.
func writeJacksonString(b *bytes.Buffer, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	var n json.Number
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return false
	}
	return string(n) == s && !strings.ContainsAny(s, " \t\n")
}

// Field is one key and value of a Map.
type Field struct {
	Key   string
	Value Value
}

// Map is a flat JSON object of primitive values with its field order kept.
// The zero Map is empty. Maps are values: the With and Without methods
// return changed copies.
type Map struct {
	fields []Field
}

// NewMap builds a Map from fields, in their order. A repeated key keeps the
// last value at the first key's position.
func NewMap(fields ...Field) Map {
	var m Map
	for _, f := range fields {
		m = m.With(f.Key, f.Value)
	}
	return m
}

// ParseMap parses a JSON object of primitive values exactly: field order and
// number literals are kept. Nested objects or arrays, duplicate keys, and
// trailing data are errors.
func ParseMap(data []byte) (Map, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	m, err := parseMapFrom(dec)
	if err != nil {
		return Map{}, err
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) != 0 {
		return Map{}, errors.New("unexpected data after the JSON object")
	}
	return m, nil
}

func parseMapFrom(dec *json.Decoder) (Map, error) {
	tok, err := dec.Token()
	if err != nil {
		return Map{}, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Map{}, fmt.Errorf("expected a JSON object, found %s", describeToken(tok))
	}
	var m Map
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return Map{}, fmt.Errorf("not JSON: %w", err)
		}
		key, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return Map{}, fmt.Errorf("not JSON: %w", err)
		}
		v, err := valueFromToken(vt)
		if err != nil {
			return Map{}, fmt.Errorf("field %q: %w", key, err)
		}
		if seen[key] {
			return Map{}, fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		m.fields = append(m.fields, Field{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return Map{}, fmt.Errorf("not JSON: %w", err)
	}
	return m, nil
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return string(t)
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprint(tok)
}

// Len returns the number of fields.
func (m Map) Len() int { return len(m.fields) }

// Fields returns the fields in order. The slice must not be modified.
func (m Map) Fields() []Field { return m.fields }

// Keys returns the keys in order.
func (m Map) Keys() []string {
	keys := make([]string, len(m.fields))
	for i, f := range m.fields {
		keys[i] = f.Key
	}
	return keys
}

// Get returns the value of key.
func (m Map) Get(key string) (Value, bool) {
	for _, f := range m.fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return Value{}, false
}

// With returns a copy of m with key set to v: in place when key exists,
// appended otherwise.
func (m Map) With(key string, v Value) Map {
	out := Map{fields: make([]Field, 0, len(m.fields)+1)}
	found := false
	for _, f := range m.fields {
		if f.Key == key {
			f.Value = v
			found = true
		}
		out.fields = append(out.fields, f)
	}
	if !found {
		out.fields = append(out.fields, Field{Key: key, Value: v})
	}
	return out
}

// Without returns a copy of m without key.
func (m Map) Without(key string) Map {
	out := Map{fields: make([]Field, 0, len(m.fields))}
	for _, f := range m.fields {
		if f.Key != key {
			out.fields = append(out.fields, f)
		}
	}
	return out
}

// Merge returns m with every field of o set on it (o wins), as a PATCH that
// merges an offset would.
func (m Map) Merge(o Map) Map {
	out := m
	for _, f := range o.fields {
		out = out.With(f.Key, f.Value)
	}
	return out
}

// Equal reports whether m and o hold the same keys with equal values,
// regardless of order.
func (m Map) Equal(o Map) bool {
	if len(m.fields) != len(o.fields) {
		return false
	}
	for _, f := range m.fields {
		v, ok := o.Get(f.Key)
		if !ok || !f.Value.Equal(v) {
			return false
		}
	}
	return true
}

// JSON returns the compact bytes of m in its field order, as Jackson writes them.
func (m Map) JSON() []byte {
	var b bytes.Buffer
	m.writeTo(&b)
	return b.Bytes()
}

func (m Map) writeTo(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, f := range m.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJacksonString(b, f.Key)
		b.WriteByte(':')
		f.Value.writeTo(b)
	}
	b.WriteByte('}')
}

// String renders m as compact JSON.
func (m Map) String() string { return string(m.JSON()) }

// MarshalJSON implements json.Marshaler with the exact bytes.
func (m Map) MarshalJSON() ([]byte, error) { return m.JSON(), nil }

// UnmarshalJSON implements json.Unmarshaler, exactly.
func (m *Map) UnmarshalJSON(data []byte) error {
	parsed, err := ParseMap(data)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}
