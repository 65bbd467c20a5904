package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzFlatContextMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `{"context":{}}`, `{"context":null}`, ` {"context":{"targetingKey":"u-1","n":-0.5e3,"b":true,"z":null}} `,
		`{"context":{"a":1},"context":{"b":2}}`, `{"context":{"a":1},"context":null,"context":{"b":2}}`, `{"context":{"s":"é"}}`,
		`{"context":{"a":01}}`, `{"context":{"a":1e400}}`, `{"context":{"a":"\u00e9"}}`, `{"Context":{}}`, `{"context":{"a":[1]}}`,
		"{\"context\":{\"a\":\"\xff\"}}", `{"context":{}} x`, `{"context":{"a":1.}}`, `{"context":{"a":-}}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fast := map[string]any{}
		sawContext, ok := decodeFlatContext([]byte(body), fast, &nameTable{names: map[string]string{}})
		if !ok {
			return // encoding/json decides
		}
		var req struct {
			Context map[string]any `json:"context"`
		}
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatalf("%q: the fast path accepted what encoding/json rejects: %v", body, err)
		}
		if !sawContext {
			fast = nil
		}
		if len(fast) != len(req.Context) || (len(fast) > 0 && !reflect.DeepEqual(fast, req.Context)) {
			t.Fatalf("%q: fast %#v, encoding/json %#v", body, fast, req.Context)
		}
	})
}

// TestOFREPContextDecodingAllocations pins the allocations of the common
// request: each string value and its interface box, each boxed number (7
// here); names are interned, and nothing is copied in between.
func TestOFREPContextDecodingAllocations(t *testing.T) {
	body := []byte(`{"context":{"targetingKey":"user-12345","country":"NL","plan":"pro","age":42}}`)
	m := map[string]any{}
	names := &nameTable{names: map[string]string{}}
	allocs := testing.AllocsPerRun(100, func() {
		clear(m)
		if _, ok := decodeFlatContext(body, m, names); !ok {
			t.Fatal("not decoded")
		}
	})
	if allocs > 7 {
		t.Errorf("%.0f allocations", allocs)
	}
}
