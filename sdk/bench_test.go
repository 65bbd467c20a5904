package sdk_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/sdk"
)

// The four flag shapes of eval/bench_test.go, so that the SDK's figures
// compare with the evaluation core's: the SDK adds one atomic load and the
// type check.

func benchFlags() string {
	var b strings.Builder
	b.WriteString("environments: [{key: production}]\nsegments:\n  - key: big\n    included: [")
	for i := 0; i < 10000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "member-%d", i)
	}
	b.WriteString(`]
flags:
  - key: simple
    type: boolean
    variants: {on: true, off: false}
    environments:
      production: {enabled: true, default: {variant: on}}
  - key: country
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        rules:
          - id: countries
            when: [{attribute: country, op: in, values: [US, CA, GB, FR, DE, ES, IT, NL, BE, SE]}]
            serve: {variant: on}
        default: {variant: off}
  - key: split
    type: boolean
    variants: {on: true, off: false}
    environments:
      production:
        enabled: true
        default: {split: {on: 50, off: 50}}
  - key: complex
    type: string
    variants: {a: "A", b: "B"}
    environments:
      production:
        enabled: true
        rules:
`)
	for i := 0; i < 19; i++ {
		fmt.Fprintf(&b, `          - when:
              - {attribute: email, op: matches, values: ["^user-%d@corp\\.example$"]}
              - {attribute: version, op: semverGte, values: ["%d.0.0"]}
              - {attribute: age, op: gt, values: [%d]}
            serve: {variant: a}
`, i, i+1, i)
	}
	b.WriteString(`          - id: last
            when:
              - {attribute: email, op: matches, values: ["@example\\.com$"]}
              - {attribute: version, op: semverGte, values: ["2.1.0"]}
              - {op: inSegment, values: [big]}
            serve: {variant: b}
        default: {variant: a}
`)
	return b.String()
}

func benchClient(tb testing.TB) *sdk.Client {
	tb.Helper()
	return newClient(tb, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(benchFlags())))
}

func keyPool(n int) []eval.Context {
	pool := make([]eval.Context, n)
	for i := range pool {
		pool[i] = eval.Context{TargetingKey: "user-" + strconv.Itoa(i)}
	}
	return pool
}

var (
	ctxSimple  = &eval.Context{TargetingKey: "user-1"}
	ctxCountry = &eval.Context{TargetingKey: "user-1", Attributes: map[string]any{"country": "NL"}}
	ctxComplex = &eval.Context{TargetingKey: "member-9999", Attributes: map[string]any{
		"email": "jane@example.com", "version": "2.3.1", "age": 17.0,
	}}
	boolSink   sdk.Details[bool]
	stringSink sdk.Details[string]
)

func BenchmarkBoolDetails(b *testing.B) {
	c := benchClient(b)
	b.Run("a_boolean_no_rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = c.BoolDetails("simple", ctxSimple, false)
		}
	})
	b.Run("b_in_10_values_7th", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			boolSink = c.BoolDetails("country", ctxCountry, false)
		}
	})
	b.Run("c_split_50_50", func(b *testing.B) {
		pool := keyPool(100000)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			boolSink = c.BoolDetails("split", &pool[i], false)
			i++
			if i == len(pool) {
				i = 0
			}
		}
	})
	b.Run("d_20_rules_segment_10k", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			stringSink = c.StringDetails("complex", ctxComplex, "")
		}
	})
}

func BenchmarkBoolParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ok := true
		for pb.Next() {
			ok = ok && c.Bool("country", ctxCountry, false)
		}
		if !ok {
			b.Error("country is off")
		}
	})
}

func TestTheBenchmarkShapesServeTheExpectedVariantsThroughTheClient(t *testing.T) {
	c := benchClient(t)
	if d := c.BoolDetails("simple", ctxSimple, false); d.Variant != "on" || d.Reason != eval.ReasonStatic {
		t.Errorf("simple: %+v", d)
	}
	if d := c.BoolDetails("country", ctxCountry, false); d.Variant != "on" || d.Reason != eval.ReasonTargetingMatch {
		t.Errorf("country: %+v", d)
	}
	if d := c.BoolDetails("split", ctxSimple, false); d.Reason != eval.ReasonSplit {
		t.Errorf("split: %+v", d)
	}
	if d := c.StringDetails("complex", ctxComplex, ""); d.Variant != "b" || d.RuleID != "last" {
		t.Errorf("complex: %+v", d)
	}
}

func TestTypedEvaluationOfTheBenchmarkShapesDoesNotAllocate(t *testing.T) {
	c := benchClient(t)
	pool := keyPool(1000)
	i := 0
	cases := map[string]func(){
		"boolean no rules": func() { boolSink = c.BoolDetails("simple", ctxSimple, false) },
		"in list":          func() { boolSink = c.BoolDetails("country", ctxCountry, false) },
		"split": func() {
			boolSink = c.BoolDetails("split", &pool[i%len(pool)], false)
			i++
		},
		"20 rules with regex, semver, numbers and a segment": func() { stringSink = c.StringDetails("complex", ctxComplex, "") },
		"missing flag":  func() { boolSink = c.BoolDetails("nope", ctxSimple, false) },
		"type mismatch": func() { stringSink = c.StringDetails("simple", ctxSimple, "") },
	}
	for name, fn := range cases {
		if allocs := testing.AllocsPerRun(1000, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per evaluation, want 0", name, allocs)
		}
	}
	typed := newClient(t, "", sdk.WithOffline(), sdk.WithBootstrap([]byte(typedFlags)))
	if allocs := testing.AllocsPerRun(1000, func() {
		_ = typed.Number("discount", ctxSimple, 1)
		_ = typed.Object("limits", ctxSimple, nil)
	}); allocs != 0 {
		t.Errorf("number and object values: %v allocations, want 0", allocs)
	}
	var notReady *sdk.Client
	if allocs := testing.AllocsPerRun(100, func() { boolSink = notReady.BoolDetails("simple", ctxSimple, false) }); allocs != 0 {
		t.Errorf("before a snapshot: %v allocations", allocs)
	}
}
