package offsets

import "unicode/utf8"

// The reader parses one key and one value per live key of the offsets topic;
// encoding/json's token API dominated that. The fast paths below accept the
// plain forms Kafka Connect writes (no escapes in strings, valid UTF-8,
// standard numbers) and produce exactly what ParseMap and DecodeKey produce;
// anything else goes to those functions, which also word the errors.

// parseMapExact is ParseMap with a fast path.
func parseMapExact(data []byte) (Map, error) {
	if m, ok := parseMapFast(data); ok {
		return m, nil
	}
	return ParseMap(data)
}

// decodeKeyExact is DecodeKey with a fast path.
func decodeKeyExact(key []byte) (string, Map, error) {
	p := fastParser{b: key}
	p.ws()
	if !p.eat('[') {
		return DecodeKey(key)
	}
	p.ws()
	name, ok := p.str()
	if !ok {
		return DecodeKey(key)
	}
	p.ws()
	if !p.eat(',') {
		return DecodeKey(key)
	}
	p.ws()
	m, ok := p.object()
	if !ok {
		return DecodeKey(key)
	}
	p.ws()
	if !p.eat(']') {
		return DecodeKey(key)
	}
	p.ws()
	if p.i != len(p.b) {
		return DecodeKey(key)
	}
	return name, m, nil
}

func parseMapFast(data []byte) (Map, bool) {
	p := fastParser{b: data}
	p.ws()
	m, ok := p.object()
	if !ok {
		return Map{}, false
	}
	p.ws()
	return m, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (p *fastParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// number reads a JSON number literal: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
func (p *fastParser) number() (string, bool) {
	start := p.i
	p.eat('-')
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", false
	}
	if p.eat('.') && digits() == 0 {
		return "", false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if digits() == 0 {
			return "", false
		}
	}
	return string(p.b[start:p.i]), true
}

func (p *fastParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *fastParser) value() (Value, bool) {
	if p.i >= len(p.b) {
		return Value{}, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		return String(s), ok
	case c == '-' || (c >= '0' && c <= '9'):
		n, ok := p.number()
		return Value{kind: KindNumber, text: n}, ok
	case p.literal("true"):
		return Bool(true), true
	case p.literal("false"):
		return Bool(false), true
	case p.literal("null"):
		return Null(), true
	}
	return Value{}, false
}

// object reads a flat object; duplicate keys are left to ParseMap.
func (p *fastParser) object() (Map, bool) {
	if !p.eat('{') {
		return Map{}, false
	}
	var m Map
	p.ws()
	if p.eat('}') {
		return m, true
	}
	for {
		p.ws()
		k, ok := p.str()
		if !ok {
			return Map{}, false
		}
		p.ws()
		if !p.eat(':') {
			return Map{}, false
		}
		p.ws()
		v, ok := p.value()
		if !ok {
			return Map{}, false
		}
		for _, f := range m.fields {
			if f.Key == k {
				return Map{}, false
			}
		}
		m.fields = append(m.fields, Field{Key: k, Value: v})
		p.ws()
		if p.eat('}') {
			return m, true
		}
		if !p.eat(',') {
			return Map{}, false
		}
	}
}
