package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf16"
)

// EncodeKey returns the offsets-topic key bytes Kafka Connect writes for a
// source partition of connector: the compact JSON array
// ["<connector>",{<partition>}], with the partition's fields in the order of
// p. For a partition that already exists in the topic, reuse the bytes read
// from it instead; for a new one, pass p.JavaOrder().
func EncodeKey(connector string, p Map) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	writeJacksonString(&b, connector)
	b.WriteByte(',')
	p.writeTo(&b)
	b.WriteByte(']')
	return b.Bytes()
}

// ErrNotOffsetKey marks key bytes that are not a Connect source offset key.
var ErrNotOffsetKey = errors.New("not a Kafka Connect offset key")

// DecodeKey parses offsets-topic key bytes into the connector name and the
// partition map. Anything but a two-element [string, {primitives}] array is an
// error wrapping ErrNotOffsetKey.
func DecodeKey(key []byte) (connector string, partition Map, err error) {
	fail := func(format string, args ...any) (string, Map, error) {
		return "", Map{}, fmt.Errorf("%w: "+format, append([]any{ErrNotOffsetKey}, args...)...)
	}
	dec := json.NewDecoder(bytes.NewReader(key))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fail("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fail("expected a JSON array [connector, partition]")
	}
	tok, err = dec.Token()
	if err != nil {
		return fail("not JSON")
	}
	name, ok := tok.(string)
	if !ok {
		return fail("the first element must be the connector name (a string)")
	}
	p, err := parseMapFrom(dec)
	if err != nil {
		return fail("the second element must be the partition object: %v", err)
	}
	tok, err = dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != ']' {
		return fail("expected exactly two elements")
	}
	if len(bytes.TrimSpace(key[dec.InputOffset():])) != 0 {
		return fail("unexpected data after the key")
	}
	return name, p, nil
}

// JavaOrder returns m with its fields in the order a java.util.HashMap
// filled with them (in m's order) iterates: by bucket of the spread String
// hash code in the smallest table that holds them at load factor 0.75, and by
// insertion order within a bucket. Connect's JsonConverter and Debezium build
// partition maps as HashMaps, so new keys must be written in this order.
func (m Map) JavaOrder() Map {
	capacity := 16
	for float64(len(m.fields)) > 0.75*float64(capacity) {
		capacity *= 2
	}
	out := Map{fields: append([]Field(nil), m.fields...)}
	sort.SliceStable(out.fields, func(i, j int) bool {
		return javaBucket(out.fields[i].Key, capacity) < javaBucket(out.fields[j].Key, capacity)
	})
	return out
}

func javaBucket(key string, capacity int) int {
	h := uint32(JavaStringHash(key))
	h ^= h >> 16
	return int(h & uint32(capacity-1))
}

// JavaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... over UTF-16
// code units, in 32-bit two's complement.
func JavaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}
