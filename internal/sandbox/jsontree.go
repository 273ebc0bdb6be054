package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// jnode is a parsed JSON value with object field order and number literals
// kept, so request bodies can be judged the way Jackson judges them.
type jnode struct {
	pos  int // byte offset of the value's first character in the body
	kind jkind
	str  string // string text or number literal
	b    bool
	obj  []jfield
	arr  []jnode
}

type jkind int

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

type jfield struct {
	key string
	val jnode
}

// get returns the last value of key (Jackson: a repeated key's last value wins).
func (n jnode) get(key string) (jnode, bool) {
	var out jnode
	found := false
	for _, f := range n.obj {
		if f.key == key {
			out, found = f.val, true
		}
	}
	return out, found
}

// jacksonToken names a node's kind as Jackson's error messages do.
func (n jnode) jacksonToken() string {
	switch n.kind {
	case jObject:
		return "Object value (token `JsonToken.START_OBJECT`)"
	case jArray:
		return "Array value (token `JsonToken.START_ARRAY`)"
	case jString:
		return "String value (token `JsonToken.VALUE_STRING`)"
	case jNumber:
		if strings.ContainsAny(n.str, ".eE") {
			return "Floating-point value (token `JsonToken.VALUE_NUMBER_FLOAT`)"
		}
		return "Integer value (token `JsonToken.VALUE_NUMBER_INT`)"
	case jBool:
		return "Boolean value (token `JsonToken.VALUE_TRUE`)"
	}
	return "Null value (token `JsonToken.VALUE_NULL`)"
}

// parseBody parses a request body. An empty body is (nil, nil): JAX-RS hands
// the resource a null entity.
func parseBody(body []byte) (*jnode, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	n, err := parseNode(dec, body)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("Unexpected trailing content after the JSON value")
	}
	if n.kind == jNull {
		return nil, nil
	}
	return &n, nil
}

func parseNode(dec *json.Decoder, body []byte) (jnode, error) {
	pos := int(dec.InputOffset())
	for pos < len(body) && strings.IndexByte(" \t\r\n,:", body[pos]) >= 0 {
		pos++
	}
	n, err := parseValue(dec, body)
	n.pos = pos
	return n, err
}

func parseValue(dec *json.Decoder, body []byte) (jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return jnode{}, jacksonSyntaxError(body, err)
	}
	switch t := tok.(type) {
	case nil:
		return jnode{kind: jNull}, nil
	case bool:
		return jnode{kind: jBool, b: t}, nil
	case json.Number:
		return jnode{kind: jNumber, str: string(t)}, nil
	case string:
		return jnode{kind: jString, str: t}, nil
	case json.Delim:
		switch t {
		case '{':
			n := jnode{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jnode{}, fmt.Errorf("Unexpected character: %v", err)
				}
				v, err := parseNode(dec, body)
				if err != nil {
					return jnode{}, err
				}
				n.obj = append(n.obj, jfield{key: kt.(string), val: v})
			}
			if _, err := dec.Token(); err != nil {
				return jnode{}, fmt.Errorf("Unexpected end-of-input: %v", err)
			}
			return n, nil
		case '[':
			n := jnode{kind: jArray}
			for dec.More() {
				v, err := parseNode(dec, body)
				if err != nil {
					return jnode{}, err
				}
				n.arr = append(n.arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return jnode{}, fmt.Errorf("Unexpected end-of-input: %v", err)
			}
			return n, nil
		}
	}
	return jnode{}, fmt.Errorf("Unexpected token %v", tok)
}

// javaString is String.valueOf of the Java object Jackson would build.
func (n jnode) javaString() string {
	switch n.kind {
	case jNull:
		return "null"
	case jBool:
		if n.b {
			return "true"
		}
		return "false"
	case jNumber:
		v, err := offsets.Number(n.str)
		if err == nil {
			if m, err := javaNormalize(offsets.NewMap(offsets.Field{Key: "v", Value: v}), false); err == nil {
				x, _ := m.Get("v")
				return x.Text()
			}
		}
		return n.str
	case jString:
		return n.str
	case jObject:
		parts := make([]string, len(n.obj))
		for i, f := range n.obj {
			parts[i] = f.key + "=" + f.val.javaString()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	parts := make([]string, len(n.arr))
	for i, v := range n.arr {
		parts[i] = v.javaString()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// primitiveMap turns an object of primitives into an offsets.Map. For a
// nested value it reports the field and the Connect schema type (MAP, ARRAY).
func (n jnode) primitiveMap() (offsets.Map, string, string) {
	var fields []offsets.Field
	for _, f := range n.obj {
		var v offsets.Value
		switch f.val.kind {
		case jNull:
			v = offsets.Null()
		case jBool:
			v = offsets.Bool(f.val.b)
		case jString:
			v = offsets.String(f.val.str)
		case jNumber:
			nv, err := offsets.Number(f.val.str)
			if err != nil {
				return offsets.Map{}, f.key, "NUMBER"
			}
			v = nv
		case jObject:
			return offsets.Map{}, f.key, "MAP"
		case jArray:
			return offsets.Map{}, f.key, "ARRAY"
		}
		fields = append(fields, offsets.Field{Key: f.key, Value: v})
	}
	return offsets.NewMap(fields...), "", ""
}

// jacksonLocation is the location suffix Jackson appends to its messages,
// with the reference chain that led to the failing value. Jackson 2.16
// (Kafka 3.7+) redacts the source; 2.13 (Kafka 3.4-3.6) names Jersey's
// stream.
func jacksonLocation(v connectVersion, body []byte, pos int, chain string) string {
	line, col := 1, pos+1
	for i := 0; i < pos && i < len(body); i++ {
		if body[i] == '\n' {
			line, col = line+1, pos-i
		}
	}
	src := "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)"
	if v.minor < 7 {
		src = "(org.glassfish.jersey.message.internal.ReaderInterceptorExecutor$UnCloseableInputStream)"
	}
	out := fmt.Sprintf("\n at [Source: %s; line: %d, column: %d]", src, line, col)
	if chain != "" {
		out += " (through reference chain: " + chain + ")"
	}
	return out
}

// noCreator is Jackson's message for a scalar where an object was expected.
func (n jnode) noCreator(class string) string {
	switch n.kind {
	case jNumber:
		switch {
		case strings.ContainsAny(n.str, ".eE"):
			return fmt.Sprintf("Cannot construct instance of `%s` (although at least one Creator exists): no double/Double-argument constructor/factory method to deserialize from Number value (%s)", class, n.javaString())
		default:
			if _, err := strconv.ParseInt(n.str, 10, 32); err == nil {
				return fmt.Sprintf("Cannot construct instance of `%s` (although at least one Creator exists): no int/Int-argument constructor/factory method to deserialize from Number value (%s)", class, n.str)
			}
			return fmt.Sprintf("Cannot construct instance of `%s` (although at least one Creator exists): no long/Long-argument constructor/factory method to deserialize from Number value (%s)", class, n.str)
		}
	case jString:
		return fmt.Sprintf("Cannot construct instance of `%s` (although at least one Creator exists): no String-argument constructor/factory method to deserialize from String value ('%s')", class, n.str)
	case jBool:
		return fmt.Sprintf("Cannot construct instance of `%s` (although at least one Creator exists): no boolean/Boolean-argument constructor/factory method to deserialize from Boolean value (%s)", class, n.javaString())
	}
	return fmt.Sprintf("Cannot deserialize value of type `%s` from %s", class, n.jacksonToken())
}
