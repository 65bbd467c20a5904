package server

import (
	"strconv"
	"unicode/utf8"
)

// decodeFlatContext decodes the common OFREP request body, a JSON object
// whose only member is "context" holding an object of scalar attributes,
// into attrs, without reflection: encoding/json took over half of the
// handler's time in the wrk profile. It reports false for anything
// else (escapes in strings, nested values, other members, any doubt) and
// the caller then decodes with encoding/json, which also words the
// errors. When it reports true, attrs holds exactly what encoding/json
// would have decoded (FuzzFlatContextMatchesEncodingJSON checks this).
func decodeFlatContext(b []byte, attrs map[string]any) (sawContext, ok bool) {
	d := flatDecoder{b: b}
	d.space()
	if !d.consume('{') {
		return false, false
	}
	d.space()
	if d.consume('}') {
		return false, d.end()
	}
	for {
		key, ok := d.str()
		if !ok || key != "context" {
			return false, false
		}
		d.space()
		if !d.consume(':') {
			return false, false
		}
		d.space()
		if d.literal("null") {
			clear(attrs) // a later null replaces an earlier context
			sawContext = false
		} else if !d.object(attrs) {
			return false, false
		} else {
			sawContext = true
		}
		d.space()
		if d.consume('}') {
			return sawContext, d.end()
		}
		if !d.consume(',') {
			return false, false
		}
		d.space()
	}
}

type flatDecoder struct {
	b []byte
	i int
}

func (d *flatDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *flatDecoder) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *flatDecoder) literal(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

func (d *flatDecoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// object decodes {"name": scalar, ...} into attrs. Like encoding/json
// decoding into a non-nil map, it keeps entries already there; a later
// duplicate name wins.
func (d *flatDecoder) object(attrs map[string]any) bool {
	if !d.consume('{') {
		return false
	}
	d.space()
	if d.consume('}') {
		return true
	}
	for {
		name, ok := d.str()
		if !ok {
			return false
		}
		d.space()
		if !d.consume(':') {
			return false
		}
		d.space()
		v, ok := d.scalar()
		if !ok {
			return false
		}
		attrs[name] = v
		d.space()
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
		d.space()
	}
}

func (d *flatDecoder) scalar() (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, false
}

// str decodes a string without escapes; any escape, control character or
// invalid UTF-8 is left to encoding/json.
func (d *flatDecoder) str() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start, ascii := d.i, true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// number decodes a JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?),
// checking the grammar first: strconv accepts more (hex, "inf").
func (d *flatDecoder) number() (any, bool) {
	start := d.i
	d.consume('-')
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.consume('0') {
		if d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			return nil, false
		}
	} else if digits() == 0 {
		return nil, false
	}
	if d.consume('.') && digits() == 0 {
		return nil, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		return nil, false
	}
	return f, true
}
