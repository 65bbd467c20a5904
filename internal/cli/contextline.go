package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// maxContextLine bounds one line of a contexts file. A context is a flat
// attribute map; a megabyte leaves room for long lists while keeping a
// malformed file (say, one without newlines) from filling memory.
const maxContextLine = 1 << 20

// maxInternedKeys bounds the attribute names a contextDecoder remembers, so
// a file whose every line has new names cannot grow it without end.
const maxInternedKeys = 1024

// contextDecoder decodes evaluation contexts one line after another. It
// reuses one attribute map and the attribute-name strings of earlier lines,
// so a line of known names costs only its values' allocations. The Context
// it returns is valid until the next call to decode.
type contextDecoder struct {
	attrs map[string]any
	keys  map[string]string
}

func newContextDecoder() *contextDecoder {
	return &contextDecoder{attrs: map[string]any{}, keys: map[string]string{}}
}

// decode decodes one evaluation context: a JSON object of attributes, whose
// "targetingKey", when present, is a string. Numbers become float64, as in
// every SDK that sends JSON. The error says what is wrong, with the column
// for syntax errors, and never includes the whole line.
func (d *contextDecoder) decode(line []byte) (eval.Context, error) {
	clear(d.attrs)
	if !decodeFlatObject(line, d.attrs, d.keys) {
		if err := decodeContextSlow(line, d.attrs); err != nil {
			return eval.Context{}, err
		}
	}
	if tk, ok := d.attrs[flagmodel.TargetingKey]; ok {
		if _, isString := tk.(string); !isString {
			return eval.Context{}, fmt.Errorf("%s must be a string, not %s", flagmodel.TargetingKey, describeJSONValue(tk))
		}
	}
	return eval.NewContext(d.attrs), nil
}

// decodeContextSlow decodes any JSON object with encoding/json, and words
// what is wrong with anything else.
func decodeContextSlow(line []byte, attrs map[string]any) error {
	clear(attrs) // the fast path may have stored a few attributes
	trimmed := bytes.TrimLeft(line, " \t\r\n")
	if len(trimmed) == 0 {
		return errors.New("empty context: want a JSON object")
	}
	if kind := describeJSONStart(trimmed[0]); kind != "" {
		return fmt.Errorf("a context must be a JSON object, not %s", kind)
	}
	if err := json.Unmarshal(line, &attrs); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("column %d: %s", se.Offset, se.Error())
		}
		return err
	}
	return nil
}

func describeJSONStart(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return ""
}

func describeJSONValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
