package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// marshal encodes v as compact JSON without HTML escaping, as Jackson writes.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// javaDouble formats f as java.lang.Double.toString does (shortest digits):
// plain decimal with at least one fraction digit for 1e-3 <= |f| < 1e7,
// otherwise d.dddE±n.
func javaDouble(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

// bigIntegerError is the DataException Connect raises when an offset holds an
// integer beyond a Java long (Jackson makes it a BigInteger).
type bigIntegerError struct{ field string }

func (e *bigIntegerError) Error() string {
	return "Offsets may only contain primitive types as values, but field " + e.field + " contains class java.math.BigInteger"
}

// javaNormalize returns m as Kafka Connect holds it after its JsonConverter
// round trip (Worker.normalizeSourceConnectorOffsets, OffsetStorageReader):
// integers become Longs, other numbers Doubles (printed as Java prints them),
// strings, booleans and nulls stay, and the fields come out in
// java.util.HashMap order. strict makes an integer beyond 64 bits an error (the
// REST path); otherwise its literal is kept.
func javaNormalize(m offsets.Map, strict bool) (offsets.Map, error) {
	fields := make([]offsets.Field, 0, m.Len())
	for _, f := range m.Fields() {
		v := f.Value
		if v.Kind() == offsets.KindNumber {
			if v.IsInteger() {
				if n, ok := v.Int64(); ok {
					v = offsets.Int(n)
				} else if strict {
					return offsets.Map{}, &bigIntegerError{field: f.Key}
				}
			} else {
				x, err := strconv.ParseFloat(v.Text(), 64)
				if err != nil {
					return offsets.Map{}, fmt.Errorf("field %s: %w", f.Key, err)
				}
				nv, err := offsets.Number(javaDouble(x))
				if err != nil {
					return offsets.Map{}, err
				}
				v = nv
			}
		}
		fields = append(fields, offsets.Field{Key: f.Key, Value: v})
	}
	return offsets.NewMap(fields...).JavaOrder(), nil
}

// canonical is a map identity that ignores field order, for the worker's
// set of a connector's partitions (HashMap equality).
func canonical(m offsets.Map) string {
	keys := m.Keys()
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, _ := m.Get(k)
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		b.Write(v.JSON())
		b.WriteByte(',')
	}
	return b.String()
}
