package server

import (
	"strconv"
	"sync"
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
func decodeFlatContext(b []byte, attrs map[string]any, names *nameTable) (sawContext, ok bool) {
	d := flatDecoder{b: b, names: names}
	d.space()
	if !d.consume('{') {
		return false, false
	}
	d.space()
	if d.consume('}') {
		return false, d.end()
	}
	for {
		key, ok := d.rawString()
		if !ok || string(key) != "context" {
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
	b     []byte
	i     int
	names *nameTable // nil: no interning
	// local, when set, interns names for one body without a lock, before
	// names is asked (event batches repeat a few names thousands of times).
	local map[string]string
}

// nameTable interns attribute names: a service sees few distinct names
// (targetingKey, country, plan…) in every request, and allocating each
// anew was a fifth of the decoder's cost. It stops growing at
// maxInternedNames, so arbitrary names cannot grow it without bound.
type nameTable struct {
	mu    sync.RWMutex
	names map[string]string
}

const maxInternedNames = 1024

func (t *nameTable) intern(b []byte) string {
	t.mu.RLock()
	s, ok := t.names[string(b)] // no allocation: the compiler converts in place for lookups
	full := len(t.names) >= maxInternedNames
	t.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	if !full {
		t.mu.Lock()
		if len(t.names) < maxInternedNames {
			t.names[s] = s
		}
		t.mu.Unlock()
	}
	return s
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
		name, ok := d.name()
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

// name decodes an attribute name like str, interned.
func (d *flatDecoder) name() (string, bool) {
	raw, ok := d.rawString()
	if !ok {
		return "", false
	}
	if d.local != nil {
		if s, ok := d.local[string(raw)]; ok { // no allocation for the lookup
			return s, true
		}
		s := string(raw)
		if d.names != nil {
			s = d.names.intern(raw)
		}
		d.local[s] = s
		return s, true
	}
	if d.names != nil {
		return d.names.intern(raw), true
	}
	return string(raw), true
}

func (d *flatDecoder) str() (string, bool) {
	raw, ok := d.rawString()
	if !ok {
		return "", false
	}
	return string(raw), true
}

// rawString reads a string without escapes; any escape, control character or
// invalid UTF-8 is left to encoding/json. The bytes alias the body.
func (d *flatDecoder) rawString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start, ascii := d.i, true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// number decodes a JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?),
// checking the grammar first: strconv accepts more (hex, "inf").
func (d *flatDecoder) number() (any, bool) {
	f, ok := d.float()
	if !ok {
		return nil, false
	}
	return f, true
}

// float decodes a JSON number into a float64, without boxing it.
func (d *flatDecoder) float() (float64, bool) {
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
			return 0, false
		}
	} else if digits() == 0 {
		return 0, false
	}
	if d.consume('.') && digits() == 0 {
		return 0, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}
