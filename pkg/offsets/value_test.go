package offsets

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseMapKeepsBytesExactly(t *testing.T) {
	for _, in := range []string{
		`{"lsn":97500059720,"lsn_proc":97500059720,"txId":812345,"ts_usec":1718000000123456,"messageType":"COMMIT"}`,
		`{"max":9223372036854775807,"min":-9223372036854775808,"beyond":18446744073709551615}`,
		`{"f":1.50,"e":1E+3,"t":true,"n":null,"s":""}`,
		`{"server":"dbserver1","database":"testDB"}`,
		`{}`,
	} {
		m, err := ParseMap([]byte(in))
		if err != nil {
			t.Fatalf("ParseMap(%s): %v", in, err)
		}
		if got := string(m.JSON()); got != in {
			t.Errorf("round trip changed bytes:\n in: %s\nout: %s", in, got)
		}
		var viaStd Map
		if err := json.Unmarshal([]byte(in), &viaStd); err != nil || !viaStd.Equal(m) {
			t.Errorf("json.Unmarshal into Map: %v, equal=%v", err, viaStd.Equal(m))
		}
	}
}

func TestParseMapRefusesWhatConnectRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":{"b":1}}`, "primitive values"},
		{`{"a":[1]}`, "primitive values"},
		{`[1]`, "expected a JSON object"},
		{`{"a":1,"a":2}`, "appears twice"},
		{`{"a":1} x`, "after the JSON object"},
		{`{"a":`, "not JSON"},
		{``, "not JSON"},
	} {
		_, err := ParseMap([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMap(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestInt64NeverLosesPrecision(t *testing.T) {
	m, err := ParseMap([]byte(`{"lsn":9007199254740993}`)) // 2^53+1: float64 would give ...992
	if err != nil {
		t.Fatal(err)
	}
	v, _ := m.Get("lsn")
	n, ok := v.Int64()
	if !ok || n != 9007199254740993 {
		t.Fatalf("Int64 = %d, %v", n, ok)
	}
}

func TestValueEqual(t *testing.T) {
	num := func(s string) Value {
		v, err := Number(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		a, b Value
		want bool
	}{
		{Int(1500), num("1500"), true},
		{Int(1500), String("1500"), false},
		{num("1e3"), num("1000.0"), true},
		{num("1000"), num("1000.0"), false}, // Long vs Double in Java
		{Null(), Null(), true},
		{Bool(true), Bool(false), false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s.Equal(%s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestJacksonStringEscaping(t *testing.T) {
	// Jackson's default generator escapes only the quote, the backslash and
	// control characters (short forms for \b \t \n \f \r, \u00XX upper-case
	// otherwise); it writes '/', '<', '>', '&', U+2028 and non-ASCII raw.
	m := NewMap(Field{"k", String("a/b<>&\u2028é\"\\\n\t\x01\x1f")})
	want := "{\"k\":\"a/b<>&\u2028é\\\"\\\\\\n\\t\\u0001\\u001F\"}"
	if got := string(m.JSON()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestMapWithWithoutMerge(t *testing.T) {
	base := NewMap(Field{"lsn", Int(1)}, Field{"txId", Int(2)})
	if got := base.With("lsn", Int(5)).String(); got != `{"lsn":5,"txId":2}` {
		t.Errorf("With in place: %s", got)
	}
	if got := base.With("x", Bool(true)).String(); got != `{"lsn":1,"txId":2,"x":true}` {
		t.Errorf("With append: %s", got)
	}
	if got := base.Without("lsn").String(); got != `{"txId":2}` {
		t.Errorf("Without: %s", got)
	}
	if got := base.Merge(NewMap(Field{"txId", Int(9)}, Field{"y", Null()})).String(); got != `{"lsn":1,"txId":9,"y":null}` {
		t.Errorf("Merge: %s", got)
	}
	if base.String() != `{"lsn":1,"txId":2}` {
		t.Errorf("base changed: %s", base)
	}
}
