package offsets

import (
	"math/rand"
	"reflect"
	"testing"
)

var fastSeeds = []string{
	`{"lsn_proc":30706280,"messageType":"INSERT","lsn":30706280,"txId":734,"ts_usec":1795678208165922}`,
	`{"max":9223372036854775807,"min":-9223372036854775808,"beyond":18446744073709551615}`,
	`{"f":1.50,"e":1E+3,"g":-0.5e-7,"t":true,"n":null,"s":"","u":"ünï/<&>"}`,
	` { "a" : 1 , "b" : "x" } `,
	`{}`, `{"a":1,"a":2}`, `{"a":{"b":1}}`, `{"a":[1]}`, `[1]`, `{"a":1} x`, `{"a":`, ``, `{"a":01}`, `{"a":-}`,
	`{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\u00e9"}`, `{"a\"b":1}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}",
	`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1}` + "\u00a0", "{\"a\":1}\n",
	`["pg-orders",{"server":"shop"}]`, ` [ "c" , { "server" : "x" } ] `, `["a"]`, `[1,{}]`, `["a",{},1]`, `["a",{"b":{}}]`,
	`["a",{}] x`, `["we\"ird",{"n":7}]`, `["a",{"b":1}`, `{"c":{"server":"x"}}`, `not json`,
}

// TestFastParseMatchesEncodingJSON compares the fast paths with ParseMap
// and DecodeKey on tricky inputs and on random mutations of them.
func TestFastParseMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte(`{}[]",:0123456789.-+eEtrufalsn \\ab` + "\x00\xc3\xa9")
	inputs := append([]string(nil), fastSeeds...)
	for range 20000 {
		b := []byte(fastSeeds[rng.Intn(len(fastSeeds))])
		for n := rng.Intn(3) + 1; n > 0 && len(b) > 0; n-- {
			i := rng.Intn(len(b))
			switch rng.Intn(3) {
			case 0:
				b[i] = alphabet[rng.Intn(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[rng.Intn(len(alphabet))]}, b[i:]...)...)
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		m1, err1 := ParseMap([]byte(in))
		m2, err2 := parseMapExact([]byte(in))
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(m1, m2) {
			t.Fatalf("ParseMap(%q) = %v %v, fast = %v %v", in, m1, err1, m2, err2)
		}
		n1, p1, err1 := DecodeKey([]byte(in))
		n2, p2, err2 := decodeKeyExact([]byte(in))
		if n1 != n2 || (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(p1, p2) {
			t.Fatalf("DecodeKey(%q) = %q %v %v, fast = %q %v %v", in, n1, p1, err1, n2, p2, err2)
		}
	}
}

func BenchmarkParseValue(b *testing.B) {
	v := []byte(`{"lsn_proc":97500059720,"messageType":"COMMIT","lsn":97500059720,"lsn_commit":97500059720,"txId":812345,"ts_usec":1795168800000000}`)
	b.Run("ParseMap", func(b *testing.B) {
		for range b.N {
			_, _ = ParseMap(v)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			_, _ = parseMapExact(v)
		}
	})
}
