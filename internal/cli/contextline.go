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

// decodeContext decodes one evaluation context: a JSON object of attributes,
// whose "targetingKey", when present, is a string. Numbers become float64,
// as in every SDK that sends JSON. The error says what is wrong, with the
// column for syntax errors, and never includes the whole line.
//
// The attributes are stored in attrs, which is cleared first, so a caller
// decoding line after line reuses one map (and its keys); the returned
// Context is valid until the next call with the same map.
func decodeContext(line []byte, attrs map[string]any) (eval.Context, error) {
	clear(attrs)
	if !decodeFlatObject(line, attrs) {
		if err := decodeContextSlow(line, attrs); err != nil {
			return eval.Context{}, err
		}
	}
	if tk, ok := attrs[flagmodel.TargetingKey]; ok {
		if _, isString := tk.(string); !isString {
			return eval.Context{}, fmt.Errorf("%s must be a string, not %s", flagmodel.TargetingKey, describeJSONValue(tk))
		}
	}
	return eval.NewContext(attrs), nil
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
