package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// jnode is a parsed JSON value with object field order and number literals
// kept, so request bodies can be judged the way Jackson judges them.
type jnode struct {
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
	n, err := parseNode(dec)
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

func parseNode(dec *json.Decoder) (jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return jnode{}, fmt.Errorf("Unexpected character or end-of-input: %v", err)
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
				v, err := parseNode(dec)
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
				v, err := parseNode(dec)
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
