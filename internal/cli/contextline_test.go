package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/jsonappend"
)

func TestDecodeContext(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    map[string]any
		wantKey string
		wantErr string
	}{
		{name: "a flat object takes the fast path", line: `{"targetingKey":"u-1","age":42,"beta":true,"gone":null,"ratio":-1.5e-3}`,
			want: map[string]any{"targetingKey": "u-1", "age": 42.0, "beta": true, "gone": nil, "ratio": -0.0015}, wantKey: "u-1"},
		{name: "lists and nested objects are decoded by encoding/json", line: `{"groups":["a","b"],"meta":{"x":1}}`,
			want: map[string]any{"groups": []any{"a", "b"}, "meta": map[string]any{"x": 1.0}}},
		{name: "escaped strings are unescaped", line: `{"targetingKey":"a\"b\u00e9"}`,
			want: map[string]any{"targetingKey": "a\"bé"}, wantKey: "a\"bé"},
		{name: "whitespace around the object is allowed", line: " \t{ \"a\" : 1 } \r",
			want: map[string]any{"a": 1.0}},
		{name: "an empty object is an empty context", line: `{}`, want: map[string]any{}},
		{name: "the last of duplicate keys wins", line: `{"a":1,"a":2}`, want: map[string]any{"a": 2.0}},
		{name: "an array is not a context", line: `[1]`, wantErr: "a context must be a JSON object, not an array"},
		{name: "null is not a context", line: `null`, wantErr: "a context must be a JSON object, not null"},
		{name: "a string is not a context", line: `"u-1"`, wantErr: "a context must be a JSON object, not a string"},
		{name: "a number is not a context", line: `12`, wantErr: "a context must be a JSON object, not a number"},
		{name: "a syntax error gives its column", line: `{"a":01}`, wantErr: "column 7: invalid character '1' after object key:value pair"},
		{name: "trailing data is a syntax error", line: `{"a":1} {}`, wantErr: "column 9: invalid character '{' after top-level value"},
		{name: "a truncated object is a syntax error", line: `{"a":`, wantErr: "unexpected end of JSON input"},
		{name: "a number out of range is refused", line: `{"a":1e400}`, wantErr: "cannot unmarshal number 1e400"},
		{name: "a numeric targeting key is refused", line: `{"targetingKey":7}`, wantErr: "targetingKey must be a string, not a number"},
		{name: "a null targeting key is refused", line: `{"targetingKey":null}`, wantErr: "targetingKey must be a string, not null"},
		{name: "a list targeting key is refused", line: `{"targetingKey":["a"]}`, wantErr: "targetingKey must be a string, not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := newContextDecoder()
			dec.attrs["stale"] = "from the previous line"
			ctx, err := dec.decode([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ctx.Attributes, tt.want) {
				t.Errorf("attributes %#v, want %#v", ctx.Attributes, tt.want)
			}
			if ctx.TargetingKey != tt.wantKey {
				t.Errorf("targeting key %q, want %q", ctx.TargetingKey, tt.wantKey)
			}
		})
	}
}

func TestDecodeContextReusesTheMapWithoutAllocatingKeys(t *testing.T) {
	line := []byte(`{"targetingKey":"u-1","country":"FR","age":30,"beta":true}`)
	dec := newContextDecoder()
	if _, err := dec.decode(line); err != nil {
		t.Fatal(err)
	}
	// Two string values, each copied and boxed, and one boxed float: the
	// keys and the map itself are reused.
	allocs := testing.AllocsPerRun(100, func() { _, _ = dec.decode(line) })
	if allocs > 5 {
		t.Errorf("%v allocations per line, want at most 5", allocs)
	}
}

// FuzzEvalContextLine feeds arbitrary bytes to the context decoder: it never
// panics, and the fast path accepts a line only when encoding/json decodes
// it to the same attributes.
func FuzzEvalContextLine(f *testing.F) {
	for _, seed := range []string{
		`{"targetingKey":"u-1","age":42,"beta":true,"gone":null}`,
		`{"a":-0.5e+10,"b":"é","c":[1,"x"],"d":{"e":null}}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e400}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
		`{"targetingKey":7}`, `[]`, `null`, ``, ` `, `{`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":tru}`, `{"a":true}x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, _ = newContextDecoder().decode(line)

		fast := map[string]any{}
		if !decodeFlatObject(line, fast, map[string]string{}) {
			return
		}
		var slow map[string]any
		if err := json.Unmarshal(line, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", line, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path decoded %q as %#v, encoding/json as %#v", line, fast, slow)
		}
	})
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "new\nline\ttab\r\b\f", "\x00\x01\x1f\x7f",
		"<b>&amp;</b>", "é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80 surrogate"}
	for _, s := range strs {
		if got, want := string(jsonappend.String(nil, s)), marshalNoHTML(t, s); got != want {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
	floats := []float64{0, 1, -1, 0.5, 1000.5, 1e20, 1e21, 1.5e21, 1e-6, 9.99e-7, 1e-9, -2.5e-10, 123456789, math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, f := range floats {
		got, ok := jsonappend.Float(nil, f)
		if want := marshalNoHTML(t, f); !ok || string(got) != want {
			t.Errorf("Float(%v) = %s, want %s", f, got, want)
		}
	}
	if _, ok := jsonappend.Float(nil, math.NaN()); ok {
		t.Error("NaN was accepted")
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("\x00\xff\u2028\"\\")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(jsonappend.String(nil, s)), marshalNoHTML(t, s); got != want {
			t.Fatalf("String(%q) = %s, want %s", s, got, want)
		}
	})
}

func marshalNoHTML(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
