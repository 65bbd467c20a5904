package eval_test

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/weirhq/weir/eval"
)

// Unit is the one reading of a unit attribute: the SDK's exposure events
// use it, so the unit they name must be the text the split hashed.
func TestUnitReadsTheAttributeAsSplitsBucketByIt(t *testing.T) {
	cases := []struct {
		name   string
		value  any
		text   string
		number int64
		ok     bool
	}{
		{"a string is its own text", "acct-7", "acct-7", 0, true},
		{"an empty string is no unit", "", "", 0, false},
		{"an int is a whole number", 42, "", 42, true},
		{"an int8 is a whole number", int8(-3), "", -3, true},
		{"a uint64 within int64 is a whole number", uint64(7), "", 7, true},
		{"a uint64 beyond int64 is no unit", uint64(math.MaxUint64), "", 0, false},
		{"a whole float64 is a whole number", 1234.0, "", 1234, true},
		{"a fraction is no unit", 12.5, "", 0, false},
		{"a float beyond 2^53 is no unit", 1e17, "", 0, false},
		{"a json.Number integer is a whole number", json.Number("9007199254740993"), "", 9007199254740993, true},
		{"a json.Number fraction is no unit", json.Number("1.5"), "", 0, false},
		{"a boolean is no unit", true, "", 0, false},
		{"a list is no unit", []any{"a"}, "", 0, false},
		{"nil is no unit", nil, "", 0, false},
	}
	s := mustPrepare(t, `
flags:
  - key: by-account
    type: string
    variants: {a: A, b: B, c: C, d: D}
    environments:
      production: {enabled: true, default: {split: {a: 25, b: 25, c: 25, d: 25}, bucketBy: account, experiment: exp-1}}
`, "production")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := eval.Context{Attributes: map[string]any{"account": tc.value}}
			text, number, ok := ctx.Unit("account")
			if text != tc.text || number != tc.number || ok != tc.ok {
				t.Fatalf("Unit = %q, %d, %v; want %q, %d, %v", text, number, ok, tc.text, tc.number, tc.ok)
			}
			r := s.Evaluate("by-account", &ctx)
			if !ok {
				if r.ErrorCode != eval.ErrorTargetingKeyMissing {
					t.Errorf("the split served %+v for a value that is no unit", r)
				}
				return
			}
			canonical := text
			if canonical == "" {
				canonical = strconv.FormatInt(number, 10)
			}
			same := eval.Context{Attributes: map[string]any{"account": canonical}}
			if want := s.Evaluate("by-account", &same); r.Variant != want.Variant || r.Allocation == nil {
				t.Errorf("the split served %q for %v and %q for its text %q", r.Variant, tc.value, want.Variant, canonical)
			}
		})
	}
}

func TestUnitOfTheTargetingKeyIsTheContextsKey(t *testing.T) {
	ctx := eval.Context{TargetingKey: "user-1", Attributes: map[string]any{"targetingKey": "other"}}
	if text, _, ok := ctx.Unit("targetingKey"); text != "user-1" || !ok {
		t.Errorf("Unit(targetingKey) = %q, %v; want the context's TargetingKey", text, ok)
	}
	var none *eval.Context
	if _, _, ok := none.Unit("targetingKey"); ok {
		t.Error("a nil context has a unit")
	}
	if _, _, ok := (&eval.Context{}).Unit("targetingKey"); ok {
		t.Error("an empty targeting key is a unit")
	}
}

func TestUnitDoesNotAllocate(t *testing.T) {
	ctx := eval.Context{TargetingKey: "user-1", Attributes: map[string]any{"n": 12345, "s": "acct"}}
	if allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = ctx.Unit("targetingKey")
		_, _, _ = ctx.Unit("n")
		_, _, _ = ctx.Unit("s")
	}); allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
