package cli

import (
	"strconv"
	"unicode/utf8"
)

// decodeFlatObject is the fast path of context decoding. Most contexts are a
// flat object of strings, numbers and booleans, and encoding/json spends
// most of the eval command's time on them (reflection, a validation pass
// before the decoding pass). decodeFlatObject parses exactly that subset —
// an object whose keys and string values hold no escape sequence and whose
// values are strings, numbers, true, false or null — into attrs, and
// reports false for anything else (arrays, nested objects, escapes, any
// syntax error). The caller then clears attrs and lets encoding/json give
// the full answer or the precise error, so the fast path never has to
// produce an error message and can never accept what encoding/json rejects:
// FuzzEvalContextLine checks both decoders agree.
//
// keys interns attribute names: a name seen before is looked up (which does
// not allocate) instead of being converted to a new string for the map.
func decodeFlatObject(line []byte, attrs map[string]any, keys map[string]string) bool {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return skipSpace(line, i+1) == len(line)
	}
	for {
		key, next, ok := scanPlainString(line, i)
		if !ok {
			return false
		}
		i = skipSpace(line, next)
		if i >= len(line) || line[i] != ':' {
			return false
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return false
		}
		var value any
		switch c := line[i]; {
		case c == '"':
			s, next, ok := scanPlainString(line, i)
			if !ok {
				return false
			}
			value, i = string(s), next
		case c == 't' && hasPrefixAt(line, i, "true"):
			value, i = true, i+4
		case c == 'f' && hasPrefixAt(line, i, "false"):
			value, i = false, i+5
		case c == 'n' && hasPrefixAt(line, i, "null"):
			value, i = nil, i+4
		case c == '-' || (c >= '0' && c <= '9'):
			end, ok := scanNumber(line, i)
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(line[i:end]), 64)
			if err != nil {
				return false // out of range: encoding/json words the error
			}
			value, i = f, end
		default:
			return false
		}
		name, known := keys[string(key)]
		if !known {
			name = string(key)
			if len(keys) < maxInternedKeys {
				keys[name] = name
			}
		}
		attrs[name] = value
		i = skipSpace(line, i)
		if i >= len(line) {
			return false
		}
		switch line[i] {
		case ',':
			i = skipSpace(line, i+1)
		case '}':
			return skipSpace(line, i+1) == len(line)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasPrefixAt(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}

// scanPlainString reads the JSON string starting at b[i] == '"' and returns
// its contents and the index after the closing quote. It accepts only
// strings without escapes or control characters, in valid UTF-8.
func scanPlainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false // encoding/json replaces invalid bytes
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// scanNumber returns the end of the JSON number starting at b[i], following
// the JSON grammar exactly: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (end int, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
